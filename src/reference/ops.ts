// Scalar building blocks of the reference decoder. Values are stored in f32 arrays; every dot product and
// every norm accumulates in f64 (JavaScript numbers), so the reference is as exact as an f32 model can be.

/** out[o] = W[o, :] · x (+ bias[o]) for W of shape [rows, cols], row-major. */
export function matvec(
  w: Float32Array,
  rows: number,
  cols: number,
  x: Float32Array,
  xOff: number,
  out: Float32Array,
  outOff: number,
  bias: Float32Array | null = null,
): void {
  for (let o = 0; o < rows; o++) {
    const base = o * cols;
    let s0 = 0;
    let s1 = 0;
    let i = 0;
    for (; i + 1 < cols; i += 2) {
      s0 += w[base + i] * x[xOff + i];
      s1 += w[base + i + 1] * x[xOff + i + 1];
    }
    if (i < cols) s0 += w[base + i] * x[xOff + i];
    out[outOff + o] = s0 + s1 + (bias ? bias[o] : 0);
  }
}

/** The same product for `count` row vectors stored back to back: X [count, cols] -> Y [count, rows]. */
export function matmulRows(w: Float32Array, rows: number, cols: number, x: Float32Array, count: number, bias: Float32Array | null = null): Float32Array {
  const out = new Float32Array(count * rows);
  for (let t = 0; t < count; t++) matvec(w, rows, cols, x, t * cols, out, t * rows, bias);
  return out;
}

/** RMSNorm with gain, as Llama: x / sqrt(mean(x^2) + eps) * gamma. */
export function rmsNorm(x: Float32Array, xOff: number, d: number, gamma: Float32Array, eps: number, out: Float32Array, outOff: number): void {
  let ss = 0;
  for (let i = 0; i < d; i++) ss += x[xOff + i] * x[xOff + i];
  const inv = 1 / Math.sqrt(ss / d + eps);
  for (let i = 0; i < d; i++) out[outOff + i] = x[xOff + i] * inv * gamma[i];
}

/** RMSNorm of each `headDim`-wide head of `rows` rows of `heads` heads, in place (Qwen3's q_norm / k_norm). */
export function headRmsNorm(x: Float32Array, off: number, rows: number, heads: number, headDim: number, gamma: Float32Array, eps: number): void {
  for (let r = 0; r < rows * heads; r++) rmsNorm(x, off + r * headDim, headDim, gamma, eps, x, off + r * headDim);
}

export function rmsNormRows(x: Float32Array, count: number, d: number, gamma: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(count * d);
  for (let t = 0; t < count; t++) rmsNorm(x, t * d, d, gamma, eps, out, t * d);
  return out;
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** GELU with the tanh approximation (transformers' gelu_pytorch_tanh, Gemma's gate). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** Natural-log softmax denominator: log(sum(exp(logits))) computed stably in f64. */
export function logSumExp(logits: Float32Array, off: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[off + i] > m) m = logits[off + i];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logits[off + i] - m);
  return m + Math.log(s);
}
