// Quantizers for the GGUF block formats the loader reads, for tests (written from the formats'
// definitions). Q8_0 and Q4_0 round as llama.cpp's reference quantizers do; the others choose their
// scales more simply than llama.cpp (a valid encoding, somewhat less accurate).

import { f16BitsToF32, f32ToF16Bits } from '../quant/f16';
import { blockValues, IQ4_LEVELS, type TensorEncoding } from '../model/tensor-encoding';

/** `values` ([rows, cols] row-major) in a GGUF encoding. */
export function quantizeGgml(enc: TensorEncoding, values: Float32Array): Uint8Array {
  if (enc === 'F32') return new Uint8Array(values.slice().buffer);
  if (enc === 'F16' || enc === 'BF16') {
    const out = new Uint16Array(values.length);
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) out[i] = enc === 'F16' ? f32ToF16Bits(values[i]) : (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
    return new Uint8Array(out.buffer);
  }
  const n = blockValues(enc);
  const q = BLOCK_QUANTIZERS[enc];
  const size = BLOCK_BYTES[enc];
  const out = new Uint8Array((values.length / n) * size);
  for (let b = 0; b < values.length / n; b++) q(values.subarray(b * n, (b + 1) * n), out, b * size);
  return out;
}

type Quantized = Exclude<TensorEncoding, 'F32' | 'F16' | 'BF16'>;
const BLOCK_BYTES: Record<Quantized, number> = {
  Q8_0: 34,
  Q4_0: 18,
  Q4_1: 20,
  Q5_0: 22,
  Q5_1: 24,
  Q2_K: 84,
  Q3_K: 110,
  Q4_K: 144,
  Q5_K: 176,
  Q6_K: 210,
  IQ4_NL: 18,
  IQ4_XS: 136,
};

function putHalf(out: Uint8Array, at: number, v: number): number {
  const h = f32ToF16Bits(v);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
  return h;
}

/** C's roundf: halves away from zero. */
const roundf = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

/** The value of largest magnitude, with its sign. */
function signedMax(x: Float32Array): number {
  let m = 0;
  for (const v of x) if (Math.abs(v) > Math.abs(m)) m = v;
  return m;
}

function minMax(x: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/** Nibbles of 32 values as Q4_0 / Q5_0 store them: value j low, value j + 16 high, in byte j. */
function putNibbles(q: number[], out: Uint8Array, at: number): void {
  for (let j = 0; j < 16; j++) out[at + j] = (q[j] & 0xf) | ((q[j + 16] & 0xf) << 4);
}

function putFifthBits(q: number[], out: Uint8Array, at: number): void {
  let h = 0;
  for (let j = 0; j < 32; j++) h |= ((q[j] >> 4) & 1) << j;
  new DataView(out.buffer, out.byteOffset).setUint32(at, h >>> 0, true);
}

/** Scales and mins of a K-quant super-block (eight 6-bit pairs in 12 bytes), the inverse of the loader's unpacking. */
function putScaleMins(sc: number[], mn: number[], out: Uint8Array, at: number): void {
  for (let j = 0; j < 4; j++) {
    out[at + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
    out[at + j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
    out[at + j + 8] = (sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4);
  }
}

/** A Q4_K / Q5_K super-block's codes: per 32 values an affine grid of `levels` steps, 6-bit scales of the scales. */
function affineSuperBlock(x: Float32Array, levels: number, out: Uint8Array, at: number): number[] {
  const scale: number[] = [];
  const min: number[] = [];
  for (let j = 0; j < 8; j++) {
    const [lo, hi] = minMax(x.subarray(32 * j, 32 * j + 32));
    const m = Math.min(0, lo);
    scale.push((hi - m) / levels);
    min.push(-m);
  }
  const d = f16(Math.max(...scale) / 63);
  const dmin = f16(Math.max(...min) / 63);
  const sc = scale.map((s) => (d === 0 ? 0 : Math.min(63, Math.round(s / d))));
  const mn = min.map((m) => (dmin === 0 ? 0 : Math.min(63, Math.round(m / dmin))));
  putHalf(out, at, d);
  putHalf(out, at + 2, dmin);
  putScaleMins(sc, mn, out, at + 4);
  const q: number[] = [];
  for (let i = 0; i < 256; i++) {
    const j = i >> 5;
    const step = d * sc[j];
    q.push(step === 0 ? 0 : Math.max(0, Math.min(levels, Math.round((x[i] + dmin * mn[j]) / step))));
  }
  return q;
}

/** Per 16 values, the index of the byte holding a 2-bit code as Q2_K and Q3_K lay them out, and its shift. */
function twoBitSlot(i: number): [number, number] {
  return [32 * (i >> 7) + (i & 31), 2 * ((i >> 5) & 3)];
}

/** The 16-value group (Q2_K / Q3_K scale index) value i of a super-block belongs to. */
const group16 = (i: number) => 8 * (i >> 7) + 2 * ((i >> 5) & 3) + ((i & 31) >> 4);

/** 32 values as IQ4_NL nibbles (value j low, j + 16 high) of the nearest level times `d`. */
function putIq4(x: Float32Array, d: number, out: Uint8Array, at: number): void {
  const q = [...x].map((v) => {
    let best = 0;
    for (let k = 1; k < 16; k++) if (Math.abs(IQ4_LEVELS[k] * d - v) < Math.abs(IQ4_LEVELS[best] * d - v)) best = k;
    return best;
  });
  putNibbles(q, out, at);
}

/** The f16 nearest `v`, as a number (the value a stored scale has). */
function f16(v: number): number {
  return f16BitsToF32(f32ToF16Bits(v));
}

const BLOCK_QUANTIZERS: Record<Quantized, (x: Float32Array, out: Uint8Array, at: number) => void> = {
  Q8_0(x, out, at) {
    let amax = 0;
    for (const v of x) amax = Math.max(amax, Math.abs(v));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    putHalf(out, at, d);
    for (let i = 0; i < 32; i++) out[at + 2 + i] = roundf(Math.fround(x[i] * id)) & 0xff;
  },
  Q4_0(x, out, at) {
    const d = Math.fround(signedMax(x) / -8);
    const id = d ? Math.fround(1 / d) : 0;
    putHalf(out, at, d);
    putNibbles(
      [...x].map((v) => Math.min(15, Math.trunc(Math.fround(v * id) + 8.5))),
      out,
      at + 2,
    );
  },
  Q4_1(x, out, at) {
    const [lo, hi] = minMax(x);
    const d = (hi - lo) / 15;
    putHalf(out, at, d);
    putHalf(out, at + 2, lo);
    putNibbles(
      [...x].map((v) => (d ? Math.min(15, Math.trunc((v - lo) / d + 0.5)) : 0)),
      out,
      at + 4,
    );
  },
  Q5_0(x, out, at) {
    const d = Math.fround(signedMax(x) / -16);
    const id = d ? 1 / d : 0;
    putHalf(out, at, d);
    const q = [...x].map((v) => Math.min(31, Math.trunc(v * id + 16.5)));
    putFifthBits(q, out, at + 2);
    putNibbles(q, out, at + 6);
  },
  Q5_1(x, out, at) {
    const [lo, hi] = minMax(x);
    const d = (hi - lo) / 31;
    putHalf(out, at, d);
    putHalf(out, at + 2, lo);
    const q = [...x].map((v) => (d ? Math.min(31, Math.trunc((v - lo) / d + 0.5)) : 0));
    putFifthBits(q, out, at + 4);
    putNibbles(q, out, at + 8);
  },
  Q2_K(x, out, at) {
    const scale: number[] = [];
    const min: number[] = [];
    for (let g = 0; g < 16; g++) {
      const vals = Float32Array.from({ length: 16 }, (_, k) => x[groupIndex(g, k)]);
      const [lo, hi] = minMax(vals);
      const m = Math.min(0, lo);
      scale.push((hi - m) / 3);
      min.push(-m);
    }
    const d = f16(Math.max(...scale) / 15);
    const dmin = f16(Math.max(...min) / 15);
    putHalf(out, at + 80, d);
    putHalf(out, at + 82, dmin);
    const sc = scale.map((s) => (d === 0 ? 0 : Math.min(15, Math.round(s / d))));
    const mn = min.map((m) => (dmin === 0 ? 0 : Math.min(15, Math.round(m / dmin))));
    for (let g = 0; g < 16; g++) out[at + g] = sc[g] | (mn[g] << 4);
    for (let i = 0; i < 256; i++) {
      const g = group16(i);
      const step = d * sc[g];
      const q = step === 0 ? 0 : Math.max(0, Math.min(3, Math.round((x[i] + dmin * mn[g]) / step)));
      const [byte, shift] = twoBitSlot(i);
      out[at + 16 + byte] |= q << shift;
    }
  },
  Q3_K(x, out, at) {
    const s: number[] = [];
    for (let g = 0; g < 16; g++) s.push(signedMax(Float32Array.from({ length: 16 }, (_, k) => x[groupIndex(g, k)])) / -4);
    const big = s.reduce((a, v) => (Math.abs(v) > Math.abs(a) ? v : a), 0);
    const d = f16(big / -32);
    putHalf(out, at + 108, d);
    const sc = s.map((v) => (d === 0 ? 0 : Math.max(-32, Math.min(31, Math.round(v / d)))));
    for (let g = 0; g < 16; g++) {
      const v = sc[g] + 32;
      out[at + 96 + (g & 7)] |= (v & 0xf) << (g < 8 ? 0 : 4);
      out[at + 104 + (g & 3)] |= (v >> 4) << (2 * (g >> 2));
    }
    for (let i = 0; i < 256; i++) {
      const step = d * sc[group16(i)];
      const q = (step === 0 ? 0 : Math.max(-4, Math.min(3, Math.round(x[i] / step)))) + 4;
      const [byte, shift] = twoBitSlot(i);
      out[at + 32 + byte] |= (q & 3) << shift;
      if (q >> 2) out[at + (i & 31)] |= 1 << (4 * (i >> 7) + ((i >> 5) & 3));
    }
  },
  Q4_K(x, out, at) {
    const q = affineSuperBlock(x, 15, out, at);
    for (let k = 0; k < 4; k++) for (let l = 0; l < 32; l++) out[at + 16 + 32 * k + l] = q[64 * k + l] | (q[64 * k + 32 + l] << 4);
  },
  Q5_K(x, out, at) {
    const q = affineSuperBlock(x, 31, out, at);
    for (let l = 0; l < 32; l++) {
      let h = 0;
      for (let c = 0; c < 8; c++) h |= ((q[32 * c + l] >> 4) & 1) << c;
      out[at + 16 + l] = h;
    }
    for (let k = 0; k < 4; k++) for (let l = 0; l < 32; l++) out[at + 48 + 32 * k + l] = (q[64 * k + l] & 0xf) | ((q[64 * k + 32 + l] & 0xf) << 4);
  },
  Q6_K(x, out, at) {
    const s: number[] = [];
    for (let i = 0; i < 16; i++) s.push(signedMax(x.subarray(16 * i, 16 * i + 16)) / -32);
    const big = s.reduce((a, v) => (Math.abs(v) > Math.abs(a) ? v : a), 0);
    const d = f16(big / -128);
    const sc = s.map((v) => (d === 0 ? 0 : Math.max(-128, Math.min(127, Math.round(v / d)))));
    const q: number[] = [];
    for (let i = 0; i < 256; i++) {
      const step = d * sc[i >> 4];
      q.push(step === 0 ? 32 : Math.max(0, Math.min(63, Math.round(x[i] / step) + 32)));
    }
    for (let n = 0; n < 2; n++) {
      for (let l = 0; l < 32; l++) {
        const v = (k: number) => q[128 * n + 32 * k + l];
        out[at + 64 * n + l] = (v(0) & 0xf) | ((v(2) & 0xf) << 4);
        out[at + 64 * n + l + 32] = (v(1) & 0xf) | ((v(3) & 0xf) << 4);
        out[at + 128 + 32 * n + l] = (v(0) >> 4) | ((v(1) >> 4) << 2) | ((v(2) >> 4) << 4) | ((v(3) >> 4) << 6);
      }
    }
    for (let i = 0; i < 16; i++) out[at + 192 + i] = sc[i] & 0xff;
    putHalf(out, at + 208, d);
  },
  IQ4_NL(x, out, at) {
    const d = f16(signedMax(x) / -127);
    putHalf(out, at, d);
    putIq4(x, d, out, at + 2);
  },
  IQ4_XS(x, out, at) {
    const local = Array.from({ length: 8 }, (_, b) => signedMax(x.subarray(32 * b, 32 * b + 32)) / -127);
    const d = f16(Math.max(...local.map(Math.abs)) / 31);
    putHalf(out, at, d);
    let high = 0;
    for (let b = 0; b < 8; b++) {
      const ls = (d === 0 ? 0 : Math.max(-32, Math.min(31, Math.round(local[b] / d)))) + 32;
      out[at + 4 + (b >> 1)] |= (ls & 0xf) << (4 * (b & 1));
      high |= (ls >> 4) << (2 * b);
      putIq4(x.subarray(32 * b, 32 * b + 32), d * (ls - 32), out, at + 8 + 16 * b);
    }
    out[at + 2] = high & 0xff;
    out[at + 3] = high >> 8;
  },
};

/** Value k (0..15) of 16-value group g of a Q2_K / Q3_K super-block. */
function groupIndex(g: number, k: number): number {
  return 128 * (g >> 3) + 32 * ((g >> 1) & 3) + 16 * (g & 1) + k;
}
