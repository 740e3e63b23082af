// The golden model: a pure TypeScript Llama forward pass (f32 storage, f64 accumulation).
// forward() takes the tokens that follow what the cache already holds: a whole prompt (batched prefill) or
// one token (a decode step). Every GPU kernel is tested against it.
//
// How a prompt's tokens see each other (PrefillAttention):
// - 'exact' (the GPU kernels' way, the default): each sees the earlier new tokens' exact K/V;
// - 'as-stored' (the engine's reference backend): each sees every earlier token as the cache stores it at that
//   token's step, its own K/V exact, which is what a decode step sees. Then a conversation's replies do not
//   depend on how its tokens were split into requests and slices (prefix reuse equals a fresh request in every
//   cache mode), at the price of attending row by row.

import { InvalidArgumentError } from '../errors';
import type { CacheModel, ReferenceCache } from './caches/reference-cache';
import { kvDim, type ModelSpec } from '../model/model-spec';
import type { ModelWeights } from '../model/weights';
import { geluTanh, headRmsNorm, matmulRows, rmsNormRows, silu } from './ops';
import { LayerRopes } from './rope';

export type LogitsWanted = 'last' | 'all';
export type PrefillAttention = 'exact' | 'as-stored';

export class ReferenceDecoder {
  readonly spec: ModelSpec;
  readonly weights: ModelWeights;
  private readonly rope: LayerRopes;

  constructor(
    model: CacheModel,
    readonly prefill: PrefillAttention = 'exact',
  ) {
    this.spec = model.spec;
    this.weights = model.weights;
    this.rope = new LayerRopes(model.spec);
  }

  /** Run `ids` at positions cache.length.. and return logits ([V] for 'last', [count, V] for 'all'). */
  forward(ids: readonly number[], cache: ReferenceCache, wanted: LogitsWanted = 'last'): Float32Array {
    const s = this.spec;
    const { hiddenSize: d, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: f, vocabSize: V } = s;
    const T = ids.length;
    if (T === 0) throw new InvalidArgumentError('no tokens to run', { field: 'ids', expected: 'at least one token id' });
    const start = cache.length;
    const h = new Float32Array(T * d);
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new InvalidArgumentError('token id out of range', { field: `ids[${t}]`, expected: `0 <= id < ${V}`, got: String(id) });
      }
      h.set(this.weights.embed.subarray(id * d, (id + 1) * d), t * d);
    });
    // Gemma scales the embeddings by √hidden (the LM head, tied, reads them unscaled).
    if (s.embeddingScale !== 1) for (let i = 0; i < h.length; i++) h[i] *= s.embeddingScale;
    const kv = kvDim(s);
    const sandwich = (rows: Float32Array, gamma: Float32Array | null) => (gamma ? rmsNormRows(rows, T, d, gamma, s.rmsNormEps) : rows);

    this.weights.layers.forEach((w, layer) => {
      const x = rmsNormRows(h, T, d, w.attnNorm, s.rmsNormEps);
      const q = matmulRows(w.wq, H * hd, d, x, T, w.bq);
      const k = matmulRows(w.wk, kv, d, x, T, w.bk);
      const v = matmulRows(w.wv, kv, d, x, T, w.bv);
      // Qwen3: each head of q and k RMS-normed before RoPE; the cache stores k after its norm.
      if (w.qNorm) headRmsNorm(q, 0, T, H, hd, w.qNorm, s.rmsNormEps);
      if (w.kNorm) headRmsNorm(k, 0, T, KV, hd, w.kNorm, s.rmsNormEps);
      const kRot = k.slice();
      for (let t = 0; t < T; t++) {
        this.rope.apply(layer, q, t * H * hd, H, start + t);
        this.rope.apply(layer, kRot, t * kv, KV, start + t);
      }
      let attn: Float32Array;
      if (this.prefill === 'exact' || T === 1) {
        attn = cache.attend(layer, q, T, { length: T, keys: kRot, values: v });
        cache.append(layer, { count: T, x, k, v });
      } else {
        // Row by row, as T decode steps would: attend over what the cache holds, then store the row.
        const qw = H * hd;
        attn = new Float32Array(T * qw);
        for (let t = 0; t < T; t++) {
          const one = (a: Float32Array, width: number) => a.subarray(t * width, (t + 1) * width);
          attn.set(cache.attend(layer, one(q, qw), 1, { length: 1, keys: one(kRot, kv), values: one(v, kv) }), t * qw);
          cache.append(layer, { count: 1, x: one(x, d), k: one(k, kv), v: one(v, kv) });
        }
      }
      // Gemma norms the attention output and the MLP output before each joins the residual stream.
      const o = sandwich(matmulRows(w.wo, d, H * hd, attn, T), w.postAttnNorm);
      for (let i = 0; i < h.length; i++) h[i] += o[i];

      const x2 = rmsNormRows(h, T, d, w.mlpNorm, s.rmsNormEps);
      const g = matmulRows(w.wGate, f, d, x2, T);
      const u = matmulRows(w.wUp, f, d, x2, T);
      const act = s.activation === 'gelu_tanh' ? geluTanh : silu;
      for (let i = 0; i < g.length; i++) g[i] = act(g[i]) * u[i];
      const m = sandwich(matmulRows(w.wDown, d, f, g, T), w.postMlpNorm);
      for (let i = 0; i < h.length; i++) h[i] += m[i];
    });

    const first = wanted === 'all' ? 0 : T - 1;
    const rows = T - first;
    const hn = rmsNormRows(h.subarray(first * d), rows, d, this.weights.finalNorm, s.rmsNormEps);
    return matmulRows(this.weights.lmHead, V, d, hn, rows);
  }
}
