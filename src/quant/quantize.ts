// Asymmetric uniform (min/max, round-to-nearest) quantization of one group, the form XQuant and KIVI use:
//   scale = (max - min) / (2^b - 1),  zero = min,  code = round((x - zero) / scale),  x̂ = code * scale + zero.
// Scale and zero are stored as f16 packed into one u32 (scale in the low half, zero in the high half,
// the layout WGSL's unpack2x16float reads). Codes are a little-endian bitstream in u32 words, so a
// group of 128 codes takes exactly 4*b words for every b (3-bit codes straddle word boundaries).
//
// The f16 zero is rounded down and the f16 scale up, so the stored grid still spans [min, max] and the
// reconstruction error of every element is at most half of the stored step.

import { QuantizationError } from '../errors';
import { F16_MAX, f16BitsToF32, f16CeilBits, f16FloorBits } from './f16';

export type QuantBits = 2 | 3 | 4 | 8;
export const QUANT_BITS: readonly QuantBits[] = [2, 3, 4, 8];

/** u32 words that hold `count` codes of `bits` bits. */
export function packedWords(count: number, bits: number): number {
  return Math.ceil((count * bits) / 32);
}

export function packCodes(codes: ArrayLike<number>, bits: number, out: Uint32Array, outOffset: number): void {
  const words = packedWords(codes.length, bits);
  out.fill(0, outOffset, outOffset + words);
  for (let i = 0; i < codes.length; i++) {
    const bit = i * bits;
    const w = outOffset + (bit >>> 5);
    const s = bit & 31;
    out[w] = (out[w] | (codes[i] << s)) >>> 0;
    if (s + bits > 32) out[w + 1] = (out[w + 1] | (codes[i] >>> (32 - s))) >>> 0;
  }
}

export function unpackCode(words: Uint32Array, offset: number, index: number, bits: number): number {
  const bit = index * bits;
  const w = offset + (bit >>> 5);
  const s = bit & 31;
  let v = words[w] >>> s;
  if (s + bits > 32) v |= words[w + 1] << (32 - s);
  return v & ((1 << bits) - 1);
}

export function unpackCodes(words: Uint32Array, offset: number, count: number, bits: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < count; i++) out[i] = unpackCode(words, offset, i, bits);
  return out;
}

export function packMeta(scaleBits: number, zeroBits: number): number {
  return ((zeroBits << 16) | scaleBits) >>> 0;
}

export function metaScale(meta: number): number {
  return f16BitsToF32(meta & 0xffff);
}

export function metaZero(meta: number): number {
  return f16BitsToF32(meta >>> 16);
}

/**
 * Quantize `count` values read from src[offset + i*stride] into codes written at codes[codesOffset...].
 * Returns the packed f16 (scale, zero) meta word.
 */
export function quantizeGroup(
  src: ArrayLike<number>,
  offset: number,
  stride: number,
  count: number,
  bits: number,
  codes: Uint32Array,
  codesOffset: number,
): number {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count && !Number.isNaN(min); i++) {
    const x = src[offset + i * stride];
    if (x < min) min = x;
    if (x > max) max = x;
    if (Number.isNaN(x)) min = NaN;
  }
  if (!(min >= -F16_MAX && max <= F16_MAX)) {
    throw new QuantizationError('group holds values an f16 scale/zero cannot represent', {
      expected: `finite values within ±${F16_MAX}`,
      got: `min ${min}, max ${max}`,
    });
  }
  const levels = (1 << bits) - 1;
  const zeroBits = f16FloorBits(min);
  const zero = f16BitsToF32(zeroBits);
  const scaleBits = f16CeilBits((max - zero) / levels);
  const scale = f16BitsToF32(scaleBits);
  const q = new Uint8Array(count);
  if (scale > 0) {
    for (let i = 0; i < count; i++) {
      const c = Math.round((src[offset + i * stride] - zero) / scale);
      q[i] = c < 0 ? 0 : Math.min(c, levels);
    }
  }
  packCodes(q, bits, codes, codesOffset);
  return packMeta(scaleBits, zeroBits);
}

/** Inverse of quantizeGroup: writes dst[dstOffset + i*dstStride] = code_i * scale + zero. */
export function dequantizeGroup(
  codes: Uint32Array,
  codesOffset: number,
  meta: number,
  count: number,
  bits: number,
  dst: Float32Array,
  dstOffset: number,
  dstStride: number,
): void {
  const scale = metaScale(meta);
  const zero = metaZero(meta);
  for (let i = 0; i < count; i++) {
    dst[dstOffset + i * dstStride] = unpackCode(codes, codesOffset, i, bits) * scale + zero;
  }
}
