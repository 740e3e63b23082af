// A PreparedModel as named typed arrays laid end to end and cut into chunks of at most `chunkBytes`
// (IndexedDB values of bounded size), plus a small JSON description; and the way back.

import type { LayerLatents } from '../cache/xquant-gqa-cache';
import { ModelFormatError } from '../errors';
import type { ModelTexts } from '../model/load-model';
import { parseModelTexts } from '../model/load-model';
import type { PreparedModel } from '../engine/prepared-model';
import type { PackedLayer, PackedWeights } from '../quant/packed-weights';
import type { PackedMatrix, WeightFormat } from '../quant/weight-format';

type ArrayType = 'u32' | 'f32' | 'u8';

export interface ArchiveEntry {
  name: string;
  type: ArrayType;
  /** Byte offset in the concatenation of all chunks (a multiple of 4). */
  offset: number;
  bytes: number;
}

type MatrixShape = Pick<PackedMatrix, 'rows' | 'cols' | 'rowWords' | 'scaleWords'>;

export interface ArchiveMeta {
  name: string;
  format: WeightFormat;
  layers: number;
  tied: boolean;
  matrices: Record<string, MatrixShape>;
}

export interface ModelArchive {
  meta: ArchiveMeta;
  entries: ArchiveEntry[];
  totalBytes: number;
  chunks: Uint8Array<ArrayBuffer>[];
}

const LAYER_MATRICES = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const;
const LAYER_VECTORS = ['attnNorm', 'bq', 'bk', 'bv', 'mlpNorm'] as const;
const TEXTS = ['config', 'tokenizer', 'tokenizerConfig'] as const;

export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

export function archiveModel(m: PreparedModel, chunkBytes = DEFAULT_CHUNK_BYTES): ModelArchive {
  const arrays: { name: string; type: ArrayType; data: Uint32Array | Float32Array | Uint8Array }[] = [];
  const matrices: Record<string, MatrixShape> = {};
  const matrix = (name: string, p: PackedMatrix) => {
    matrices[name] = { rows: p.rows, cols: p.cols, rowWords: p.rowWords, scaleWords: p.scaleWords };
    arrays.push({ name: `${name}.data`, type: 'u32', data: p.data });
    if (p.scales) arrays.push({ name: `${name}.scales`, type: 'u32', data: p.scales });
  };
  const vector = (name: string, v: Float32Array | null) => v && arrays.push({ name, type: 'f32', data: v });
  const encoder = new TextEncoder();
  for (const t of TEXTS) arrays.push({ name: `text.${t}`, type: 'u8', data: encoder.encode(m.texts[t]) });
  const p = m.packed;
  matrix('embed', p.embed);
  if (p.lmHead !== p.embed) matrix('lm_head', p.lmHead);
  p.layers.forEach((l, i) => {
    for (const k of LAYER_MATRICES) matrix(`l${i}.${k}`, l[k]);
    for (const k of LAYER_VECTORS) vector(`l${i}.${k}`, l[k]);
  });
  vector('final_norm', p.finalNorm);
  m.latents?.forEach((x, i) => {
    for (const kv of ['k', 'v'] as const) {
      vector(`svd.l${i}.${kv}.down`, x[kv].down);
      vector(`svd.l${i}.${kv}.up`, x[kv].up);
    }
  });

  const entries: ArchiveEntry[] = [];
  let offset = 0;
  for (const a of arrays) {
    entries.push({ name: a.name, type: a.type, offset, bytes: a.data.byteLength });
    offset += Math.ceil(a.data.byteLength / 4) * 4;
  }
  const totalBytes = offset;
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < totalBytes; at += chunkBytes) chunks.push(new Uint8Array(Math.min(chunkBytes, totalBytes - at)));
  arrays.forEach((a, i) => {
    const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    let at = entries[i].offset;
    for (let done = 0; done < bytes.length; ) {
      const c = Math.floor(at / chunkBytes);
      const inChunk = at - c * chunkBytes;
      const n = Math.min(bytes.length - done, chunkBytes - inChunk);
      chunks[c].set(bytes.subarray(done, done + n), inChunk);
      done += n;
      at += n;
    }
  });
  return { meta: { name: m.name, format: p.format, layers: p.layers.length, tied: p.lmHead === p.embed, matrices }, entries, totalBytes, chunks };
}

/** Rebuild the model; `where` names the cache entry in errors (a damaged archive is a ModelFormatError). */
export function unarchiveModel(a: ModelArchive, where: string): PreparedModel {
  const chunkBytes = a.chunks[0]?.byteLength ?? 0;
  const byName = new Map(a.entries.map((e) => [e.name, e]));
  const bytesOf = (name: string): Uint8Array => {
    const e = byName.get(name);
    if (!e) throw new ModelFormatError('archive entry missing', { file: where, field: name });
    if (e.offset + e.bytes > a.totalBytes) throw new ModelFormatError('archive entry out of range', { file: where, field: name });
    const c = Math.floor(e.offset / chunkBytes);
    const inChunk = e.offset - c * chunkBytes;
    if (inChunk + e.bytes <= chunkBytes) return a.chunks[c].subarray(inChunk, inChunk + e.bytes);
    const out = new Uint8Array(e.bytes); // spans chunks: copy
    for (let done = 0, at = e.offset; done < e.bytes; ) {
      const ci = Math.floor(at / chunkBytes);
      const off = at - ci * chunkBytes;
      const n = Math.min(e.bytes - done, chunkBytes - off);
      out.set(a.chunks[ci].subarray(off, off + n), done);
      done += n;
      at += n;
    }
    return out;
  };
  // Views into the chunks where aligned (no second copy of the weights in memory), else copies.
  const aligned = (name: string) => {
    const b = bytesOf(name);
    return b.byteOffset % 4 === 0 ? b : b.slice();
  };
  const u32 = (name: string) => {
    const b = aligned(name);
    return new Uint32Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength / 4);
  };
  const f32 = (name: string) => {
    const b = aligned(name);
    return new Float32Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength / 4);
  };
  const optF32 = (name: string) => (byName.has(name) ? f32(name) : null);
  const m = a.meta;
  const matrix = (name: string): PackedMatrix => {
    const shape = m.matrices[name];
    if (!shape) throw new ModelFormatError('matrix shape missing', { file: where, field: name });
    return { format: m.format, ...shape, data: u32(`${name}.data`), scales: byName.has(`${name}.scales`) ? u32(`${name}.scales`) : null };
  };
  const decoder = new TextDecoder();
  const texts = Object.fromEntries(TEXTS.map((t) => [t, decoder.decode(bytesOf(`text.${t}`))])) as unknown as ModelTexts;
  const embed = matrix('embed');
  const layers: PackedLayer[] = Array.from({ length: m.layers }, (_, i) => {
    const l = Object.fromEntries(LAYER_MATRICES.map((k) => [k, matrix(`l${i}.${k}`)]));
    for (const k of LAYER_VECTORS) l[k] = optF32(`l${i}.${k}`) as never;
    return l as unknown as PackedLayer;
  });
  const packed: PackedWeights = { format: m.format, embed, lmHead: m.tied ? embed : matrix('lm_head'), layers, finalNorm: f32('final_norm') };
  const latents: LayerLatents[] | null = byName.has('svd.l0.k.down')
    ? layers.map((_, i) => ({
        k: { down: f32(`svd.l${i}.k.down`), up: f32(`svd.l${i}.k.up`) },
        v: { down: f32(`svd.l${i}.v.down`), up: f32(`svd.l${i}.v.up`) },
      }))
    : null;
  const { spec, tokenizer } = parseModelTexts(texts, where);
  return { name: m.name, spec, tokenizer, texts, packed, latents };
}
