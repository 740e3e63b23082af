import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from './f16';
import { packedBytes, packMatrix, parseWeightFormat, unpackMatrix } from './weight-format';

const rows = 3;
const cols = 40; // not a multiple of 32: the second group of each row is padded
const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.7) * (1 + (i % 5)));

describe('weight formats', () => {
  it('f32 round-trips exactly, f16 to f16 precision', () => {
    expect(Array.from(unpackMatrix(packMatrix(w, rows, cols, 'f32')))).toEqual(Array.from(w));
    const h = unpackMatrix(packMatrix(w, rows, cols, 'f16'));
    for (let i = 0; i < w.length; i++) expect(Math.abs(h[i] - w[i])).toBeLessThanOrEqual(Math.abs(w[i]) * 2 ** -11 + 1e-7);
  });

  it.each([
    ['q8', 127],
    ['q4', 7],
  ] as const)('%s: error at most half a step of its group scale, codes in range', (format, max) => {
    const p = packMatrix(w, rows, cols, format);
    const back = unpackMatrix(p);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const g = Math.floor(c / 32);
        const scale = f16BitsToF32((p.scales![r * p.scaleWords + (g >> 1)] >>> ((g & 1) * 16)) & 0xffff);
        let absMax = 0;
        for (let k = g * 32; k < Math.min(cols, g * 32 + 32); k++) absMax = Math.max(absMax, Math.abs(w[r * cols + k]));
        expect(scale).toBeCloseTo(absMax / max, 2);
        expect(Math.abs(back[r * cols + c] - w[r * cols + c])).toBeLessThanOrEqual(scale / 2 + 1e-6);
      }
    }
  });

  it('q4 packs code + 8 lowest nibble first; sizes include padding and scales', () => {
    const one = new Float32Array(32);
    one[0] = 7;
    one[1] = -7;
    one[2] = 3;
    const p = packMatrix(one, 1, 32, 'q4');
    expect(p.data[0] & 0xfff).toBe(15 | (1 << 4) | (11 << 8));
    expect(f16BitsToF32(p.scales![0] & 0xffff)).toBe(1);
    expect(packedBytes('f32', 3, 40)).toBe(3 * 64 * 4);
    expect(packedBytes('q8', 3, 40)).toBe(3 * (16 + 1) * 4);
    expect(packedBytes('q4', 3, 40)).toBe(3 * (8 + 1) * 4);
    expect(() => parseWeightFormat('q5')).toThrow(/expected f32, f16, q8, q4/);
  });
});
