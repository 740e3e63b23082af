// Causal grouped-query attention over [cached tokens ; the tokens of this step], softmax in f64.

import type { ModelSpec } from '../model/model-spec';

export interface KeyValueRows {
  /** Number of tokens. */
  length: number;
  /** Post-RoPE keys, [length, numKvHeads * headDim]. */
  keys: Float32Array;
  values: Float32Array;
}

/**
 * q: [count, numHeads * headDim] post-RoPE queries of the tokens at positions past.length + t.
 * Token t sees every past token and current tokens 0..t (the last `slidingWindow` of them where the layer has one). Returns [count, numHeads * headDim].
 */
export function causalAttention(
  spec: ModelSpec,
  q: Float32Array,
  count: number,
  past: KeyValueRows,
  current: KeyValueRows,
  slidingWindow: number | null,
): Float32Array {
  const { numHeads: H, numKvHeads: KV, headDim: hd } = spec;
  const rep = H / KV;
  const kvw = KV * hd;
  const scale = 1 / Math.sqrt(hd);
  const P = past.length;
  const out = new Float32Array(count * H * hd);
  const scores = new Float64Array(P + count);
  const acc = new Float64Array(hd);
  for (let t = 0; t < count; t++) {
    const qPos = P + t;
    const first = slidingWindow ? Math.max(0, qPos - slidingWindow + 1) : 0;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      const qOff = (t * H + h) * hd;
      let max = -Infinity;
      const n = qPos + 1;
      for (let j = first; j < n; j++) {
        const rows = j < P ? past.keys : current.keys;
        const r = j < P ? j : j - P;
        const kOff = r * kvw + g * hd;
        let s = 0;
        for (let i = 0; i < hd; i++) s += q[qOff + i] * rows[kOff + i];
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = first; j < n; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      acc.fill(0);
      for (let j = first; j < n; j++) {
        const rows = j < P ? past.values : current.values;
        const r = j < P ? j : j - P;
        const vOff = r * kvw + g * hd;
        const p = scores[j] / sum;
        for (let i = 0; i < hd; i++) acc[i] += p * rows[vOff + i];
      }
      for (let i = 0; i < hd; i++) out[qOff + i] = acc[i];
    }
  }
  return out;
}
