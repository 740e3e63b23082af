// Weight formats for the matrices of a model (embedding, projections, LM head), packed the way the GPU
// kernels read them (shaders/weights-*.wgsl). The reference decoder runs on `unpackMatrix` of the same
// packing, so CPU and GPU compute with identical weight values.
//
// Every row is zero-padded to a multiple of 32 columns (one quantization group), so kernels can read
// 8 weights at a time and groups never straddle rows. Layouts, per row:
//   f32  pad32(cols) words, one f32 each
//   f16  pad32(cols) / 2 words, two f16 each (low half first)
//   q8   pad32(cols) / 4 words, four signed 8-bit codes each (lowest byte first)
//   q4   pad32(cols) / 8 words, eight 4-bit codes each (lowest nibble first), stored as code + 8
// q8 and q4 are symmetric with one f16 scale per group of 32 columns, two scales per u32 (even group low):
// w = code * scale, code in [-127, 127] (q8) or [-7, 7] (q4).
// A GGUF file's other block types stay in their own layout (block-format.ts): those matrices are loaded,
// never packed from f32.

import { InvalidArgumentError } from '../errors';
import type { TensorEncoding } from '../model/tensor-encoding';
import { blockFormatOf, blockRowWords, isBlockFormat, unpackBlockRows, type BlockFormat } from './block-format';
import { f16BitsToF32, f32ToF16Bits } from './f16';

/** Formats the engine packs f32 values into. */
export type PackFormat = 'f32' | 'f16' | 'q8' | 'q4';
/** A matrix's layout on the GPU: one the engine packs, or a GGUF block type kept as stored. */
export type MatrixFormat = PackFormat | BlockFormat;
/**
 * What a load asks for: every matrix packed into one format, or `native`: each tensor as its file stores it
 * (GGUF block types as they are, Q8_0 / Q4_0 as q8 / q4, F16 and BF16 as f16, F32 as f32; `nativeFormat`).
 */
export type WeightFormat = PackFormat | 'native';
export const PACK_FORMATS: readonly PackFormat[] = ['f32', 'f16', 'q8', 'q4'];
export const WEIGHT_FORMATS: readonly WeightFormat[] = [...PACK_FORMATS, 'native'];
export const WEIGHT_GROUP = 32;

export interface PackedMatrix {
  format: MatrixFormat;
  rows: number;
  cols: number;
  /** u32 words per row in `data`. */
  rowWords: number;
  /** u32 words per row in `scales` (0 for f32 and f16). */
  scaleWords: number;
  data: Uint32Array<ArrayBuffer>;
  scales: Uint32Array<ArrayBuffer> | null;
}

export function parseWeightFormat(name: string): WeightFormat {
  if ((WEIGHT_FORMATS as readonly string[]).includes(name)) return name as WeightFormat;
  throw new InvalidArgumentError('unknown weight format', { field: 'weights', expected: WEIGHT_FORMATS.join(', '), got: name });
}

/** The format a matrix stored as `enc` takes when a load asks for `requested`. */
export function matrixFormatFor(requested: WeightFormat, enc: TensorEncoding): MatrixFormat {
  if (requested !== 'native') return requested;
  if (enc === 'F32') return 'f32';
  // BF16 has no kernel: f16 holds its normal values exactly; below 6.1e-5 (f16 subnormals) it rounds, above 65,504 it overflows.
  if (enc === 'F16' || enc === 'BF16') return 'f16';
  if (enc === 'Q8_0') return 'q8';
  if (enc === 'Q4_0') return 'q4';
  return blockFormatOf(enc) ?? 'q8';
}

/** A format the engine packs f32 weights into (a checkpoint already in memory has no stored format to keep). */
export function parsePackFormat(name: string): PackFormat {
  if ((PACK_FORMATS as readonly string[]).includes(name)) return name as PackFormat;
  throw new InvalidArgumentError('unknown weight format', { field: 'weights', expected: PACK_FORMATS.join(', '), got: name });
}

export function pad32(n: number): number {
  return Math.ceil(n / WEIGHT_GROUP) * WEIGHT_GROUP;
}

const CODES_PER_WORD: Record<PackFormat, number> = { f32: 1, f16: 2, q8: 4, q4: 8 };
const MAX_CODE: Record<'q8' | 'q4', number> = { q8: 127, q4: 7 };

export function rowWords(format: MatrixFormat, cols: number): number {
  return isBlockFormat(format) ? blockRowWords(format, cols) : pad32(cols) / CODES_PER_WORD[format];
}

export function scaleWords(format: MatrixFormat, cols: number): number {
  return format === 'q8' || format === 'q4' ? Math.ceil(pad32(cols) / WEIGHT_GROUP / 2) : 0;
}

/** Bytes a [rows, cols] matrix takes in `format`, padding and scales included. */
export function packedBytes(format: MatrixFormat, rows: number, cols: number): number {
  return rows * (rowWords(format, cols) + scaleWords(format, cols)) * 4;
}

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);

/** A matrix's shape in a format, without its data (what a block of rows belongs to). */
export type MatrixShape = Pick<PackedMatrix, 'format' | 'rows' | 'cols' | 'rowWords' | 'scaleWords'>;

export function matrixShape(format: MatrixFormat, rows: number, cols: number): MatrixShape {
  return { format, rows, cols, rowWords: rowWords(format, cols), scaleWords: scaleWords(format, cols) };
}

export function packMatrix(w: Float32Array, rows: number, cols: number, format: PackFormat): PackedMatrix {
  if (w.length !== rows * cols) {
    throw new InvalidArgumentError('matrix size disagrees with its shape', { field: 'w', expected: `${rows * cols} values`, got: String(w.length) });
  }
  return { ...matrixShape(format, rows, cols), ...packRows(w, rows, cols, format) };
}

/**
 * Pack `rows` rows of `cols` f32 values (row-major) into fresh data and scale arrays. Plain typed-array
 * loops per group of 32 (no per-element calls): a 1B model's matrices pack in seconds.
 */
export function packRows(
  w: Float32Array,
  rows: number,
  cols: number,
  format: PackFormat,
): { data: Uint32Array<ArrayBuffer>; scales: Uint32Array<ArrayBuffer> | null } {
  const rw = rowWords(format, cols);
  const sw = scaleWords(format, cols);
  const data = new Uint32Array(rows * rw);
  const scales = sw ? new Uint32Array(rows * sw) : null;
  const padded = pad32(cols);
  const group = new Float32Array(WEIGHT_GROUP);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    const out = r * rw;
    if (format === 'f32') {
      data.set(new Uint32Array(w.buffer, w.byteOffset + src * 4, cols), out);
      continue;
    }
    for (let g = 0; g < padded / WEIGHT_GROUP; g++) {
      const c0 = g * WEIGHT_GROUP;
      // Full groups are read in place; the row's last, partial group goes through a zero-padded copy.
      let v: Float32Array = w;
      let at = src + c0;
      if (c0 + WEIGHT_GROUP > cols) {
        group.fill(0);
        group.set(w.subarray(src + c0, src + cols));
        v = group;
        at = 0;
      }
      if (format === 'f16') {
        for (let i = 0; i < WEIGHT_GROUP; i += 2) data[out + (c0 + i) / 2] = (f32ToF16Bits(v[at + i]) | (f32ToF16Bits(v[at + i + 1]) << 16)) >>> 0;
        continue;
      }
      let absMax = 0;
      for (let i = 0; i < WEIGHT_GROUP; i++) {
        const a = Math.abs(v[at + i]);
        if (a > absMax) absMax = a;
      }
      const scaleBits = f32ToF16Bits(absMax / MAX_CODE[format]);
      const scale = f16BitsToF32(scaleBits);
      scales![r * sw + (g >> 1)] |= scaleBits << ((g & 1) * 16);
      if (format === 'q8') quantizeGroup8(v, at, scale, data, out + c0 / 4);
      else quantizeGroup4(v, at, scale, data, out + c0 / 8);
    }
  }
  if (scales) for (let i = 0; i < scales.length; i++) scales[i] >>>= 0;
  return { data, scales };
}

/** 32 values → 8 words of signed 8-bit codes (code = round(v / scale), clamped to ±127; 0 when scale is 0). */
function quantizeGroup8(v: Float32Array, from: number, scale: number, out: Uint32Array, at: number): void {
  for (let wd = 0; wd < 8; wd++) {
    let word = 0;
    for (let k = 0; k < 4; k++) {
      let code = scale === 0 ? 0 : Math.round(v[from + wd * 4 + k] / scale);
      code = code > 127 ? 127 : Math.max(code, -127);
      word |= (code & 0xff) << (k * 8);
    }
    out[at + wd] = word >>> 0;
  }
}

/** 32 values → 4 words of 4-bit codes stored as code + 8 (code clamped to ±7; 0 when scale is 0). */
function quantizeGroup4(v: Float32Array, from: number, scale: number, out: Uint32Array, at: number): void {
  for (let wd = 0; wd < 4; wd++) {
    let word = 0;
    for (let k = 0; k < 8; k++) {
      let code = scale === 0 ? 0 : Math.round(v[from + wd * 8 + k] / scale);
      code = code > 7 ? 7 : Math.max(code, -7);
      word |= (code + 8) << (k * 4);
    }
    out[at + wd] = word >>> 0;
  }
}

/** The f32 values a packed matrix stands for, [rows, cols] without padding. */
export function unpackMatrix(p: PackedMatrix): Float32Array {
  if (isBlockFormat(p.format)) return unpackBlockRows(p.format, p.data, p.rows, p.cols);
  const out = new Float32Array(p.rows * p.cols);
  for (let r = 0; r < p.rows; r++) {
    const base = r * p.rowWords;
    for (let c = 0; c < p.cols; c++) {
      let v: number;
      if (p.format === 'f32') {
        u32View[0] = p.data[base + c];
        v = f32View[0];
      } else if (p.format === 'f16') {
        v = f16BitsToF32((p.data[base + (c >> 1)] >>> ((c & 1) * 16)) & 0xffff);
      } else {
        const g = Math.floor(c / WEIGHT_GROUP);
        const scale = f16BitsToF32((p.scales![r * p.scaleWords + (g >> 1)] >>> ((g & 1) * 16)) & 0xffff);
        const code = p.format === 'q8' ? ((p.data[base + (c >> 2)] >>> ((c & 3) * 8)) << 24) >> 24 : ((p.data[base + (c >> 3)] >>> ((c & 7) * 4)) & 0xf) - 8;
        v = code * scale;
      }
      out[r * p.cols + c] = v;
    }
  }
  return out;
}
