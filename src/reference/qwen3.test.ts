// Qwen3 on the reference decoder: its config.json read as the architecture says (q/k norms, head_dim apart from
// hidden / heads, no biases), and its forward pass checked against an independent float64 computation written from
// the architecture's definition (transformers' Qwen3Attention: q_norm and k_norm per head, before RoPE). WebGPU
// against this reference: src/webgpu/architectures.gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { loadModel, type LoadedModel } from '../model/load-model';
import { parseModelConfig } from '../model/model-spec';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { syntheticSource, type SyntheticShape } from '../test-support/synthetic-model';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceDecoder } from './decoder';

const SHAPE: SyntheticShape = { hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 16, ffn: 48, vocab: 40, tied: true, architecture: 'Qwen3ForCausalLM' };

/** Logits of every position, in float64, from the definition: no code shared with the decoder. */
function float64Forward(m: LoadedModel, ids: number[]): Float64Array[] {
  const s = m.spec;
  const w = m.weights;
  const d = s.hiddenSize;
  const hd = s.headDim;
  const eps = s.rmsNormEps;
  const lin = (W: Float32Array, rows: number, cols: number, x: Float64Array) =>
    Float64Array.from({ length: rows }, (_, o) => {
      let acc = 0;
      for (let i = 0; i < cols; i++) acc += W[o * cols + i] * x[i];
      return acc;
    });
  const norm = (x: Float64Array, g: Float32Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + eps)) * g[i]);
  };
  // Per head: RMSNorm, then RoPE (rotate-half: element i pairs with i + hd/2) at position p.
  const headNormRope = (x: Float64Array, heads: number, g: Float32Array, p: number) => {
    const out = new Float64Array(x.length);
    for (let h = 0; h < heads; h++) {
      const y = norm(x.subarray(h * hd, (h + 1) * hd), g);
      for (let i = 0; i < hd / 2; i++) {
        const a = p * s.ropeTheta ** (-(2 * i) / hd);
        out[h * hd + i] = y[i] * Math.cos(a) - y[i + hd / 2] * Math.sin(a);
        out[h * hd + i + hd / 2] = y[i + hd / 2] * Math.cos(a) + y[i] * Math.sin(a);
      }
    }
    return out;
  };
  let hs = ids.map((id) => Float64Array.from(w.embed.subarray(id * d, (id + 1) * d)));
  for (const l of w.layers) {
    const xs = hs.map((h) => norm(h, l.attnNorm));
    const qs = xs.map((x, p) => headNormRope(lin(l.wq, s.numHeads * hd, d, x), s.numHeads, l.qNorm!, p));
    const ks = xs.map((x, p) => headNormRope(lin(l.wk, s.numKvHeads * hd, d, x), s.numKvHeads, l.kNorm!, p));
    const vs = xs.map((x) => lin(l.wv, s.numKvHeads * hd, d, x));
    hs = hs.map((h, t) => {
      const attn = new Float64Array(s.numHeads * hd);
      for (let head = 0; head < s.numHeads; head++) {
        const kv = Math.floor(head / (s.numHeads / s.numKvHeads));
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qs[t][head * hd + i] * ks[j][kv * hd + i];
          return dot / Math.sqrt(hd);
        });
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = 0; i < hd; i++) attn[head * hd + i] += (e[j] / sum) * vs[j][kv * hd + i];
      }
      const h1 = h.map((v, i) => v + lin(l.wo, d, s.numHeads * hd, attn)[i]);
      const x2 = norm(h1, l.mlpNorm);
      const g = lin(l.wGate, s.intermediateSize, d, x2);
      const u = lin(l.wUp, s.intermediateSize, d, x2);
      const a = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
      const down = lin(l.wDown, d, s.intermediateSize, a);
      return h1.map((v, i) => v + down[i]);
    });
  }
  return hs.map((h) => lin(w.lmHead, s.vocabSize, d, norm(h, w.finalNorm)));
}

describe('Qwen3 (reference decoder)', () => {
  it("reads Qwen3-0.6B's config.json: q/k norms, head_dim 128 apart from hidden / heads, no biases, tied embeddings", () => {
    const s = parseModelConfig(JSON.stringify(REAL_CONFIGS.qwen3_06b));
    expect(s).toMatchObject({ architecture: 'Qwen3ForCausalLM', qkNorm: true, hiddenSize: 1024, numHeads: 16, numKvHeads: 8, headDim: 128 });
    expect(s).toMatchObject({ attentionBias: false, tieWordEmbeddings: true, ropeTheta: 1e6, eosTokenIds: [151645] });
  });

  it('the forward pass equals an independent float64 computation from the definition (relative 1e-5)', async () => {
    const m = await loadModel(syntheticSource(SHAPE));
    expect(m.weights.layers[0].qNorm?.length).toBe(16);
    const ids = [1, 7, 22, 3, 39, 15, 8];
    const want = float64Forward(m, ids);
    const got = new ReferenceDecoder(m).forward(ids, createReferenceCache(m, parseCacheMode('f32')), 'all');
    let diff = 0;
    let scale = 0;
    want.forEach((row, t) => row.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - got[t * SHAPE.vocab + i]))), (scale = Math.max(scale, Math.abs(v))))));
    expect(diff / scale).toBeLessThan(1e-5);
    // The norms matter: without them the logits are elsewhere.
    const plain = await loadModel(syntheticSource({ ...SHAPE, architecture: 'LlamaForCausalLM' }));
    const other = new ReferenceDecoder(plain).forward(ids, createReferenceCache(plain, parseCacheMode('f32')), 'all');
    let moved = 0;
    for (let i = 0; i < other.length; i++) moved = Math.max(moved, Math.abs(other[i] - got[i]));
    expect(moved / scale).toBeGreaterThan(1e-2);
  });
});
