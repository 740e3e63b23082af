// Phi-3.5-mini / Phi-4-mini (Phi3ForCausalLM) on the reference decoder: config.json read as the architecture says
// (fused projections, longrope, partial rotary), and the forward pass checked against an independent float64
// computation written from transformers' Phi3 definition, on the checkpoint's own tensors (fused, rows as stored):
// qkv_proj split q | k | v, gate_up_proj split gate | up, RoPE turning pairs (i, i + rotaryDim/2) of the first
// rotaryDim dims with cos and sin times attention_factor. WebGPU against this reference: src/webgpu/phi3.gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { ModelFormatError } from '../errors';
import { loadModel } from '../model/load-model';
import { parseModelConfig } from '../model/model-spec';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { PHI35_SHAPE, PHI4_SHAPE } from '../test-support/architecture-shapes';
import { syntheticConfig, syntheticSource, syntheticTensors, type SyntheticShape, type TensorSpec } from '../test-support/synthetic-model';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceDecoder } from './decoder';

/** Logits of every position, in float64, from the definition and the checkpoint's tensors: no code shared with the decoder. */
function phi3Float64(shape: SyntheticShape, tensors: TensorSpec[], ids: number[]): Float64Array[] {
  const c = syntheticConfig(shape) as Record<string, number> & { rope_scaling: { short_factor: number[] } };
  const W = (n: string) => tensors.find((t) => t.name === n)!.data;
  const { hidden: d, heads: H, kvHeads: KV, headDim: hd, ffn: f, vocab: V } = shape;
  const rd = Math.round(hd * (c.partial_rotary_factor ?? 1));
  const scale = c.max_position_embeddings / c.original_max_position_embeddings;
  const attnFactor = Math.sqrt(1 + Math.log(scale) / Math.log(c.original_max_position_embeddings));
  const eps = c.rms_norm_eps;
  const lin = (w: Float32Array, rows: number, cols: number, x: Float64Array, row0 = 0) =>
    Float64Array.from({ length: rows }, (_, o) => {
      let acc = 0;
      for (let i = 0; i < cols; i++) acc += w[(row0 + o) * cols + i] * x[i];
      return acc;
    });
  const norm = (x: Float64Array, g: Float32Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + eps)) * g[i]);
  };
  // transformers' apply_rotary_pos_emb on q[..., :rd]; the rest passes.
  const rope = (x: Float64Array, heads: number, p: number) => {
    const out = Float64Array.from(x);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < rd / 2; i++) {
        const a = p / (c.rope_scaling.short_factor[i] * c.rope_theta ** ((2 * i) / rd));
        const [cos, sin] = [Math.cos(a) * attnFactor, Math.sin(a) * attnFactor];
        const [x0, x1] = [x[h * hd + i], x[h * hd + i + rd / 2]];
        out[h * hd + i] = x0 * cos - x1 * sin;
        out[h * hd + i + rd / 2] = x1 * cos + x0 * sin;
      }
    }
    return out;
  };
  const embed = W('model.embed_tokens.weight');
  let hs = ids.map((id) => Float64Array.from(embed.subarray(id * d, (id + 1) * d)));
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}.`;
    const qkv = W(`${p}self_attn.qkv_proj.weight`);
    const xs = hs.map((h) => norm(h, W(`${p}input_layernorm.weight`)));
    const qs = xs.map((x, t) => rope(lin(qkv, H * hd, d, x, 0), H, t));
    const ks = xs.map((x, t) => rope(lin(qkv, KV * hd, d, x, H * hd), KV, t));
    const vs = xs.map((x) => lin(qkv, KV * hd, d, x, (H + KV) * hd));
    hs = hs.map((h, t) => {
      const attn = new Float64Array(H * hd);
      for (let head = 0; head < H; head++) {
        const g = Math.floor(head / (H / KV));
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qs[t][head * hd + i] * ks[j][g * hd + i];
          return dot / Math.sqrt(hd);
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = 0; i < hd; i++) attn[head * hd + i] += (e[j] / sum) * vs[j][g * hd + i];
      }
      const o = lin(W(`${p}self_attn.o_proj.weight`), d, H * hd, attn);
      const h1 = h.map((v, i) => v + o[i]);
      const x2 = norm(h1, W(`${p}post_attention_layernorm.weight`));
      const gateUp = W(`${p}mlp.gate_up_proj.weight`);
      const gate = lin(gateUp, f, d, x2, 0);
      const up = lin(gateUp, f, d, x2, f);
      const down = lin(
        W(`${p}mlp.down_proj.weight`),
        d,
        f,
        up.map((u, i) => u * (gate[i] / (1 + Math.exp(-gate[i])))),
      );
      return h1.map((v, i) => v + down[i]);
    });
  }
  const head = W(shape.tied ? 'model.embed_tokens.weight' : 'lm_head.weight');
  return hs.map((h) => lin(head, V, d, norm(h, W('model.norm.weight'))));
}

async function relativeError(shape: SyntheticShape, ids: number[]): Promise<number> {
  const m = await loadModel(syntheticSource(shape));
  const want = phi3Float64(shape, syntheticTensors(shape), ids);
  const got = new ReferenceDecoder(m).forward(ids, createReferenceCache(m, parseCacheMode('f32')), 'all');
  let diff = 0;
  let scale = 0;
  want.forEach((row, t) => row.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - got[t * shape.vocab + i]))), (scale = Math.max(scale, Math.abs(v))))));
  return diff / scale;
}

describe('Phi-3.5 / Phi-4-mini (reference decoder)', () => {
  it("reads Phi-4-mini's config.json: 96 of 128 dims turned, longrope's short factors, the context capped at the trained 4,096", () => {
    const s = parseModelConfig(JSON.stringify(REAL_CONFIGS.phi4_mini));
    expect(s).toMatchObject({ architecture: 'Phi3ForCausalLM', hiddenSize: 3072, numHeads: 24, numKvHeads: 8, headDim: 128, rotaryDim: 96 });
    expect(s).toMatchObject({ tieWordEmbeddings: true, maxPositionEmbeddings: 4096, slidingWindow: null, eosTokenIds: [200020] });
    expect(s.ropeScaling).toMatchObject({ type: 'longrope', originalMaxPositionEmbeddings: 4096 });
    // transformers: sqrt(1 + ln(131072 / 4096) / ln 4096)
    expect(s.ropeScaling?.type === 'longrope' && s.ropeScaling.attentionFactor).toBeCloseTo(1.1902380714238083, 12);
  });

  it('refuses factor lists of the wrong length and a fused tensor of the wrong height, naming the field', async () => {
    const bad = { ...REAL_CONFIGS.phi4_mini, rope_scaling: { ...REAL_CONFIGS.phi4_mini.rope_scaling, short_factor: [1, 1] } };
    expect(() => parseModelConfig(JSON.stringify(bad))).toThrow(/rope_scaling\.short_factor.*48 numbers/s);
    const tensors = syntheticTensors(PHI35_SHAPE).map((t) =>
      t.name === 'model.layers.1.self_attn.qkv_proj.weight' ? { ...t, shape: [t.shape[0] - 8, 32], data: t.data.subarray(0, t.data.length - 8 * 32) } : t,
    );
    const err = await loadModel(syntheticSource(PHI35_SHAPE, { tensors })).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(String(err.message) + JSON.stringify(err)).toMatch(/qkv_proj/);
  });

  it.each([
    ['Phi-3.5 kind (MHA, longrope)', PHI35_SHAPE],
    ['Phi-4-mini kind (GQA, partial rotary, tied)', PHI4_SHAPE],
  ])('%s: the forward pass equals an independent float64 computation from the definition (relative 1e-5)', async (_, shape) => {
    expect(await relativeError(shape, [1, 7, 22, 3, 39, 15, 8, 30, 11])).toBeLessThan(1e-5);
  });

  it('the partial rotary layout and the attention factor matter: plain RoPE over whole heads lands elsewhere', async () => {
    const ids = [1, 7, 22, 3, 39, 15, 8, 30, 11];
    const m = await loadModel(syntheticSource(PHI4_SHAPE));
    const got = new ReferenceDecoder(m).forward(ids, createReferenceCache(m, parseCacheMode('f32')), 'all');
    // Whole heads turned, factors 1, no extension (attention_factor 1): what a loader ignoring both would run.
    const plainShape: SyntheticShape = {
      ...PHI4_SHAPE,
      ropeScaling: { type: 'longrope', short_factor: Array(8).fill(1), long_factor: Array(8).fill(1) },
      config: { original_max_position_embeddings: 512 },
    };
    const plain = phi3Float64(plainShape, syntheticTensors(PHI4_SHAPE), ids);
    let moved = 0;
    plain.forEach((row, t) => row.forEach((v, i) => (moved = Math.max(moved, Math.abs(v - got[t * PHI4_SHAPE.vocab + i])))));
    expect(moved).toBeGreaterThan(1e-2);
  });
});
