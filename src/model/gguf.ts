// GGUF header reader (llama.cpp's single-file model format, versions 2 and 3, little-endian), written from
// the format's specification. Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
// the metadata (key string, u32 value type, value), the tensor infos (name, u32 dims, u64 ne[dims], u32
// ggml type, u64 offset), padding to `general.alignment` (default 32), then the tensor data. Strings are
// u64 length + UTF-8 bytes; arrays are u32 element type + u64 count + elements.
//
// The header has no length field, so it is read from the start in growing ranges until it parses; every
// count, length and offset is checked against the file's real size before anything is allocated.

import { ModelFormatError, UnsupportedModelError } from '../errors';
import type { ModelFileSource } from './file-source';
import { PROBE_BYTES } from './url-file-source';

export type GgufValue = number | bigint | boolean | string | GgufValue[];
export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** ggml tensor types by id: name, values per block and bytes per block (null: a type this reader does not size). */
const GGML_TYPES: Record<number, { name: string; block: number; bytes: number } | { name: string; block: null; bytes: null }> = {
  0: { name: 'F32', block: 1, bytes: 4 },
  1: { name: 'F16', block: 1, bytes: 2 },
  2: { name: 'Q4_0', block: 32, bytes: 18 },
  3: { name: 'Q4_1', block: 32, bytes: 20 },
  6: { name: 'Q5_0', block: 32, bytes: 22 },
  7: { name: 'Q5_1', block: 32, bytes: 24 },
  8: { name: 'Q8_0', block: 32, bytes: 34 },
  9: { name: 'Q8_1', block: 32, bytes: 36 },
  10: { name: 'Q2_K', block: 256, bytes: 84 },
  11: { name: 'Q3_K', block: 256, bytes: 110 },
  12: { name: 'Q4_K', block: 256, bytes: 144 },
  13: { name: 'Q5_K', block: 256, bytes: 176 },
  14: { name: 'Q6_K', block: 256, bytes: 210 },
  15: { name: 'Q8_K', block: 256, bytes: 292 },
  16: { name: 'IQ2_XXS', block: null, bytes: null },
  17: { name: 'IQ2_XS', block: null, bytes: null },
  18: { name: 'IQ3_XXS', block: null, bytes: null },
  19: { name: 'IQ1_S', block: null, bytes: null },
  20: { name: 'IQ4_NL', block: 32, bytes: 18 },
  21: { name: 'IQ3_S', block: null, bytes: null },
  22: { name: 'IQ2_S', block: null, bytes: null },
  23: { name: 'IQ4_XS', block: 256, bytes: 136 },
  24: { name: 'I8', block: 1, bytes: 1 },
  25: { name: 'I16', block: 1, bytes: 2 },
  26: { name: 'I32', block: 1, bytes: 4 },
  27: { name: 'I64', block: 1, bytes: 8 },
  28: { name: 'F64', block: 1, bytes: 8 },
  29: { name: 'IQ1_M', block: null, bytes: null },
  30: { name: 'BF16', block: 1, bytes: 2 },
  34: { name: 'TQ1_0', block: null, bytes: null },
  35: { name: 'TQ2_0', block: null, bytes: null },
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPES[type]?.name ?? `type ${type}`;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the contiguous dimension (a Hugging Face [out, in] matrix is [in, out] here). */
  dims: number[];
  /** ggml type id and its name (F32, Q4_0, Q6_K, ...). */
  type: number;
  typeName: string;
  /** Absolute byte range in the file; null when this reader does not know the type's size. */
  begin: number;
  end: number | null;
}

export interface GgufHeader {
  file: string;
  size: number;
  version: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  metadata: GgufMetadata;
  tensors: Map<string, GgufTensorInfo>;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAX_COUNT = 1 << 24;
/** Headers are read in steps that start at the URL source's probe and double (a 152K-vocabulary header is ~8 MB). */
const FIRST_READ = PROBE_BYTES;

/** The header ran past the bytes read so far (not past the file): read more and parse again. */
class NeedMore extends Error {}

enum ValueType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}
const FIXED_BYTES: Partial<Record<ValueType, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

class Cursor {
  at = 0;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Checks that n more bytes exist: in the file (else a typed error), and in what was read (else NeedMore). */
  need(n: number, field: string): void {
    if (this.at + n > this.fileSize) {
      throw new ModelFormatError('header runs past the end of the file (truncated?)', {
        file: this.file,
        field,
        expected: `${n} more bytes at ${this.at}`,
        got: `${this.fileSize} bytes in all`,
      });
    }
    if (this.at + n > this.bytes.byteLength) throw new NeedMore();
  }

  u8(f: string): number {
    this.need(1, f);
    return this.view.getUint8(this.at++);
  }
  u32(f: string): number {
    this.need(4, f);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  /** A u64 that must be a safe integer (counts, lengths, offsets). */
  size(f: string): number {
    this.need(8, f);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModelFormatError('value too large', { file: this.file, field: f, got: v.toString() });
    return Number(v);
  }
  string(f: string): string {
    const n = this.size(`${f} (string length)`);
    this.need(n, f);
    let s: string;
    try {
      s = this.utf8.decode(this.bytes.subarray(this.at, this.at + n));
    } catch {
      throw new ModelFormatError('string is not valid UTF-8', { file: this.file, field: f });
    }
    this.at += n;
    return s;
  }

  value(type: number, f: string, depth = 0): GgufValue {
    const v = this.view;
    const fixed = FIXED_BYTES[type as ValueType];
    if (fixed !== undefined) this.need(fixed, f);
    const at = this.at;
    if (fixed !== undefined) this.at += fixed;
    switch (type) {
      case ValueType.U8:
        return v.getUint8(at);
      case ValueType.I8:
        return v.getInt8(at);
      case ValueType.U16:
        return v.getUint16(at, true);
      case ValueType.I16:
        return v.getInt16(at, true);
      case ValueType.U32:
        return v.getUint32(at, true);
      case ValueType.I32:
        return v.getInt32(at, true);
      case ValueType.F32:
        return shortestF32(v.getFloat32(at, true));
      case ValueType.BOOL: {
        const b = v.getUint8(at);
        if (b > 1) throw new ModelFormatError('bool is neither 0 nor 1', { file: this.file, field: f, got: String(b) });
        return b === 1;
      }
      case ValueType.U64:
      case ValueType.I64: {
        const big = type === ValueType.U64 ? v.getBigUint64(at, true) : v.getBigInt64(at, true);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
      }
      case ValueType.F64:
        return v.getFloat64(at, true);
      case ValueType.STRING:
        return this.string(f);
      case ValueType.ARRAY: {
        if (depth > 0) throw new UnsupportedModelError('nested arrays are not supported', { file: this.file, field: f });
        const elem = this.u32(`${f} (array type)`);
        const n = this.size(`${f} (array length)`);
        // Each element takes at least one byte (eight for a string's length): a count the file cannot hold is refused before allocating.
        const least = elem === ValueType.STRING ? 8 : (FIXED_BYTES[elem as ValueType] ?? 1);
        if (n * least > this.fileSize - this.at) {
          throw new ModelFormatError('array longer than the file', {
            file: this.file,
            field: f,
            expected: `<= ${Math.floor((this.fileSize - this.at) / least)} elements`,
            got: String(n),
          });
        }
        const out: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(elem, f, depth + 1);
        return out;
      }
      default:
        throw new ModelFormatError('unknown metadata value type', { file: this.file, field: f, expected: '0..12', got: String(type) });
    }
  }
}

/** The shortest decimal that is this f32 (an epsilon stored as 9.9999997e-6 reads back as the 1e-5 it was). */
function shortestF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p < 10; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * Parse a GGUF header from the file's first bytes. `fileSize` is the file's real length. Throws NeedMore
 * (internal) when `bytes` ends inside the header; `readGgufHeader` reads more and calls again.
 */
function parse(bytes: Uint8Array, fileSize: number, file: string): GgufHeader {
  const c = new Cursor(bytes, fileSize, file);
  const magic = c.u32('magic');
  if (magic !== MAGIC)
    throw new ModelFormatError('not a GGUF file', {
      file,
      field: 'magic',
      expected: '"GGUF"',
      got: JSON.stringify(String.fromCharCode(...bytes.subarray(0, 4))),
    });
  const version = c.u32('version');
  if (version === 0x02000000 || version === 0x03000000) {
    throw new UnsupportedModelError('big-endian GGUF files are not supported', { file, field: 'version', expected: 'a little-endian file (version 2 or 3)' });
  }
  if (version !== 2 && version !== 3)
    throw new UnsupportedModelError('unsupported GGUF version', { file, field: 'version', expected: '2 or 3', got: String(version) });
  const tensorCount = c.size('tensor_count');
  const kvCount = c.size('metadata_kv_count');
  if (tensorCount > MAX_COUNT)
    throw new ModelFormatError('tensor count out of range', { file, field: 'tensor_count', expected: `<= ${MAX_COUNT}`, got: String(tensorCount) });
  if (kvCount > MAX_COUNT)
    throw new ModelFormatError('metadata count out of range', { file, field: 'metadata_kv_count', expected: `<= ${MAX_COUNT}`, got: String(kvCount) });

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata[${i}] key`);
    const type = c.u32(key);
    if (metadata.has(key)) throw new ModelFormatError('duplicate metadata key', { file, field: key });
    metadata.set(key, c.value(type, key));
  }
  const align = metadata.get('general.alignment') ?? 32;
  if (typeof align !== 'number' || !Number.isSafeInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
    throw new ModelFormatError('alignment must be a power of two', { file, field: 'general.alignment', got: String(align) });
  }

  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor[${i}] name`);
    const nDims = c.u32(`${name} n_dims`);
    if (nDims < 1 || nDims > 4) throw new ModelFormatError('tensor must have 1 to 4 dimensions', { file, field: name, got: String(nDims) });
    const dims: number[] = [];
    for (let k = 0; k < nDims; k++) dims.push(c.size(`${name} ne[${k}]`));
    const type = c.u32(`${name} type`);
    const offset = c.size(`${name} offset`);
    infos.push({ name, dims, type, offset });
  }
  const dataOffset = Math.ceil(c.at / align) * align;

  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    const field = `tensor ${t.name}`;
    if (tensors.has(t.name)) throw new ModelFormatError('duplicate tensor name', { file, field });
    const kind = GGML_TYPES[t.type];
    if (!kind) throw new ModelFormatError('unknown tensor type', { file, field: `${field} type`, got: String(t.type) });
    if (t.offset % align !== 0)
      throw new ModelFormatError('tensor offset is not aligned', { file, field: `${field} offset`, expected: `a multiple of ${align}`, got: String(t.offset) });
    const begin = dataOffset + t.offset;
    let end: number | null = null;
    if (kind.block !== null) {
      if (t.dims[0] % kind.block !== 0) {
        throw new ModelFormatError('row length is not a multiple of the type block', {
          file,
          field,
          expected: `ne[0] a multiple of ${kind.block} for ${kind.name}`,
          got: String(t.dims[0]),
        });
      }
      const bytes = (t.dims.reduce((a, n) => a * n, 1) / kind.block) * kind.bytes;
      end = begin + bytes;
      if (!Number.isSafeInteger(end) || end > fileSize) {
        throw new ModelFormatError('tensor data runs past the end of the file (truncated?)', {
          file,
          field,
          expected: `bytes [${begin}, ${end}) within ${fileSize}`,
          got: `${fileSize} bytes`,
        });
      }
    }
    tensors.set(t.name, { name: t.name, dims: t.dims, type: t.type, typeName: kind.name, begin, end });
  }
  const sized = [...tensors.values()].filter((t) => t.end !== null && t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sized.length; i++) {
    if (sized[i].begin < sized[i - 1].end!) {
      throw new ModelFormatError('tensors overlap', {
        file,
        field: `tensor ${sized[i].name}`,
        expected: `offset >= ${sized[i - 1].end! - dataOffset} (end of ${sized[i - 1].name})`,
        got: String(sized[i].begin - dataOffset),
      });
    }
  }
  return { file, size: fileSize, version, alignment: align, dataOffset, metadata, tensors };
}

/** Parse a header held whole in memory (tests, fuzzing): `bytes` is the file or its first part. */
export function parseGgufHeader(bytes: Uint8Array, fileSize: number, file: string): GgufHeader {
  try {
    return parse(bytes, fileSize, file);
  } catch (e) {
    if (e instanceof NeedMore) throw new ModelFormatError('header bytes missing', { file, expected: 'the whole header', got: `${bytes.byteLength} bytes` });
    throw e;
  }
}

/** Read and parse a file's header by range: the first 64 KiB, then more (doubling) until it parses. */
export async function readGgufHeader(source: ModelFileSource, file: string): Promise<GgufHeader> {
  const where = `${source.name}/${file}`;
  const size = await source.size(file);
  let bytes = await source.readRange(file, 0, Math.min(size, FIRST_READ));
  for (;;) {
    try {
      return parse(bytes, size, where);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
    const end = Math.min(size, bytes.byteLength * 2);
    const more = new Uint8Array(end);
    more.set(bytes);
    more.set(await source.readRange(file, bytes.byteLength, end), bytes.byteLength);
    bytes = more;
  }
}
