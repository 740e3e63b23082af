// Safetensors header reader and tensor decoding, the same code in Node and in a browser.
// Layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
// Only the header is parsed here; tensors are read later by byte range (src/model/checkpoint.ts).
// Every declared size and offset is checked against the file's real length before anything is read.

import { ModelFormatError, UnsupportedModelError } from '../errors';
import { f16BitsToF32 } from '../quant/f16';

export type DType = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2 };
/** dtypes the format defines that this engine does not load. */
const KNOWN_UNSUPPORTED = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);
/** A header larger than this is refused before parsing (real headers are a few hundred KiB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** The file's length in bytes. */
  size: number;
  /** Where the data section starts: tensor bytes are [dataOffset + begin, dataOffset + end). */
  dataOffset: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** The header's byte length, from the file's first 8 bytes, checked against the file's size. */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new ModelFormatError('file is truncated: too short for the 8-byte header length', {
      file,
      expected: '>= 8 bytes',
      got: `${Math.min(fileSize, first8.byteLength)} bytes`,
    });
  }
  const headerLen = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > fileSize - 8 || headerLen > MAX_HEADER_BYTES) {
    throw new ModelFormatError('header length runs past the end of the file', {
      file,
      field: 'header length',
      expected: `<= ${Math.min(fileSize - 8, MAX_HEADER_BYTES)}`,
      got: String(headerLen),
    });
  }
  return headerLen;
}

/** Parse a header: `start` holds at least the file's first 8 + header-length bytes; `fileSize` is the real length. */
export function parseSafetensorsHeader(start: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const headerLen = safetensorsHeaderLength(start, fileSize, file);
  if (start.byteLength < 8 + headerLen)
    throw new ModelFormatError('header bytes missing', { file, expected: `${8 + headerLen} bytes`, got: `${start.byteLength}` });
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(start.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new ModelFormatError(`header is not valid JSON (${(e as Error).message})`, { file, field: 'header' });
  }
  if (!isPlainObject(header)) {
    throw new ModelFormatError('header is not a JSON object', { file, field: 'header' });
  }
  const dataOffset = 8 + headerLen;
  const dataLen = fileSize - dataOffset;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) throw new ModelFormatError('__metadata__ is not an object', { file, field: name });
      metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      continue;
    }
    tensors.set(name, parseEntry(name, raw, dataLen, file));
  }
  checkNoOverlap([...tensors.values()], file);
  return { file, size: fileSize, dataOffset, tensors, metadata };
}

function parseEntry(name: string, raw: unknown, dataLen: number, file: string): TensorEntry {
  const field = `tensor ${name}`;
  if (!isPlainObject(raw)) throw new ModelFormatError('entry is not an object', { file, field });
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new ModelFormatError('missing dtype', { file, field });
  if (!(dtype in DTYPE_BYTES)) {
    const msg = KNOWN_UNSUPPORTED.has(dtype) ? 'unsupported dtype' : 'unknown dtype';
    throw new UnsupportedModelError(msg, { file, field: `${field}.dtype`, expected: 'F32, F16 or BF16', got: dtype });
  }
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new ModelFormatError('shape is not an array of non-negative integers', { file, field: `${field}.shape`, got: JSON.stringify(shape) });
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new ModelFormatError('data_offsets is not a pair of non-negative integers', {
      file,
      field: `${field}.data_offsets`,
      got: JSON.stringify(offsets),
    });
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataLen) {
    throw new ModelFormatError('data_offsets out of range', {
      file,
      field: `${field}.data_offsets`,
      expected: `0 <= begin <= end <= ${dataLen} (data section length)`,
      got: `[${begin}, ${end}]`,
    });
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = numel * DTYPE_BYTES[dtype as DType];
  if (end - begin !== bytes) {
    throw new ModelFormatError('byte length disagrees with shape and dtype', {
      file,
      field,
      expected: `${bytes} bytes for ${dtype}[${(shape as number[]).join(', ')}]`,
      got: `${end - begin} bytes`,
    });
  }
  return { name, dtype: dtype as DType, shape: shape as number[], begin, end };
}

function checkNoOverlap(entries: TensorEntry[], file: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new ModelFormatError('tensors overlap', {
        file,
        field: `tensor ${sorted[i].name}`,
        expected: `begin >= ${sorted[i - 1].end} (end of ${sorted[i - 1].name})`,
        got: String(sorted[i].begin),
      });
    }
  }
}

export function dtypeBytes(dtype: DType): number {
  return DTYPE_BYTES[dtype];
}

/** f16 bits → f32 value for all 65536 patterns: one table lookup per element. */
let f16Table: Float32Array | null = null;

/**
 * Widen `count` little-endian values of `dtype` from `bytes` into `out` at `at` (exact for F16 and BF16).
 * Bulk typed-array work: BF16 is a 16-bit shift, F16 a table lookup, F32 a copy.
 */
export function decodeToF32(dtype: DType, bytes: Uint8Array, out: Float32Array, at = 0): void {
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % DTYPE_BYTES[dtype] === 0 ? bytes : bytes.slice();
  if (dtype === 'F32') {
    out.set(new Float32Array(aligned.buffer, aligned.byteOffset, count), at);
    return;
  }
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset + at * 4, count);
    for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
    return;
  }
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  const table = f16Table;
  for (let i = 0; i < count; i++) out[at + i] = table[halves[i]];
}

/** The tensor → file map of a sharded checkpoint (`model.safetensors.index.json`). */
export function parseShardIndex(text: string, file: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`not valid JSON (${(e as Error).message})`, { file });
  }
  const map = isPlainObject(json) ? (json as Record<string, unknown>).weight_map : undefined;
  if (!isPlainObject(map)) throw new ModelFormatError('weight_map missing or not an object', { file, field: 'weight_map' });
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !/^[\w.-]+\.safetensors$/.test(shard)) {
      throw new ModelFormatError('shard name is not a plain .safetensors file name', {
        file,
        field: `weight_map.${tensor}`,
        got: JSON.stringify(shard),
      });
    }
    out.set(tensor, shard);
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
