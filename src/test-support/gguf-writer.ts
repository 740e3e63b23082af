// Writes GGUF files for tests: the container (version 3, little-endian) and a converter from a Hugging
// Face folder as llama.cpp's converter lays a model out (ggml tensor names, [in, out] dims, llama q/k
// rows in interleaved RoPE order, norms in F32, tokenizer metadata). Quantizers: ggml-quantize.ts.

import type { ModelFileSource } from '../model/file-source';
import { readText } from '../model/file-source';
import { modelTensors, openCheckpoint, readRows, rowsPerBlock } from '../model/checkpoint';
import { ARCHITECTURES } from '../model/architectures';
import { ggufNameOf } from '../model/tensors';
import type { GgufValue } from '../model/gguf';
import { parseModelConfig, type ModelSpec } from '../model/model-spec';
import { rowBytes, type TensorEncoding } from '../model/tensor-encoding';
import { fittedEncoding, kQuantMixEncoding, type MixRole } from '../quant/block-format';
import { quantizeGgml } from './ggml-quantize';
import { ggufTokenizerMetadata } from './gguf-tokenizer-metadata';

const TYPE_IDS: Record<TensorEncoding, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  IQ4_NL: 20,
  IQ4_XS: 23,
  BF16: 30,
};

export interface GgufTensorData {
  name: string;
  /** ggml order: ne[0] is the row length. */
  dims: number[];
  /** An encoding, or a raw ggml type id (to write types the loader refuses). */
  type: TensorEncoding | number;
  data: Uint8Array;
}

/** A metadata value with its GGUF type spelled out (otherwise integers are written as u32 or i32, other numbers as f32). */
export type TypedValue = { u64: number } | { f32: number } | { i32: number[] } | { f32s: number[] };

/** A tensor's entry in the header: its data's byte length instead of the data. */
export type GgufTensorInfo = Omit<GgufTensorData, 'data'> & { bytes: number };

/** The bytes of a GGUF file. */
export function writeGguf(metadata: ReadonlyMap<string, GgufValue | TypedValue>, tensors: GgufTensorData[], alignment = 32): Uint8Array {
  const layout = ggufLayout(
    metadata,
    tensors.map((t) => ({ ...t, bytes: t.data.byteLength })),
    alignment,
  );
  const out = new Uint8Array(layout.size);
  out.set(layout.header);
  tensors.forEach((t, i) => out.set(t.data, layout.offsets[i]));
  return out;
}

/** The header (padded to the data section) and each tensor's absolute offset, for writing a file in pieces. */
export function ggufLayout(
  metadata: ReadonlyMap<string, GgufValue | TypedValue>,
  tensors: GgufTensorInfo[],
  alignment = 32,
): { header: Uint8Array; offsets: number[]; size: number } {
  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    length += b.byteLength;
  };
  const u32 = (v: number) => push(new Uint8Array(new Uint32Array([v]).buffer));
  const u64 = (v: number) => push(new Uint8Array(new BigUint64Array([BigInt(v)]).buffer));
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    u64(b.byteLength);
    push(b);
  };
  const scalarType = (v: GgufValue): number => {
    if (typeof v === 'string') return 8;
    if (typeof v === 'boolean') return 7;
    if (typeof v === 'bigint') return 10;
    if (typeof v === 'number') return Number.isInteger(v) ? (v >= 0 && v < 2 ** 32 ? 4 : 5) : 6;
    return 9;
  };
  const scalar = (type: number, v: GgufValue) => {
    if (type === 8) str(v as string);
    else if (type === 7) push(new Uint8Array([v ? 1 : 0]));
    else if (type === 10) u64(Number(v));
    else if (type === 4) u32(v as number);
    else if (type === 5) push(new Uint8Array(new Int32Array([v as number]).buffer));
    else if (type === 6) push(new Uint8Array(new Float32Array([v as number]).buffer));
  };
  const array = (type: number, vs: GgufValue[]) => {
    u32(9);
    u32(type);
    u64(vs.length);
    for (const x of vs) scalar(type, x);
  };

  push(new TextEncoder().encode('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(metadata.size + (metadata.has('general.alignment') ? 0 : 1));
  if (!metadata.has('general.alignment')) {
    str('general.alignment');
    u32(4);
    u32(alignment);
  }
  for (const [key, v] of metadata) {
    str(key);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v !== 'bigint') {
      if ('u64' in v) u32(10), u64(v.u64);
      else if ('f32' in v) u32(6), scalar(6, v.f32);
      else if ('i32' in v) array(5, v.i32);
      else array(6, v.f32s);
      continue;
    }
    if (Array.isArray(v)) {
      // Arrays take their first element's type; an all-integer array is i32 (as token types are), except
      // scores, which llama.cpp reads as f32 whatever their values.
      const type =
        v.length === 0 ? 4 : key === 'tokenizer.ggml.scores' ? 6 : typeof v[0] === 'number' ? (v.every((x) => Number.isInteger(x)) ? 5 : 6) : scalarType(v[0]);
      array(type, v);
      continue;
    }
    u32(scalarType(v));
    scalar(scalarType(v), v);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    str(t.name);
    u32(t.dims.length);
    for (const n of t.dims) u64(n);
    u32(typeof t.type === 'number' ? t.type : TYPE_IDS[t.type]);
    offsets.push(offset);
    u64(offset);
    offset = Math.ceil((offset + t.bytes) / alignment) * alignment;
  }
  const dataStart = Math.ceil(length / alignment) * alignment;
  const header = new Uint8Array(dataStart);
  let at = 0;
  for (const p of parts) {
    header.set(p, at);
    at += p.byteLength;
  }
  return { header, offsets: offsets.map((o) => dataStart + o), size: dataStart + offset };
}

function ggmlName(hf: string, spec: ModelSpec): string {
  const name = ggufNameOf(hf, spec);
  if (!name) throw new Error(`no GGUF name for ${hf}`);
  return name;
}

/** Rows of whole heads from rotate-half order (s * head / 2 + i) to llama.cpp's interleaved order (2i + s). */
function interleave(values: Float32Array, rows: number, cols: number, head: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let h0 = 0; h0 < rows; h0 += head) {
    for (let i = 0; i < head / 2; i++) {
      for (let s = 0; s < 2; s++) out.set(values.subarray((h0 + s * (head / 2) + i) * cols, (h0 + s * (head / 2) + i + 1) * cols), (h0 + 2 * i + s) * cols);
    }
  }
  return out;
}

/**
 * llama.cpp's Q4_K_M / Q5_K_M mix by ggml tensor name (src/quant/block-format.ts kQuantMixEncoding), for
 * HfToGgufOptions.perTensor. The token embedding takes the output's type only where it is the output (`tied`).
 */
export function kQuantMix(base: TensorEncoding, layers: number, tied = true): (ggml: string) => TensorEncoding {
  return (name) => {
    const m = /^blk\.(\d+)\.(attn_v|ffn_down)\./.exec(name);
    const output = name.startsWith('output.') || (tied && name.startsWith('token_embd.'));
    const role: MixRole = output ? 'output' : m ? (m[2] as MixRole) : 'other';
    return kQuantMixEncoding(base, role, m ? Number(m[1]) : 0, layers, 256); // the writer applies the row fallback itself
  };
}

export interface HfToGgufOptions {
  /**
   * Encoding of the matrices. A matrix whose rows are not whole blocks falls back as llama.cpp's quantizer
   * does: a K-quant to a 32-value format (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K / Q3_K / IQ4_XS → IQ4_NL),
   * else F16.
   */
  encoding: TensorEncoding;
  /** Per-matrix encodings by ggml name (a Q4_K_M-style mix), overriding `encoding`. */
  perTensor?: (ggml: string) => TensorEncoding | undefined;
  /** Change the metadata or tensors before writing (tests of broken files). */
  edit?: (meta: Map<string, GgufValue | TypedValue>, tensors: GgufTensorData[]) => void;
}

/** A tensor of a conversion: its header entry and its bytes, produced a block of rows at a time. */
export type GgufTensorStream = GgufTensorInfo & { blocks(): AsyncIterable<Uint8Array> };

/**
 * A Hugging Face folder as llama.cpp's converter would write it: the metadata and, per tensor, its bytes
 * produced in blocks of rows (whole heads for the interleaved q/k), so a multi-gigabyte model converts in
 * bounded memory.
 */
export async function hfGgufTensors(
  source: ModelFileSource,
  o: Omit<HfToGgufOptions, 'edit'>,
): Promise<{ meta: Map<string, GgufValue | TypedValue>; tensors: GgufTensorStream[] }> {
  const spec = parseModelConfig(await readText(source, 'config.json'));
  const arch = ARCHITECTURES[spec.architecture].gguf ?? 'llama'; // llama.cpp converts Mistral as llama
  const meta = new Map<string, GgufValue | TypedValue>([
    ['general.architecture', arch],
    ['general.name', source.name.split('/').pop() ?? 'model'],
    [`${arch}.context_length`, spec.maxPositionEmbeddings],
    [`${arch}.embedding_length`, spec.hiddenSize],
    [`${arch}.block_count`, spec.numLayers],
    [`${arch}.feed_forward_length`, spec.intermediateSize],
    [`${arch}.attention.head_count`, spec.numHeads],
    [`${arch}.attention.head_count_kv`, spec.numKvHeads],
    [`${arch}.rope.dimension_count`, spec.rotaryDim],
    [`${arch}.rope.freq_base`, { f32: spec.ropeTheta }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { f32: spec.rmsNormEps }],
  ]);
  if (spec.headDim * spec.numHeads !== spec.hiddenSize) meta.set(`${arch}.attention.key_length`, spec.headDim);
  if (spec.slidingWindow !== null) meta.set(`${arch}.attention.sliding_window`, spec.slidingWindow);
  const tokenizerConfig = (await source.has('tokenizer_config.json')) ? await readText(source, 'tokenizer_config.json') : '{}';
  for (const [k, v] of ggufTokenizerMetadata(await readText(source, 'tokenizer.json'), tokenizerConfig, { vocabSize: spec.vocabSize })) meta.set(k, v);
  if (spec.bosTokenId !== null) meta.set('tokenizer.ggml.bos_token_id', spec.bosTokenId);
  if (spec.eosTokenIds.length) meta.set('tokenizer.ggml.eos_token_id', spec.eosTokenIds[0]);

  const tensors: GgufTensorStream[] = [];
  const scaling = spec.ropeScaling;
  if (scaling?.type === 'linear') {
    meta.set(`${arch}.rope.scaling.type`, 'linear');
    meta.set(`${arch}.rope.scaling.factor`, { f32: scaling.factor });
  }
  if (scaling?.type === 'longrope') {
    // llama.cpp's phi3: the factors as F32 tensors, the amplitude and the trained context as metadata.
    const config = JSON.parse(await readText(source, 'config.json')) as { max_position_embeddings: number };
    meta.set(`${arch}.context_length`, config.max_position_embeddings);
    meta.set(`${arch}.rope.scaling.attn_factor`, { f32: scaling.attentionFactor });
    meta.set(`${arch}.rope.scaling.original_context_length`, scaling.originalMaxPositionEmbeddings);
    for (const [name, f] of [
      ['rope_factors_long.weight', scaling.longFactor],
      ['rope_factors_short.weight', scaling.shortFactor],
    ] as const) {
      const values = Float32Array.from(f);
      tensors.push({
        name,
        dims: [f.length],
        type: 'F32',
        bytes: f.length * 4,
        blocks: async function* () {
          yield new Uint8Array(values.buffer);
        },
      });
    }
  }
  const cp = await openCheckpoint(source);
  for (const part of modelTensors(spec, cp)) {
    // A fused tensor (Phi-3's qkv_proj) is written whole, as stored, in place of its first part.
    if (part.fusedIn && !/\.(wq|wGate)$/.test(part.key)) continue;
    const fused = part.fusedIn ? cp.tensors.get(part.fusedIn)! : null;
    const t = fused ? { ...part, rows: fused.shape[0], tensor: fused, headRows: undefined } : part;
    const name = ggmlName(t.key === 'embed' ? 'model.embed_tokens.weight' : t.tensor.name, spec);
    const interleaved = ARCHITECTURES[spec.architecture].ggufRopeInterleaved && /attn_[qk]\./.test(name);
    let enc: TensorEncoding = t.kind === 'vector' ? 'F32' : (o.perTensor?.(name) ?? o.encoding);
    enc = fittedEncoding(enc, t.cols);
    const type = enc;
    // The folder's rows as stored (not the engine's order), in blocks of whole heads where rows are interleaved.
    // Gemma's norms go in as 1 + w (llama.cpp adds the 1), without the engine's q_norm scale.
    const stored = { ...t, headRows: undefined, affine: t.affine ? { add: t.affine.add, mul: 1 } : undefined };
    const rows = rowsPerBlock(stored);
    const step = interleaved ? Math.max(spec.headDim, rows - (rows % spec.headDim)) : rows;
    tensors.push({
      name,
      dims: t.kind === 'vector' ? [t.rows] : [t.cols, t.rows],
      type,
      bytes: t.rows * rowBytes(type, t.cols),
      async *blocks() {
        for (let r = 0; r < t.rows; r += step) {
          const n = Math.min(step, t.rows - r);
          let values = await readRows(source, stored, r, n);
          if (interleaved) values = interleave(values, n, t.cols, spec.headDim);
          yield quantizeGgml(type, values);
        }
      },
    });
  }
  return { meta, tensors };
}

/** A Hugging Face folder as one GGUF file in memory (small models). */
export async function hfToGguf(source: ModelFileSource, o: HfToGgufOptions): Promise<Uint8Array> {
  const { meta, tensors } = await hfGgufTensors(source, o);
  const data: GgufTensorData[] = [];
  for (const t of tensors) {
    const parts: Uint8Array[] = [];
    for await (const b of t.blocks()) parts.push(b);
    const bytes = new Uint8Array(t.bytes);
    let at = 0;
    for (const p of parts) bytes.set(p, at), (at += p.byteLength);
    data.push({ name: t.name, dims: t.dims, type: t.type, data: bytes });
  }
  o.edit?.(meta, data);
  return writeGguf(meta, data);
}
