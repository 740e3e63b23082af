// IEEE 754 binary16 conversion in plain TypeScript (Math.f16round is not in Node 20).
// Round-to-nearest-even for storage, plus directed rounding the quantizer uses to make sure the
// stored f16 range [zero, zero + levels*scale] still covers the f32 values it was computed from.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export const F16_MAX = 65504;

/** f32 value -> f16 bits, round to nearest even; overflow gives ±Infinity. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m += 1;
    return sign | m; // may carry into the smallest normal, which is the right encoding
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m += 1;
    if (m === 0x400) {
      m = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Round an f32 value to the nearest representable f16 value. */
export function roundF16(value: number): number {
  return f16BitsToF32(f32ToF16Bits(value));
}

/** Bits of the next f16 toward +Infinity (finite inputs). */
function nextUpBits(h: number): number {
  if (h === 0x8000) return 0x0001;
  return h & 0x8000 ? h - 1 : h + 1;
}

function nextDownBits(h: number): number {
  if (h === 0x0000) return 0x8001;
  return h & 0x8000 ? h + 1 : h - 1;
}

/** Largest f16 <= value, as bits. */
export function f16FloorBits(value: number): number {
  const h = f32ToF16Bits(value);
  return f16BitsToF32(h) > value ? nextDownBits(h) : h;
}

/** Smallest f16 >= value, as bits. */
export function f16CeilBits(value: number): number {
  const h = f32ToF16Bits(value);
  return f16BitsToF32(h) < value ? nextUpBits(h) : h;
}
