// How a stored tensor's bytes encode its values, for every encoding the loader reads: safetensors'
// F32 / F16 / BF16 and the GGUF block formats (written from the ggml format's definitions). Rows are the
// unit: a row of `cols` values takes `rowBytes` bytes (a GGUF row is always whole blocks), and
// `decodeRows` widens whole rows to f32.

import { UnsupportedModelError } from '../errors';
import { f16BitsToF32 } from '../quant/f16';
import { decodeToF32 } from './safetensors';

export type TensorEncoding =
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'Q8_0'
  | 'Q4_0'
  | 'Q4_1'
  | 'Q5_0'
  | 'Q5_1'
  | 'Q2_K'
  | 'Q3_K'
  | 'Q4_K'
  | 'Q5_K'
  | 'Q6_K'
  | 'IQ4_NL'
  | 'IQ4_XS';

/** Values per block and bytes per block. */
const BLOCKS: Record<TensorEncoding, [number, number]> = {
  F32: [1, 4],
  F16: [1, 2],
  BF16: [1, 2],
  Q8_0: [32, 34],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q2_K: [256, 84],
  Q3_K: [256, 110],
  Q4_K: [256, 144],
  Q5_K: [256, 176],
  Q6_K: [256, 210],
  IQ4_NL: [32, 18],
  IQ4_XS: [256, 136],
};

export const TENSOR_ENCODINGS = Object.keys(BLOCKS) as TensorEncoding[];

export function isTensorEncoding(name: string): name is TensorEncoding {
  return name in BLOCKS;
}

export function blockValues(enc: TensorEncoding): number {
  return BLOCKS[enc][0];
}

/** Bytes of one row of `cols` values (`cols` a multiple of the block). */
export function rowBytes(enc: TensorEncoding, cols: number): number {
  const [values, bytes] = BLOCKS[enc];
  if (cols % values !== 0)
    throw new UnsupportedModelError('row length is not a whole number of blocks', { field: enc, expected: `a multiple of ${values}`, got: String(cols) });
  return (cols / values) * bytes;
}

/** Widen whole rows: `bytes` holds some number of rows of `enc`, `out` receives their values. */
export function decodeRows(enc: TensorEncoding, bytes: Uint8Array, out: Float32Array): void {
  if (enc === 'F32' || enc === 'F16' || enc === 'BF16') {
    decodeToF32(enc, bytes, out);
    return;
  }
  const [values, size] = BLOCKS[enc];
  const blocks = bytes.byteLength / size;
  const decode = BLOCK_DECODERS[enc];
  for (let b = 0; b < blocks; b++) decode(bytes, b * size, out, b * values);
}

type BlockDecoder = (src: Uint8Array, at: number, out: Float32Array, to: number) => void;

const half = (src: Uint8Array, at: number): number => f16BitsToF32(src[at] | (src[at + 1] << 8));

/** K-quant 6-bit scale and min j (0..7) of a Q4_K / Q5_K super-block, from its 12 packed bytes at `s`. */
function scaleMin(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j] & 63, src[s + j + 4] & 63];
  return [(src[s + j + 4] & 0xf) | ((src[s + j - 4] >> 6) << 4), (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4)];
}

/** Q4_K (`fifth` false) and Q5_K: w = d * scale_j * q - dmin * min_j per 32-value chunk j. */
function affineSuperBlock(src: Uint8Array, at: number, out: Float32Array, to: number, fifth: boolean): void {
  const d = half(src, at);
  const dmin = half(src, at + 2);
  const qh = at + 16;
  const qs = fifth ? at + 48 : at + 16;
  for (let k = 0; k < 4; k++) {
    const [s0, m0] = scaleMin(src, at + 4, 2 * k);
    const [s1, m1] = scaleMin(src, at + 4, 2 * k + 1);
    const q = qs + 32 * k;
    const o = to + 64 * k;
    for (let l = 0; l < 32; l++) {
      const h = fifth ? src[qh + l] : 0;
      out[o + l] = d * s0 * ((src[q + l] & 0xf) | (((h >> (2 * k)) & 1) << 4)) - dmin * m0;
      out[o + 32 + l] = d * s1 * ((src[q + l] >> 4) | (((h >> (2 * k + 1)) & 1) << 4)) - dmin * m1;
    }
  }
}

/** The 16 non-uniform levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
export const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** 16 bytes of nibbles as IQ4_NL keeps 32 values (j low, j + 16 high in byte j), each a level times `d`. */
function iq4Values(src: Uint8Array, q: number, d: number, out: Float32Array, to: number): void {
  for (let j = 0; j < 16; j++) {
    out[to + j] = d * IQ4_LEVELS[src[q + j] & 0xf];
    out[to + j + 16] = d * IQ4_LEVELS[src[q + j] >> 4];
  }
}

const BLOCK_DECODERS: Record<Exclude<TensorEncoding, 'F32' | 'F16' | 'BF16'>, BlockDecoder> = {
  // d (f16), 32 signed bytes: w = d * q.
  Q8_0(src, at, out, to) {
    const d = half(src, at);
    for (let i = 0; i < 32; i++) out[to + i] = d * ((src[at + 2 + i] << 24) >> 24);
  },
  // d, 16 bytes: element j in the low nibble of byte j, element j + 16 in its high nibble; w = d * (q - 8).
  Q4_0(src, at, out, to) {
    const d = half(src, at);
    for (let j = 0; j < 16; j++) {
      const q = src[at + 2 + j];
      out[to + j] = d * ((q & 0xf) - 8);
      out[to + j + 16] = d * ((q >> 4) - 8);
    }
  },
  // d, m, 16 bytes of nibbles as Q4_0: w = d * q + m.
  Q4_1(src, at, out, to) {
    const d = half(src, at);
    const m = half(src, at + 2);
    for (let j = 0; j < 16; j++) {
      const q = src[at + 4 + j];
      out[to + j] = d * (q & 0xf) + m;
      out[to + j + 16] = d * (q >> 4) + m;
    }
  },
  // d, a u32 of fifth bits (bit i for element i), nibbles as Q4_0: w = d * (q - 16).
  Q5_0(src, at, out, to) {
    const d = half(src, at);
    const qh = src[at + 2] | (src[at + 3] << 8) | (src[at + 4] << 16) | (src[at + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[at + 6 + j];
      out[to + j] = d * (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16);
      out[to + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  },
  // d, m, fifth bits, nibbles: w = d * q + m.
  Q5_1(src, at, out, to) {
    const d = half(src, at);
    const m = half(src, at + 2);
    const qh = src[at + 4] | (src[at + 5] << 8) | (src[at + 6] << 16) | (src[at + 7] << 24);
    for (let j = 0; j < 16; j++) {
      const q = src[at + 8 + j];
      out[to + j] = d * ((q & 0xf) | (((qh >>> j) & 1) << 4)) + m;
      out[to + j + 16] = d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m;
    }
  },
  // 256 values: 16 bytes of 4-bit (scale, min) pairs (scale low), 64 bytes of 2-bit codes, d, dmin. Each half of
  // 128 values reads 32 code bytes four times (shift 0, 2, 4, 6), 32 values a shift, 16 values a pair:
  // w = d * scale * q - dmin * min.
  Q2_K(src, at, out, to) {
    const d = half(src, at + 80);
    const dmin = half(src, at + 82);
    for (let i = 0; i < 256; i++) {
      const n = i >> 7;
      const k = (i >> 5) & 3;
      const l = i & 31;
      const sc = src[at + 8 * n + 2 * k + (l >> 4)];
      out[to + i] = d * (sc & 0xf) * ((src[at + 16 + 32 * n + l] >> (2 * k)) & 3) - dmin * (sc >> 4);
    }
  },
  // 256 values: 32 bytes of high bits, 64 bytes of 2-bit codes (laid out as Q2_K's), 16 6-bit scales in 12 bytes
  // (low nibbles in bytes 0-7, high pairs in bytes 8-11), d. Value i's high bit is bit 4n + k of hmask[l];
  // w = d * (scale - 32) * (q - (high ? 0 : 4)).
  Q3_K(src, at, out, to) {
    const d = half(src, at + 108);
    for (let i = 0; i < 256; i++) {
      const n = i >> 7;
      const k = (i >> 5) & 3;
      const l = i & 31;
      const s = 8 * n + 2 * k + (l >> 4);
      const lo = s < 8 ? src[at + 96 + s] & 0xf : src[at + 96 + s - 8] >> 4;
      const scale = (lo | (((src[at + 104 + (s & 3)] >> (2 * (s >> 2))) & 3) << 4)) - 32;
      const q = ((src[at + 32 + 32 * n + l] >> (2 * k)) & 3) - ((src[at + l] >> (4 * n + k)) & 1 ? 0 : 4);
      out[to + i] = d * scale * q;
    }
  },
  // 256 values: d, dmin, 12 bytes of eight 6-bit (scale, min) pairs, 128 bytes of nibbles. Each 64 values
  // share 32 bytes: the low nibbles are the first 32 values (pair 2k), the high nibbles the next (pair 2k+1).
  Q4_K: (src, at, out, to) => affineSuperBlock(src, at, out, to, false),
  // As Q4_K plus 32 bytes of fifth bits before the nibbles: bit c of byte l is value l of the 32-value chunk c.
  Q5_K: (src, at, out, to) => affineSuperBlock(src, at, out, to, true),
  // 256 values: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales (one per 16
  // values), d last. Each half of 128 values uses 64 nibble bytes and 32 high bytes; w = d * scale * (q - 32).
  Q6_K(src, at, out, to) {
    const d = half(src, at + 208);
    for (let n = 0; n < 2; n++) {
      const ql = at + 64 * n;
      const qh = at + 128 + 32 * n;
      const sc = at + 192 + 8 * n;
      const o = to + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[o + l] = d * ((src[sc + is] << 24) >> 24) * q1;
        out[o + l + 32] = d * ((src[sc + is + 2] << 24) >> 24) * q2;
        out[o + l + 64] = d * ((src[sc + is + 4] << 24) >> 24) * q3;
        out[o + l + 96] = d * ((src[sc + is + 6] << 24) >> 24) * q4;
      }
    }
  },
  // d, 16 bytes of nibbles as Q4_0; a nibble picks one of IQ4_LEVELS: w = d * level.
  IQ4_NL: (src, at, out, to) => iq4Values(src, at + 2, half(src, at), out, to),
  // 256 values: d, 16 bits of scale highs (2 per 32 values), 4 bytes of scale lows (a nibble per 32 values),
  // then per 32 values 16 bytes as IQ4_NL: w = d * (scale - 32) * level.
  IQ4_XS(src, at, out, to) {
    const d = half(src, at);
    const high = src[at + 2] | (src[at + 3] << 8);
    for (let b = 0; b < 8; b++) {
      const scale = ((src[at + 4 + (b >> 1)] >> (4 * (b & 1))) & 0xf) | (((high >> (2 * b)) & 3) << 4);
      iq4Values(src, at + 8 + 16 * b, d * (scale - 32), out, to + 32 * b);
    }
  },
};
