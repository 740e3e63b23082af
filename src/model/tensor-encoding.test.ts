import { describe, expect, it } from 'vitest';
import { seededRandom } from '../engine/sampling';
import { f32ToF16Bits } from '../quant/f16';
import { repackRows } from '../quant/gguf-repack';
import { matrixShape, packMatrix, unpackMatrix } from '../quant/weight-format';
import { quantizeGgml } from '../test-support/ggml-quantize';
import { decodeRows, rowBytes, type TensorEncoding } from './tensor-encoding';

function randomRows(rows: number, cols: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  // Gaussian-ish weights with a few outliers, as real matrices have.
  return Float32Array.from({ length: rows * cols }, (_, i) => (r() + r() + r() - 1.5) * 0.05 * (i % 97 === 0 ? 8 : 1));
}

const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);

describe('GGUF block encodings', () => {
  // Relative RMS error of quantize → decode, against the engine's own q8 / q4 packing of the same values as
  // a yardstick: 8-bit formats near q8, 6- and 5-bit ones between, 4-bit ones no worse than q4.
  const rows = 6;
  const cols = 512;
  const x = randomRows(rows, cols, 11);
  const relErr = (y: Float32Array) => rms(x.map((v, i) => v - y[i])) / rms(x);
  const q8 = relErr(unpackMatrix(packMatrix(x, rows, cols, 'q8')));
  const q4 = relErr(unpackMatrix(packMatrix(x, rows, cols, 'q4')));
  const bounds: [TensorEncoding, number, number][] = [
    ['F16', 0, 1e-3],
    ['BF16', 1e-4, 6e-3],
    ['Q8_0', q8 * 0.9, q8 * 1.1],
    ['Q6_K', q8, q4 / 2],
    ['Q5_0', q8, q4 * 0.7],
    ['Q5_1', q8, q4 * 0.7],
    ['Q5_K', q8, q4 * 0.7],
    ['Q4_0', q4 / 2, q4 * 1.1],
    ['Q4_1', q4 / 2, q4 * 1.1],
    ['Q4_K', q4 / 2, q4 * 1.1],
    ['IQ4_NL', q4 / 2, q4 * 1.1],
    ['IQ4_XS', q4 / 2, q4 * 1.1],
    ['Q3_K', q4, q4 * 2.5],
    ['Q2_K', q4 * 2, q4 * 5],
  ];
  for (const [enc, low, high] of bounds) {
    it(`${enc}: quantize and decode agree (error within its bits' range)`, () => {
      const bytes = quantizeGgml(enc, x);
      expect(bytes.byteLength).toBe(rows * rowBytes(enc, cols));
      const y = new Float32Array(x.length);
      decodeRows(enc, bytes, y);
      const err = relErr(y);
      expect(err).toBeLessThan(high);
      expect(err).toBeGreaterThan(low); // the codes really are that coarse
    });
  }

  it('Q4_K and Q5_K unpack scales 4..7 from the high bits (a hand-built super-block)', () => {
    // d = 1, dmin = 0.5; scale j = j + 1 + 16 * (j >= 4), min j = 2j + 32 * (j >= 4).
    const block = new Uint8Array(144);
    const put = (at: number, v: number) => ((block[at] = f32ToF16Bits(v) & 0xff), (block[at + 1] = f32ToF16Bits(v) >> 8));
    put(0, 1);
    put(2, 0.5);
    const sc = [1, 2, 3, 4, 21, 22, 23, 24];
    const mn = [0, 2, 4, 6, 40, 42, 44, 46];
    for (let j = 0; j < 4; j++) {
      block[4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
      block[8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6);
      block[12 + j] = (sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4);
    }
    // Every nibble is 5: value i of sub-block j is 5 * scale j - 0.5 * min j.
    block.fill(0x55, 16);
    const out = new Float32Array(256);
    decodeRows('Q4_K', block, out);
    for (let j = 0; j < 8; j++) expect(out[32 * j + 7]).toBe(5 * sc[j] - 0.5 * mn[j]);
  });

  it('Q6_K: signed scales per 16 values and the 2-bit high parts (a hand-built super-block)', () => {
    const block = new Uint8Array(210);
    // d = 0.25; scales -3, 5, ... (i - 8 for sub-block i); all low nibbles 1, all high pairs 2 → q = 33 - 32 = 1 + 32 - 32.
    const h = f32ToF16Bits(0.25);
    block[208] = h & 0xff;
    block[209] = h >> 8;
    for (let i = 0; i < 16; i++) block[192 + i] = (i - 8) & 0xff;
    block.fill(0x11, 0, 128); // low nibbles 1
    block.fill(0xaa, 128, 192); // high bits 2 for every value: q = 1 | 2 << 4 = 33
    const out = new Float32Array(256);
    decodeRows('Q6_K', block, out);
    for (let i = 0; i < 256; i++) expect(out[i]).toBe(0.25 * ((i >> 4) - 8) * (33 - 32));
  });
});

describe('GGUF Q8_0 and Q4_0 repacked into q8 and q4', () => {
  for (const [enc, format] of [
    ['Q8_0', 'q8'],
    ['Q4_0', 'q4'],
  ] as const) {
    it(`${enc} → ${format} keeps every value bit for bit`, () => {
      const rows = 5;
      const cols = 96;
      const x = randomRows(rows, cols, 7);
      x[3] = -0.9; // a group whose largest value is negative: Q4_0 then uses code -8
      const bytes = quantizeGgml(enc, x);
      const want = new Float32Array(x.length);
      decodeRows(enc, bytes, want);
      const { data, scales } = repackRows(enc, bytes, rows, cols);
      const got = unpackMatrix({ ...matrixShape(format, rows, cols), data, scales });
      expect([...got]).toEqual([...want]);
      if (enc === 'Q4_0') expect(want[3]).toBeCloseTo(-0.9, 2);
    });
  }

  it('Q3_K: a high bit, a 2-bit code and a 6-bit scale where ggml puts them (a hand-built super-block)', () => {
    // ggml's quantizer sets bit j / 32 of hmask[j % 32] where value j's code exceeds 3, keeps codes as 2 bits at
    // shift 2k of qs[32n + l] (j = 128n + 32k + l), and scale s (one per 16 values) as a low nibble (byte s, or
    // the high nibble of byte s - 8) and a high pair (bits 2 (s / 4) of byte 8 + s % 4), stored + 32.
    const block = new Uint8Array(110);
    const h = f32ToF16Bits(0.5);
    block[108] = h & 0xff;
    block[109] = h >> 8;
    block.fill(0x11, 96, 104); // every low nibble 1
    block.fill(0xaa, 104, 108); // every high pair 2: scale 33 - 32 = 1
    block[96 + 4] = 0x31; // scale 12's low nibble 3: 35 - 32 = 3
    block[32 + 32 + 5] = 3 << 4; // value 197 (n 1, k 2, l 5; scale 8 + 4 = 12): code 3
    block[5] = 1 << 6; // and its high bit: q = 3, not 3 - 4
    const out = new Float32Array(256);
    decodeRows('Q3_K', block, out);
    expect(out[197]).toBe(0.5 * 3 * 3);
    expect(out[196]).toBe(0.5 * 3 * -4); // same scale, code 0, no high bit
    expect(out[0]).toBe(0.5 * 1 * -4);
  });
});
