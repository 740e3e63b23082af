import { describe, expect, it } from 'vitest';
import { thinSvdOfRows } from './svd';
import { symmetricEigen } from './symmetric-eigen';

/** Orthonormal columns from Gram-Schmidt on a fixed pseudo-random matrix. */
function orthonormal(rows: number, cols: number, seed: number): number[][] {
  let s = seed;
  const r = () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
  const out: number[][] = [];
  for (let j = 0; j < cols; j++) {
    const v = Array.from({ length: rows }, r);
    for (const u of out) {
      const d = u.reduce((a, x, i) => a + x * v[i], 0);
      for (let i = 0; i < rows; i++) v[i] -= d * u[i];
    }
    const n = Math.hypot(...v);
    out.push(v.map((x) => x / n));
  }
  return out; // out[j] is column j
}

describe('thin SVD (Gram eigendecomposition)', () => {
  it('recovers a known decomposition A = U diag(s) Vᵀ', () => {
    const m = 12;
    const n = 5;
    const U = orthonormal(m, n, 3);
    const V = orthonormal(n, n, 11);
    const s = [9, 4, 2.5, 1, 0.25];
    // Wt[j][r] = A[r][j] = sum_i U[r][i] s_i V[j][i]
    const wt = new Float64Array(n * m);
    for (let j = 0; j < n; j++) for (let r = 0; r < m; r++) for (let i = 0; i < n; i++) wt[j * m + r] += U[i][r] * s[i] * V[i][j];
    const svd = thinSvdOfRows(wt, n, m);
    for (let i = 0; i < n; i++) expect(svd.s[i]).toBeCloseTo(s[i], 12);
    for (let i = 0; i < n; i++) {
      // singular vectors match up to the sign convention (largest |V| entry positive)
      const sign = Math.sign(svd.v[0 * n + i] / V[i][0]);
      for (let r = 0; r < m; r++) expect(svd.u[i * m + r]).toBeCloseTo(sign * U[i][r], 10);
      for (let j = 0; j < n; j++) expect(svd.v[j * n + i]).toBeCloseTo(sign * V[i][j], 10);
    }
  });

  it('is deterministic, orthonormal and reconstructs rank-deficient input', () => {
    const m = 10;
    const n = 4;
    const a = Float64Array.from({ length: n * m }, (_, k) => Math.sin(k * 1.7) + (k % m) * 0.1);
    a.copyWithin(3 * m, 0, m); // row 3 = row 0: rank 3
    const one = thinSvdOfRows(a, n, m);
    const two = thinSvdOfRows(a, n, m);
    expect(one).toEqual(two);
    expect(one.s[3]).toBe(0);
    for (let j = 0; j < n; j++)
      for (let r = 0; r < m; r++) {
        let v = 0;
        for (let i = 0; i < n; i++) v += one.u[i * m + r] * one.s[i] * one.v[j * n + i];
        expect(v).toBeCloseTo(a[j * m + r], 10);
      }
    for (let i = 0; i < 3; i++)
      for (let k = 0; k < 3; k++) {
        let d = 0;
        for (let r = 0; r < m; r++) d += one.u[i * m + r] * one.u[k * m + r];
        expect(d).toBeCloseTo(i === k ? 1 : 0, 10);
      }
  });
});

describe('symmetric eigendecomposition', () => {
  it('diagonalizes a random symmetric matrix: A·v = λ·v, orthonormal vectors, descending values', () => {
    const n = 40;
    let seed = 7;
    const r = () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = r();
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
    for (let i = 0; i < n; i++) {
      for (let row = 0; row < n; row++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[row * n + k] * vectors[i * n + k];
        expect(av).toBeCloseTo(values[i] * vectors[i * n + row], 11);
      }
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors[i * n + k] * vectors[j * n + k];
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
  });

  it('handles repeated and zero eigenvalues (a projection matrix)', () => {
    const n = 6;
    const a = new Float64Array(n * n);
    for (let i = 0; i < 3; i++) a[i * n + i] = 2;
    const { values } = symmetricEigen(a, n);
    expect([...values]).toEqual([2, 2, 2, 0, 0, 0]);
  });
});
