// A checkpoint (safetensors, one file or shards, or a GGUF file) opened by its headers only, and the
// tensors the engine needs from it, named by the engine's keys and checked against config.json. Tensor
// bytes are read later, by range, a block of rows at a time (src/quant/pack-checkpoint.ts,
// src/model/weights.ts).

import { MissingFileError, ModelFormatError } from '../errors';
import type { ModelFileSource } from './file-source';
import { readText } from './file-source';
import type { ModelSpec } from './model-spec';
import { FUSED_TENSORS, GLOBAL_TENSORS, hfLayerPrefix, hfNameIn, LAYER_TENSORS, layerKey, textModelName, type LayerMatrix, type TensorDef } from './tensors';
import { parseSafetensorsHeader, parseShardIndex, safetensorsHeaderLength } from './safetensors';
import { decodeRows, rowBytes, type TensorEncoding } from './tensor-encoding';

const SINGLE_FILE = 'model.safetensors';
const SHARD_INDEX = 'model.safetensors.index.json';
/** First read of a file: enough for the header of every real checkpoint (Llama-3-8B's is ~25 KiB). */
const HEADER_PROBE = 64 * 1024;

export interface CheckpointTensor {
  name: string;
  file: string;
  dtype: TensorEncoding;
  /** Hugging Face order: [out, in] for a matrix. */
  shape: number[];
  /** Absolute byte range in its file. */
  begin: number;
  end: number;
  /**
   * Head width, when the rows are stored in llama.cpp's interleaved RoPE order (GGUF llama q/k): row
   * 2i + s of a head is Hugging Face's row s * headDim / 2 + i. Read in whole heads and put back.
   */
  ropeInterleaved?: number;
  /** The tensor's name in its file when that is not the Hugging Face name (GGUF's blk.0.attn_q.weight). */
  stored?: string;
  /** A norm weight stored as 1 + w already (llama.cpp's Gemma files): the loader adds no normOffset. */
  offsetStored?: boolean;
}

export interface Checkpoint {
  source: ModelFileSource;
  /** Files in the order their tensors are read. */
  files: string[];
  tensors: Map<string, CheckpointTensor>;
}

/**
 * A source that is one model file listing its own tensors (a GGUF file seen as a folder, src/model/gguf-model.ts)
 * rather than a folder of safetensors: it opens its checkpoint itself, and errors name the source.
 */
export interface SingleFileModel extends ModelFileSource {
  checkpoint(): Promise<Checkpoint>;
}

export function isSingleFileModel(source: ModelFileSource): source is SingleFileModel {
  return typeof (source as Partial<SingleFileModel>).checkpoint === 'function';
}

export async function openCheckpoint(source: ModelFileSource): Promise<Checkpoint> {
  if (isSingleFileModel(source)) return source.checkpoint();
  let files: string[];
  // The single file first: most models a page loads have one, and a probe for an index they lack would be a
  // failed request in the page's console.
  if (await source.has(SINGLE_FILE)) {
    files = [SINGLE_FILE];
  } else if (await source.has(SHARD_INDEX)) {
    const index = parseShardIndex(await readText(source, SHARD_INDEX), `${source.name}/${SHARD_INDEX}`);
    files = [...new Set(index.values())];
  } else {
    throw new MissingFileError(`${source.name}/${SINGLE_FILE}`, `neither ${SINGLE_FILE} nor ${SHARD_INDEX} found`);
  }
  const tensors = new Map<string, CheckpointTensor>();
  for (const file of files) {
    const where = `${source.name}/${file}`;
    const size = await source.size(file);
    let start = await source.readRange(file, 0, Math.min(size, HEADER_PROBE));
    const need = 8 + safetensorsHeaderLength(start, size, where);
    if (need > start.byteLength) {
      const all = new Uint8Array(need);
      all.set(start);
      all.set(await source.readRange(file, start.byteLength, need), start.byteLength);
      start = all;
    }
    const header = parseSafetensorsHeader(start, size, where);
    for (const [stored, e] of header.tensors) {
      const name = textModelName(stored);
      if (tensors.has(name)) throw new ModelFormatError('two tensors of one name', { file: where, field: stored, got: `${name} twice` });
      tensors.set(name, {
        name,
        ...(name !== stored ? { stored } : {}),
        file,
        dtype: e.dtype,
        shape: e.shape,
        begin: header.dataOffset + e.begin,
        end: header.dataOffset + e.end,
      });
    }
  }
  return { source, files, tensors };
}

export interface ModelTensor {
  key: string;
  kind: 'matrix' | 'vector';
  /** [rows, cols] for a matrix (Hugging Face [out, in]); [n, 1] for a vector. */
  rows: number;
  cols: number;
  tensor: CheckpointTensor;
  /**
   * Rows read per head in another order: the engine's row r of a head is the stored row headRows[r] (llama.cpp's
   * interleaved q/k put back, partial-rotary dims moved apart; see headRowOrder). Absent: rows as stored.
   */
  headRows?: Int32Array;
  /** The fused tensor these rows are a run of (Phi-3's qkv_proj), when the checkpoint stores it so. */
  fusedIn?: string;
  /** Values read as (stored + add) × mul: Gemma's norm weights w become 1 + w, its q_norm takes the softmax scale. */
  affine?: { add: number; mul: number };
}

/** A tensor the engine loads: its key, its Hugging Face name and shape; `tiedAlias` is the other name tied embeddings may use. */
export interface TensorSlot {
  key: string;
  name: string;
  shape: number[];
  required: boolean;
  tiedAlias?: string;
  /** The fused tensor a checkpoint may hold this one in: its name, this one's first row there and its total rows. */
  fused?: { name: string; row0: number; rows: number };
  /** A q/k tensor whose rows RoPE turns per head (reordered when the rotary part is partial). */
  rotary?: boolean;
}

/** The tensors of a model with this spec, from the tensor table (src/model/tensors.ts). */
export function tensorSlots(spec: ModelSpec): TensorSlot[] {
  const out: TensorSlot[] = [];
  const slot = (key: string, name: string, t: TensorDef, tiedAlias?: string, extra: Partial<TensorSlot> = {}) => {
    const present = t.present?.(spec) ?? true;
    out.push({ key, name, shape: t.shape(spec), required: present, ...(tiedAlias ? { tiedAlias } : {}), ...extra });
  };
  const fusedOf = (layer: number, key: string): TensorSlot['fused'] => {
    const f = FUSED_TENSORS.find((x) => (x.parts as readonly string[]).includes(key));
    if (!f) return undefined;
    const rows = f.parts.map((p) => LAYER_TENSORS.find((t) => t.key === p)!.shape(spec)[0]);
    const at = f.parts.indexOf(key as LayerMatrix);
    return { name: hfLayerPrefix(layer) + f.hf, row0: rows.slice(0, at).reduce((a, b) => a + b, 0), rows: rows.reduce((a, b) => a + b, 0) };
  };
  const global = (key: string) => GLOBAL_TENSORS.find((t) => t.key === key)!;
  // Tied embeddings: whichever of embed_tokens / lm_head the file stores becomes `embed`.
  slot('embed', global('embed').hf, global('embed'), spec.tieWordEmbeddings ? global('lm_head').hf : undefined);
  if (!spec.tieWordEmbeddings) slot('lm_head', global('lm_head').hf, global('lm_head'));
  for (let i = 0; i < spec.numLayers; i++) {
    for (const t of LAYER_TENSORS) {
      if (t.strict && !(t.present?.(spec) ?? true)) continue;
      const fused = fusedOf(i, t.key);
      slot(layerKey(i, t.key), hfLayerPrefix(i) + hfNameIn(spec, t), t, undefined, {
        ...(fused ? { fused } : {}),
        ...(ROTARY.has(t.key) ? { rotary: true } : {}),
      });
    }
  }
  slot('final_norm', global('final_norm').hf, global('final_norm'));
  return out;
}

/**
 * Every tensor the engine loads, shapes checked against the spec, in file order (so a server that ignores
 * Range requests is read in one pass). Tied embeddings: whichever of embed_tokens / lm_head is stored
 * becomes `embed` (tinystories-656k keeps only lm_head.weight), and there is no `lm_head`.
 */
export function modelTensors(spec: ModelSpec, cp: Checkpoint): ModelTensor[] {
  const files = cp.files.map((f) => where(cp, f)).join(', ');
  const out: ModelTensor[] = [];
  for (const slot of tensorSlots(spec)) {
    const t = cp.tensors.get(slot.name) ?? (slot.tiedAlias ? cp.tensors.get(slot.tiedAlias) : undefined) ?? fusedPart(cp, slot);
    const { shape } = slot;
    if (!t) {
      if (slot.required) throw new ModelFormatError('missing tensor', { file: files, field: slot.name, expected: `shape [${shape.join(', ')}]` });
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new ModelFormatError('shape disagrees with config.json', {
        file: where(cp, t.file),
        field: t.stored ?? t.name,
        expected: `[${shape.join(', ')}]`,
        got: `[${t.shape.join(', ')}]`,
      });
    }
    const headRows = slot.rotary ? headRowOrder(spec.headDim, spec.rotaryDim, t.ropeInterleaved !== undefined) : null;
    const affine = normAffine(spec, slot.key, t);
    out.push({
      key: slot.key,
      kind: shape.length === 2 ? 'matrix' : 'vector',
      rows: shape[0],
      cols: shape[1] ?? 1,
      tensor: t,
      ...(headRows ? { headRows } : {}),
      ...(affine ? { affine } : {}),
      ...(t.name !== slot.name && slot.fused ? { fusedIn: slot.fused.name } : {}),
    });
  }
  const fileIndex = new Map(cp.files.map((f, i) => [f, i]));
  return out.sort((a, b) => fileIndex.get(a.tensor.file)! - fileIndex.get(b.tensor.file)! || a.tensor.begin - b.tensor.begin);
}

/** Rows [row0, row0 + rows) of a fused tensor (Phi-3's qkv_proj) as the slot's own tensor, when the checkpoint stores it so. */
function fusedPart(cp: Checkpoint, slot: TensorSlot): CheckpointTensor | undefined {
  const f = slot.fused && cp.tensors.get(slot.fused.name);
  if (!f || !slot.fused) return undefined;
  const cols = slot.shape[1];
  if (f.shape.length !== 2 || f.shape[0] !== slot.fused.rows || f.shape[1] !== cols) {
    throw new ModelFormatError('shape disagrees with config.json', {
      file: where(cp, f.file),
      field: f.stored ?? f.name,
      expected: `[${slot.fused.rows}, ${cols}]`,
      got: `[${f.shape.join(', ')}]`,
    });
  }
  const width = rowBytes(f.dtype, cols);
  const begin = f.begin + slot.fused.row0 * width;
  return { ...f, shape: slot.shape, begin, end: begin + slot.shape[0] * width };
}

/**
 * Gemma's norm weights as the engine multiplies them: 1 + w (unless the file stores that already), and q_norm times
 * √(headDim / query_pre_attn_scalar), so attention's 1/√headDim scale becomes Gemma's 1/√query_pre_attn_scalar.
 */
function normAffine(spec: ModelSpec, key: string, t: CheckpointTensor): ModelTensor['affine'] | null {
  if (!/(^final_norm|Norm)$/.test(key)) return null;
  const add = t.offsetStored ? 0 : spec.normOffset;
  const mul = key.endsWith('.qNorm') && spec.queryPreAttnScalar !== null ? Math.sqrt(spec.headDim / spec.queryPreAttnScalar) : 1;
  return add === 0 && mul === 1 ? null : { add, mul };
}

/** q/k tensors: their rows are head by head in RoPE's layout. */
const ROTARY = new Set(['wq', 'wk', 'bq', 'bk', 'qNorm', 'kNorm']);

/**
 * The engine's row order within a q/k head, as stored rows: null when it is the stored order.
 * - `interleaved` (llama.cpp's llama q/k): stored row 2i + s holds rotate-half row s · head/2 + i.
 * - Partial rotary (rotaryDim < headDim, Phi-4-mini): transformers turns pairs (i, i + rotaryDim/2) of the first
 *   rotaryDim dims and passes the rest. The engine rotates pairs (i, i + headDim/2), so the turned halves go to rows
 *   [0, r/2) and [h/2, h/2 + r/2) and the passed dims fill the rest, where the RoPE table has frequency 0
 *   (src/reference/rope.ts). q and k are reordered alike, so q·k is unchanged.
 */
export function headRowOrder(headDim: number, rotaryDim: number, interleaved: boolean): Int32Array | null {
  if (!interleaved && rotaryDim === headDim) return null;
  const half = headDim / 2;
  const r2 = rotaryDim / 2;
  const pass2 = half - r2;
  const order = new Int32Array(headDim);
  for (let i = 0; i < half; i++) {
    order[i] = i < r2 ? i : rotaryDim + (i - r2);
    order[half + i] = i < r2 ? r2 + i : rotaryDim + pass2 + (i - r2);
  }
  // Interleaved files store rotate-half row s · head/2 + i at 2i + s.
  return interleaved ? order.map((r) => 2 * (r % half) + Math.floor(r / half)) : order;
}

/** A checkpoint file's name in errors (a GGUF model's source is named by its file already). */
function where(cp: Checkpoint, file: string): string {
  return isSingleFileModel(cp.source) ? cp.source.name : `${cp.source.name}/${file}`;
}

/** f32 elements per block when a tensor is read and converted (16 MiB of f32): bounds the load's peak. */
export const BLOCK_FLOATS = 4 * 2 ** 20;

/** Rows per block for a tensor: about `blockFloats` values, whole heads when its rows are interleaved. */
export function rowsPerBlock(t: ModelTensor, blockFloats = BLOCK_FLOATS): number {
  const rows = Math.max(1, Math.floor(blockFloats / t.cols));
  const head = t.headRows?.length;
  return head ? Math.max(head, rows - (rows % head)) : rows;
}

/** Rows [row0, row0 + rows) of a tensor as stored bytes (one range read), in the engine's row order (headRows). */
export async function readRowBytes(source: ModelFileSource, t: ModelTensor, row0: number, rows: number): Promise<Uint8Array<ArrayBuffer>> {
  const width = rowBytes(t.tensor.dtype, t.cols);
  const begin = t.tensor.begin + row0 * width;
  const bytes = await source.readRange(t.tensor.file, begin, begin + rows * width);
  return t.headRows ? reorderRows(bytes, width, rows, t.headRows) : bytes;
}

/** Rows [row0, row0 + rows) of a tensor as f32 (an affine tensor's values transformed). */
export async function readRows(source: ModelFileSource, t: ModelTensor, row0: number, rows: number): Promise<Float32Array> {
  const out = new Float32Array(rows * t.cols);
  decodeRows(t.tensor.dtype, await readRowBytes(source, t, row0, rows), out);
  if (t.affine) for (let i = 0; i < out.length; i++) out[i] = (out[i] + t.affine.add) * t.affine.mul;
  return out;
}

/** Whole heads of rows put in the engine's order: row r of each head from stored row order[r]. */
function reorderRows(bytes: Uint8Array<ArrayBuffer>, width: number, rows: number, order: Int32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  const head = order.length;
  for (let h0 = 0; h0 < rows; h0 += head) {
    for (let r = 0; r < head; r++) out.set(bytes.subarray((h0 + order[r]) * width, (h0 + order[r] + 1) * width), (h0 + r) * width);
  }
  return out;
}
