// Safetensors reader over an ArrayBuffer, so the same code runs in Node and in a browser.
// Layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
// Every declared size and offset is checked against the real byte length before anything is read.

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

export interface SafetensorsFile {
  file: string;
  buffer: ArrayBuffer;
  dataOffset: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export function parseSafetensors(buffer: ArrayBuffer, file: string): SafetensorsFile {
  if (buffer.byteLength < 8) {
    throw new ModelFormatError('file is truncated: too short for the 8-byte header length', {
      file,
      expected: '>= 8 bytes',
      got: `${buffer.byteLength} bytes`,
    });
  }
  const view = new DataView(buffer);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > buffer.byteLength - 8 || headerLen > MAX_HEADER_BYTES) {
    throw new ModelFormatError('header length runs past the end of the file', {
      file,
      field: 'header length',
      expected: `<= ${Math.min(buffer.byteLength - 8, MAX_HEADER_BYTES)}`,
      got: String(headerLen),
    });
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buffer, 8, headerLen)));
  } catch (e) {
    throw new ModelFormatError(`header is not valid JSON (${(e as Error).message})`, { file, field: 'header' });
  }
  if (!isPlainObject(header)) {
    throw new ModelFormatError('header is not a JSON object', { file, field: 'header' });
  }
  const dataOffset = 8 + headerLen;
  const dataLen = buffer.byteLength - dataOffset;
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
  return { file, buffer, dataOffset, tensors, metadata };
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

/** Decode one tensor to a fresh Float32Array (F16 and BF16 are widened exactly). */
export function readTensorF32(st: SafetensorsFile, entry: TensorEntry): Float32Array {
  const start = st.dataOffset + entry.begin;
  const count = (entry.end - entry.begin) / DTYPE_BYTES[entry.dtype];
  const view = new DataView(st.buffer, start, entry.end - entry.begin);
  const out = new Float32Array(count);
  if (entry.dtype === 'F32' && start % 4 === 0) {
    out.set(new Float32Array(st.buffer, start, count)); // little-endian hosts: a plain copy
  } else if (entry.dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (entry.dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = f16BitsToF32(view.getUint16(i * 2, true));
  } else {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < count; i++) {
      u[0] = view.getUint16(i * 2, true) << 16;
      out[i] = f[0];
    }
  }
  return out;
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
