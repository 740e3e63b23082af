// Eigendecomposition of a real symmetric matrix in f64: Householder reduction to tridiagonal form, then
// the implicit QL method with Wilkinson-style shifts. O(n³), a few hundred milliseconds for n = 512, which
// is what XQuant-GQA's basis change needs (the Gram matrix of W_k, d_kv × d_kv, not the d × d_kv matrix).
//
// Output: eigenvalues descending, eigenvectors as rows (vectors[i*n + k] = k-th entry of vector i), each
// signed so that its largest |entry| (first on ties) is positive, so equal inputs give equal outputs.

export interface SymmetricEigen {
  n: number;
  values: Float64Array;
  /** Row i is the unit eigenvector of values[i]. */
  vectors: Float64Array;
}

export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  const z = Float64Array.from(matrix as ArrayLike<number>); // z[r*n + c], symmetric
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(z, n, d, e);
  // z now holds the accumulated Householder transform Q (A = Q T Qᵀ) in columns; QL rotates pairs of
  // columns, which is cheaper on rows: work on Qᵀ.
  const q = transpose(z, n);
  ql(q, n, d, e);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[b] - d[a] || a - b);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, i) => {
    values[i] = d[src];
    const row = q.subarray(src * n, src * n + n);
    let big = 0;
    for (let k = 1; k < n; k++) if (Math.abs(row[k]) > Math.abs(row[big])) big = k;
    const sign = row[big] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[i * n + k] = sign * row[k];
  });
  return { n, values, vectors };
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) t[c * n + r] = a[r * n + c];
  return t;
}

/**
 * Householder reduction, last row first: on return d is the diagonal, e[1..n-1] the sub-diagonal
 * (e[0] = 0), and z the orthogonal Q with A = Q·T·Qᵀ. Only the lower triangle of A is read and updated,
 * and every inner loop walks a row (strided column walks made this 2x slower at n = 512).
 */
function tridiagonalize(z: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const row = i * n;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(z[row + k]);
      if (scale === 0) {
        e[i] = z[row + l];
      } else {
        // The reflector's vector u is row i left of the diagonal, scaled to avoid under/overflow.
        for (let k = 0; k <= l; k++) {
          z[row + k] /= scale;
          h += z[row + k] * z[row + k];
        }
        let f = z[row + l];
        const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        z[row + l] = f - g;
        // p = A·u / h into e[0..l] from the lower triangle alone: row j adds A[j][k]·u[k] to p[j] and
        // A[j][k]·u[j] to p[k], so every access walks a row. K = uᵀp / 2h.
        e.fill(0, 0, l + 1);
        for (let j = 0; j <= l; j++) {
          const rj = j * n;
          const uj = z[row + j];
          z[rj + i] = uj / h; // column i keeps u/h for accumulating Q below
          let sum = z[rj + j] * uj;
          for (let k = 0; k < j; k++) {
            const a = z[rj + k];
            sum += a * z[row + k];
            e[k] += a * uj;
          }
          e[j] += sum;
        }
        f = 0;
        for (let j = 0; j <= l; j++) {
          e[j] /= h;
          f += e[j] * z[row + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) e[j] -= hh * z[row + j];
        // A ← A − u·qᵀ − q·uᵀ with q = p − K·u, lower triangle.
        for (let j = 0; j <= l; j++) {
          const rj = j * n;
          const uj = z[row + j];
          const qj = e[j];
          for (let k = 0; k <= j; k++) z[rj + k] -= uj * e[k] + qj * z[row + k];
        }
      }
    } else {
      e[i] = z[row + l];
    }
    d[i] = h;
  }
  d[0] = 0;
  e[0] = 0;
  // Accumulate the reflectors into Q: for the leading i × i block Z, Z ← Z − (Z·(u/h))·uᵀ, row-wise.
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    if (d[i] !== 0) {
      g.fill(0, 0, i);
      for (let k = 0; k < i; k++) {
        const uk = z[row + k];
        if (uk === 0) continue;
        const rk = k * n;
        for (let j = 0; j < i; j++) g[j] += uk * z[rk + j];
      }
      for (let k = 0; k < i; k++) {
        const rk = k * n;
        const c = z[rk + i];
        if (c === 0) continue;
        for (let j = 0; j < i; j++) z[rk + j] -= c * g[j];
      }
    }
    d[i] = z[row + i];
    z[row + i] = 1;
    for (let j = 0; j < i; j++) z[j * n + i] = z[row + j] = 0;
  }
}

/** Implicit QL on the tridiagonal (d, e); qt's rows are rotated along, ending as the eigenvectors. */
function ql(qt: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m === l) break;
      if (iter === 60) throw new Error('symmetricEigen: QL did not converge in 60 iterations');
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const a0 = i * n;
        const a1 = (i + 1) * n;
        for (let k = 0; k < n; k++) {
          const x = qt[a1 + k];
          qt[a1 + k] = s * qt[a0 + k] + c * x;
          qt[a0 + k] = c * qt[a0 + k] - s * x;
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
