import { describe, expect, it } from 'vitest';
import { QuantizationError } from '../errors';
import { f16BitsToF32, f16CeilBits, f16FloorBits, f32ToF16Bits, roundF16 } from './f16';
import { dequantizeGroup, metaScale, packCodes, packedWords, quantizeGroup, unpackCodes, QUANT_BITS } from './quantize';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('f16', () => {
  it('converts known values exactly', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds to +Infinity
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(roundF16(1 + 2 ** -11)).toBe(1); // ties to even
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
  });

  it('round-trips every finite f16 value', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      const v = f16BitsToF32(h);
      const back = f32ToF16Bits(v);
      expect(back === h || (v === 0 && (back & 0x7fff) === 0)).toBe(true);
    }
  });

  it('directed rounding brackets the value', () => {
    const r = rng(1);
    for (let i = 0; i < 2000; i++) {
      const x = (r() - 0.5) * 10 ** (r() * 8 - 4);
      expect(f16BitsToF32(f16FloorBits(x))).toBeLessThanOrEqual(x);
      expect(f16BitsToF32(f16CeilBits(x))).toBeGreaterThanOrEqual(x);
    }
  });
});

describe('code packing', () => {
  for (const bits of QUANT_BITS) {
    it(`round-trips ${bits}-bit codes for group sizes 1..130`, () => {
      const r = rng(bits);
      for (let n = 1; n <= 130; n++) {
        const codes = Uint8Array.from({ length: n }, () => Math.floor(r() * 2 ** bits));
        const words = new Uint32Array(packedWords(n, bits) + 2);
        words.fill(0xffffffff);
        packCodes(codes, bits, words, 1);
        expect(words[0]).toBe(0xffffffff); // neighbours untouched
        expect(words[words.length - 1]).toBe(0xffffffff);
        expect(unpackCodes(words, 1, n, bits, new Uint8Array(n))).toEqual(codes);
      }
    });
  }

  it('a 128-element group takes exactly 4*b words', () => {
    for (const b of QUANT_BITS) expect(packedWords(128, b)).toBe(4 * b);
  });
});

describe('asymmetric uniform quantizer', () => {
  const roundTrip = (x: Float32Array, bits: number) => {
    const codes = new Uint32Array(packedWords(x.length, bits));
    const meta = quantizeGroup(x, 0, 1, x.length, bits, codes, 0);
    const out = new Float32Array(x.length);
    dequantizeGroup(codes, 0, meta, x.length, bits, out, 0, 1);
    return { out, step: metaScale(meta) };
  };

  for (const bits of QUANT_BITS) {
    it(`${bits}-bit: error never exceeds half a step, and the step is (max-min)/(2^b-1) up to f16 rounding`, () => {
      const r = rng(100 + bits);
      for (let trial = 0; trial < 200; trial++) {
        const scale = 10 ** (r() * 4 - 2);
        const x = Float32Array.from({ length: 128 }, () => (r() - 0.3) * scale);
        const { out, step } = roundTrip(x, bits);
        let min = Infinity;
        let max = -Infinity;
        for (const v of x) (min = Math.min(min, v)), (max = Math.max(max, v));
        const ideal = (max - min) / (2 ** bits - 1);
        expect(step).toBeGreaterThanOrEqual(ideal);
        expect(step).toBeLessThan(ideal * 1.002 + 1e-7);
        for (let i = 0; i < x.length; i++) expect(Math.abs(out[i] - x[i])).toBeLessThanOrEqual(step / 2 + 1e-6 * step);
      }
    });
  }

  it('constant rows reconstruct within half a (tiny) step', () => {
    for (const c of [0, 1, -3.3, 1234.567]) {
      const x = new Float32Array(64).fill(c);
      const { out, step } = roundTrip(x, 2);
      for (const v of out) expect(Math.abs(v - c)).toBeLessThanOrEqual(step / 2 + Math.abs(c) * 1e-7);
      expect(step).toBeLessThan(Math.max(1e-3, Math.abs(c) * 1e-3));
    }
  });

  it('a row with an outlier keeps the outlier and bounds the rest by half a step', () => {
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) * 0.1);
    x[17] = 80;
    const { out, step } = roundTrip(x, 4);
    expect(Math.abs(out[17] - 80)).toBeLessThanOrEqual(step / 2);
    for (let i = 0; i < 128; i++) expect(Math.abs(out[i] - x[i])).toBeLessThanOrEqual(step / 2 + 1e-6);
    expect(step).toBeGreaterThan(5); // the outlier sets the range: small values collapse to a few codes
  });

  it('rejects NaN and values beyond the f16 range with a typed error', () => {
    const codes = new Uint32Array(4);
    expect(() => quantizeGroup([1, NaN], 0, 1, 2, 4, codes, 0)).toThrow(QuantizationError);
    expect(() => quantizeGroup([1, 1e6], 0, 1, 2, 4, codes, 0)).toThrow(QuantizationError);
  });

  it('strided groups read channels of a token-major block', () => {
    const dim = 3;
    const block = Float32Array.from({ length: 4 * dim }, (_, i) => i);
    const codes = new Uint32Array(1);
    const meta = quantizeGroup(block, 1, dim, 4, 8, codes, 0); // channel 1: 1, 4, 7, 10
    const out = new Float32Array(4);
    dequantizeGroup(codes, 0, meta, 4, 8, out, 0, 1);
    expect(Array.from(out).map((v) => Math.round(v * 100) / 100)).toEqual([1, 4, 7, 10]);
  });
});
