// Thin SVD of a wide matrix given by its n rows (n <= m), through the n × n Gram matrix: Wt·Wtᵀ = V·Λ·Vᵀ,
// s = ‖Wtᵀ·v‖, u = Wtᵀ·v / s. Cost O(n²·m + n³) instead of a Jacobi SVD's sweeps over n × m, so the
// basis change of Llama-3.2-1B's W_k (512 × 2048) takes well under a second.
//
// Because V is orthogonal, Σ_i v_i·s_i·u_iᵀ = V·Vᵀ·Wt = Wt for any s_i > 0: the factors rebuild the matrix
// to rounding even where the Gram matrix's squared condition number blurs the small singular values.
// Components below a relative 1e-9 of the largest are treated as zero (they are below what the Gram
// matrix resolves; real projection weights have none).

import { symmetricEigen } from './symmetric-eigen';

export interface ThinSvd {
  m: number;
  n: number;
  /** U columns as rows: u[i*m + r] = U[r][i]. */
  u: Float64Array;
  s: Float64Array;
  /** v[j*n + i] = V[j][i]. */
  v: Float64Array;
}

const RELATIVE_ZERO = 1e-9;

export function thinSvdOfRows(wt: ArrayLike<number>, n: number, m: number): ThinSvd {
  if (n > m) throw new Error(`thinSvdOfRows expects n <= m, got ${n} x ${m}`);
  const a = Float64Array.from(wt as ArrayLike<number>); // a[j*m + r] = A[r][j]
  const gram = gramOfRows(a, n, m);
  const eig = symmetricEigen(gram, n);
  const u = new Float64Array(n * m);
  const s = new Float64Array(n);
  const v = new Float64Array(n * n);
  // Row i of u (before normalizing) is Σ_j V[j][i]·(row j of Wt): four outputs per pass over the rows.
  const uRaw = combineRows(eig.vectors, a, n, m, wt instanceof Float32Array);
  let largest = 0;
  for (let i = 0; i < n; i++) {
    const col = uRaw.subarray(i * m, i * m + m);
    const norm = Math.sqrt(dot(col, col, m));
    largest = Math.max(largest, norm);
    s[i] = norm;
    for (let j = 0; j < n; j++) v[j * n + i] = eig.vectors[i * n + j];
    if (norm > 0) for (let r = 0; r < m; r++) u[i * m + r] = col[r] / norm;
  }
  for (let i = 0; i < n; i++) {
    if (s[i] <= largest * RELATIVE_ZERO) {
      s[i] = 0;
      u.fill(0, i * m, i * m + m);
    }
  }
  return { m, n, u, s, v };
}

/** Gram matrix of the n rows of a (each of length m), four rows against one per pass. */
function gramOfRows(a: Float64Array, n: number, m: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i += 4) {
    const rows = Math.min(4, n - i);
    const r0 = i * m;
    const r1 = (i + Math.min(1, rows - 1)) * m;
    const r2 = (i + Math.min(2, rows - 1)) * m;
    const r3 = (i + Math.min(3, rows - 1)) * m;
    for (let j = 0; j < i + rows; j++) {
      const rj = j * m;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let c = 0; c < m; c++) {
        const y = a[rj + c];
        s0 += a[r0 + c] * y;
        s1 += a[r1 + c] * y;
        s2 += a[r2 + c] * y;
        s3 += a[r3 + c] * y;
      }
      const sums = [s0, s1, s2, s3];
      for (let k = 0; k < rows; k++) {
        if (j > i + k) continue;
        g[(i + k) * n + j] = sums[k];
        g[j * n + i + k] = sums[k];
      }
    }
  }
  return g;
}

/**
 * out[i] = Σ_j coef[i*n + j] · (row j of a), rows of length m. Computed as dot products against the
 * transpose of a (each column of a made contiguous), four outputs at once with the sums in registers:
 * half the memory traffic of accumulating whole rows.
 */
function combineRows(coef: Float64Array, a: Float64Array, n: number, m: number, f32Input: boolean): Float64Array {
  // Model weights arrive as f32: their transpose is exact in f32, at half the memory traffic.
  const at = f32Input ? new Float32Array(m * n) : new Float64Array(m * n);
  for (let j = 0; j < n; j++) for (let r = 0; r < m; r++) at[r * n + j] = a[j * m + r];
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i += 4) {
    const rows = Math.min(4, n - i);
    const c0 = i * n;
    const c1 = (i + Math.min(1, rows - 1)) * n;
    const c2 = (i + Math.min(2, rows - 1)) * n;
    const c3 = (i + Math.min(3, rows - 1)) * n;
    for (let r = 0; r < m; r++) {
      const col = r * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < n; j++) {
        const x = at[col + j];
        s0 += coef[c0 + j] * x;
        s1 += coef[c1 + j] * x;
        s2 += coef[c2 + j] * x;
        s3 += coef[c3 + j] * x;
      }
      out[i * m + r] = s0;
      if (rows > 1) out[(i + 1) * m + r] = s1;
      if (rows > 2) out[(i + 2) * m + r] = s2;
      if (rows > 3) out[(i + 3) * m + r] = s3;
    }
  }
  return out;
}

function dot(x: Float64Array, y: Float64Array, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let r = 0;
  for (; r + 3 < len; r += 4) {
    s0 += x[r] * y[r];
    s1 += x[r + 1] * y[r + 1];
    s2 += x[r + 2] * y[r + 2];
    s3 += x[r + 3] * y[r + 3];
  }
  for (; r < len; r++) s0 += x[r] * y[r];
  return s0 + s1 + s2 + s3;
}
