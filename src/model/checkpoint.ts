// A safetensors checkpoint (one file or shards) opened by its headers only, and the tensors the engine
// needs from it, named by the engine's keys and checked against config.json. Tensor bytes are read later,
// by range, a block of rows at a time (src/quant/pack-checkpoint.ts, src/model/weights.ts).

import { MissingFileError, ModelFormatError } from '../errors';
import type { ModelFileSource } from './file-source';
import { readText } from './file-source';
import { kvDim, type ModelSpec } from './model-spec';
import { decodeToF32, dtypeBytes, parseSafetensorsHeader, parseShardIndex, safetensorsHeaderLength, type DType } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';
/** First read of a file: enough for the header of every real checkpoint (Llama-3-8B's is ~25 KiB). */
const HEADER_PROBE = 64 * 1024;

export interface CheckpointTensor {
  name: string;
  file: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte range in its file. */
  begin: number;
  end: number;
}

export interface Checkpoint {
  source: ModelFileSource;
  /** Files in the order their tensors are read. */
  files: string[];
  tensors: Map<string, CheckpointTensor>;
}

export async function openCheckpoint(source: ModelFileSource): Promise<Checkpoint> {
  let files: string[];
  if (await source.has(SHARD_INDEX)) {
    const index = parseShardIndex(await readText(source, SHARD_INDEX), `${source.name}/${SHARD_INDEX}`);
    files = [...new Set(index.values())];
  } else if (await source.has(SINGLE_FILE)) {
    files = [SINGLE_FILE];
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
    for (const [name, e] of header.tensors) {
      tensors.set(name, { name, file, dtype: e.dtype, shape: e.shape, begin: header.dataOffset + e.begin, end: header.dataOffset + e.end });
    }
  }
  return { source, files, tensors };
}

/** The engine's names for a model's tensors: `embed`, `lm_head`, `final_norm`, `l{i}.{wq|…|mlpNorm}`. */
export const LAYER_MATRICES = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const;
export const LAYER_VECTORS = ['attnNorm', 'bq', 'bk', 'bv', 'mlpNorm'] as const;
export type LayerMatrix = (typeof LAYER_MATRICES)[number];
export type LayerVector = (typeof LAYER_VECTORS)[number];

export interface ModelTensor {
  key: string;
  kind: 'matrix' | 'vector';
  /** [rows, cols] for a matrix (Hugging Face [out, in]); [n, 1] for a vector. */
  rows: number;
  cols: number;
  tensor: CheckpointTensor;
}

/**
 * Every tensor the engine loads, shapes checked against the spec, in file order (so a server that ignores
 * Range requests is read in one pass). Tied embeddings: whichever of embed_tokens / lm_head is stored
 * becomes `embed`, and there is no `lm_head`.
 */
export function modelTensors(spec: ModelSpec, cp: Checkpoint): ModelTensor[] {
  const files = cp.files.map((f) => `${cp.source.name}/${f}`).join(', ');
  const out: ModelTensor[] = [];
  const add = (key: string, name: string, shape: number[], required: boolean): boolean => {
    const t = cp.tensors.get(name);
    if (!t) {
      if (required) throw new ModelFormatError('missing tensor', { file: files, field: name, expected: `shape [${shape.join(', ')}]` });
      return false;
    }
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new ModelFormatError('shape disagrees with config.json', {
        file: `${cp.source.name}/${t.file}`,
        field: name,
        expected: `[${shape.join(', ')}]`,
        got: `[${t.shape.join(', ')}]`,
      });
    }
    out.push({ key, kind: shape.length === 2 ? 'matrix' : 'vector', rows: shape[0], cols: shape[1] ?? 1, tensor: t });
    return true;
  };
  const { hiddenSize: d, numHeads, headDim, intermediateSize: f, vocabSize: V } = spec;
  const qDim = numHeads * headDim;
  const kv = kvDim(spec);
  if (spec.tieWordEmbeddings) {
    // tinystories-656k keeps only lm_head.weight.
    if (!add('embed', 'model.embed_tokens.weight', [V, d], false)) add('embed', 'lm_head.weight', [V, d], true);
  } else {
    add('embed', 'model.embed_tokens.weight', [V, d], true);
    add('lm_head', 'lm_head.weight', [V, d], true);
  }
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const k = (name: string) => `l${i}.${name}`;
    add(k('attnNorm'), `${p}input_layernorm.weight`, [d], true);
    add(k('wq'), `${p}self_attn.q_proj.weight`, [qDim, d], true);
    add(k('wk'), `${p}self_attn.k_proj.weight`, [kv, d], true);
    add(k('wv'), `${p}self_attn.v_proj.weight`, [kv, d], true);
    add(k('wo'), `${p}self_attn.o_proj.weight`, [d, qDim], true);
    add(k('bq'), `${p}self_attn.q_proj.bias`, [qDim], spec.attentionBias);
    add(k('bk'), `${p}self_attn.k_proj.bias`, [kv], spec.attentionBias);
    add(k('bv'), `${p}self_attn.v_proj.bias`, [kv], spec.attentionBias);
    add(k('mlpNorm'), `${p}post_attention_layernorm.weight`, [d], true);
    add(k('wGate'), `${p}mlp.gate_proj.weight`, [f, d], true);
    add(k('wUp'), `${p}mlp.up_proj.weight`, [f, d], true);
    add(k('wDown'), `${p}mlp.down_proj.weight`, [d, f], true);
  }
  add('final_norm', 'model.norm.weight', [d], true);
  const fileIndex = new Map(cp.files.map((f, i) => [f, i]));
  return out.sort((a, b) => fileIndex.get(a.tensor.file)! - fileIndex.get(b.tensor.file)! || a.tensor.begin - b.tensor.begin);
}

/** f32 elements per block when a tensor is read and converted (16 MiB of f32): bounds the load's peak. */
export const BLOCK_FLOATS = 4 * 2 ** 20;

/** Rows per block for a tensor of `cols` columns. */
export function rowsPerBlock(cols: number, blockFloats = BLOCK_FLOATS): number {
  return Math.max(1, Math.floor(blockFloats / cols));
}

/** Rows [row0, row0 + rows) of a tensor as f32 (one range read). */
export async function readRows(source: ModelFileSource, t: ModelTensor, row0: number, rows: number): Promise<Float32Array> {
  const width = dtypeBytes(t.tensor.dtype);
  const begin = t.tensor.begin + row0 * t.cols * width;
  const bytes = await source.readRange(t.tensor.file, begin, begin + rows * t.cols * width);
  const out = new Float32Array(rows * t.cols);
  decodeToF32(t.tensor.dtype, bytes, out);
  return out;
}
