// Phi-3.5-mini / Phi-4-mini (Phi3ForCausalLM) on the reference decoder: config.json read as the architecture says
// (fused projections, longrope, partial rotary), and the forward pass checked against an independent float64
// computation written from transformers' Phi3 definition, on the checkpoint's own tensors (fused, rows as stored):
// qkv_proj split q | k | v, gate_up_proj split gate | up, RoPE turning pairs (i, i + rotaryDim/2) of the first
// rotaryDim dims with cos and sin times attention_factor. WebGPU against this reference: src/webgpu/phi3.gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { InvalidArgumentError, ModelFormatError } from '../errors';
import { loadModel } from '../model/load-model';
import { parseModelConfig, withContextLength } from '../model/model-spec';
import { diffToRows } from '../test-support/compare';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { PHI35_SHAPE, PHI4_SHAPE } from '../test-support/architecture-shapes';
import { float64Logits } from '../test-support/float64-oracle';
import { syntheticSource, syntheticTensors, type SyntheticShape } from '../test-support/synthetic-model';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceDecoder } from './decoder';

async function relativeError(shape: SyntheticShape, ids: number[]): Promise<number> {
  const m = await loadModel(syntheticSource(shape));
  const want = float64Logits(shape, syntheticTensors(shape), ids);
  const got = new ReferenceDecoder(m).forward(ids, createReferenceCache(m, parseCacheMode('f32')), 'all');
  return diffToRows(got, want).relative;
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
    const plain = float64Logits(plainShape, syntheticTensors(PHI4_SHAPE), ids);
    expect(diffToRows(got, plain).abs).toBeGreaterThan(1e-2);
  });

  it("a load for a context past the trained one turns every position with longrope's long factors, up to max_position_embeddings", async () => {
    const ids = [1, 7, 22, 3, 39, 15, 8, 30, 11];
    for (const shape of [PHI35_SHAPE, PHI4_SHAPE]) {
      const m = await loadModel(syntheticSource(shape));
      expect(m.spec.maxPositionEmbeddings).toBe(64); // the trained context: short factors
      expect(withContextLength(m.spec, 64)).toBe(m.spec);
      const long = withContextLength(m.spec, 65);
      expect(long).toMatchObject({ maxPositionEmbeddings: 65, ropeScaling: { factors: 'long' } });
      expect(withContextLength(m.spec, 512).maxPositionEmbeddings).toBe(512);
      const got = new ReferenceDecoder({ ...m, spec: long }).forward(ids, createReferenceCache({ ...m, spec: long }, parseCacheMode('f32')), 'all');
      const tensors = syntheticTensors(shape);
      expect(diffToRows(got, float64Logits(shape, tensors, ids, { longFactors: true })).relative).toBeLessThan(1e-5);
      expect(diffToRows(got, float64Logits(shape, tensors, ids)).abs).toBeGreaterThan(1e-3); // the short factors land elsewhere
    }
    const phi4 = parseModelConfig(JSON.stringify(REAL_CONFIGS.phi4_mini));
    expect(withContextLength(phi4, 32768)).toMatchObject({ maxPositionEmbeddings: 32768, ropeScaling: { factors: 'long' } });
    expect(withContextLength(phi4, 2048)).toMatchObject({ maxPositionEmbeddings: 2048, ropeScaling: { factors: 'short' } });
    expect(() => withContextLength(phi4, 131073)).toThrow(InvalidArgumentError);
    // Other models only get the cap; a context past theirs is refused the same way.
    const llama = parseModelConfig(JSON.stringify(REAL_CONFIGS.llama32_1b));
    expect(withContextLength(llama, 8192)).toEqual({ ...llama, maxPositionEmbeddings: 8192 });
    expect(() => withContextLength(llama, llama.maxPositionEmbeddings + 1)).toThrow(/context/);
    expect(() => withContextLength(llama, 0)).toThrow(InvalidArgumentError);
  });
});
