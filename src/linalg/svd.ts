// Thin SVD by one-sided Jacobi rotations in f64: deterministic (fixed sweep order, fixed sign convention)
// and accurate to rounding, which is what XQuant-GQA's load-time basis change needs.
//
// Input: the n rows of Wt (n <= m), i.e. the n columns of A = Wtᵀ (m×n). Output A = U·diag(s)·Vᵀ with
// s descending, U's columns orthonormal, V orthogonal, and each column of V signed so that its largest
// |entry| is positive. Columns of U for zero singular values are zero (they never contribute).

export interface ThinSvd {
  m: number;
  n: number;
  /** U columns as rows: u[i*m + r] = U[r][i]. */
  u: Float64Array;
  s: Float64Array;
  /** v[j*n + i] = V[j][i]. */
  v: Float64Array;
}

export function thinSvdOfRows(wt: ArrayLike<number>, n: number, m: number, maxSweeps = 60): ThinSvd {
  if (n > m) throw new Error(`thinSvdOfRows expects n <= m, got ${n} x ${m}`);
  const a = Float64Array.from(wt as ArrayLike<number>); // a[j*m + r] = A[r][j]
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const eps = 1e-15;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let r = 0; r < m; r++) {
          const x = a[p * m + r];
          const y = a[q * m + r];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let r = 0; r < m; r++) {
          const x = a[p * m + r];
          const y = a[q * m + r];
          a[p * m + r] = c * x - s * y;
          a[q * m + r] = s * x + c * y;
        }
        for (let k = 0; k < n; k++) {
          const x = v[k * n + p];
          const y = v[k * n + q];
          v[k * n + p] = c * x - s * y;
          v[k * n + q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => {
    let ss = 0;
    for (let r = 0; r < m; r++) ss += a[j * m + r] ** 2;
    return Math.sqrt(ss);
  });
  const order = norms.map((_, j) => j).sort((x, y) => norms[y] - norms[x] || x - y);
  const u = new Float64Array(n * m);
  const s = new Float64Array(n);
  const vs = new Float64Array(n * n);
  const tiny = (norms[order[0]] || 0) * 1e-13;
  order.forEach((j, i) => {
    s[i] = norms[j];
    let big = 0;
    for (let k = 0; k < n; k++) if (Math.abs(v[k * n + j]) > Math.abs(v[big * n + j])) big = k;
    const sign = v[big * n + j] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vs[k * n + i] = sign * v[k * n + j];
    if (s[i] > tiny) for (let r = 0; r < m; r++) u[i * m + r] = (sign * a[j * m + r]) / s[i];
    else s[i] = 0;
  });
  return { m, n, u, s, v: vs };
}
