// Gemma 3 on the reference decoder: config.json read as the architecture says (sliding and full layers with their own
// RoPE bases, GeGLU, query_pre_attn_scalar, four norms a layer with weights stored as w for 1 + w), and the forward
// pass checked against an independent float64 computation from transformers' Gemma3ForCausalLM
// (src/test-support/float64-oracle.ts gemma3Logits) on the checkpoint's own tensors. WebGPU against this reference:
// src/webgpu/architectures.gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { loadModel } from '../model/load-model';
import { layerWindow, parseModelConfig } from '../model/model-spec';
import { GEMMA3_SHAPE } from '../test-support/architecture-shapes';
import { gemma3Logits } from '../test-support/float64-oracle';
import { diffToRows } from '../test-support/compare';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { syntheticConfig, syntheticSource, syntheticTensors, type SyntheticShape } from '../test-support/synthetic-model';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceDecoder } from './decoder';
import { layerRopeKind, ropeInverseFrequencies } from './rope';

/** More tokens than the window (6), so the sliding layers drop keys the full layer keeps. */
const IDS = [1, 7, 22, 3, 39, 15, 8, 30, 11, 4, 27, 19, 33, 2, 5];

async function relativeError(shape: SyntheticShape, ids = IDS): Promise<number> {
  const m = await loadModel(syntheticSource(shape));
  const got = new ReferenceDecoder(m).forward(ids, createReferenceCache(m, parseCacheMode('f32')), 'all');
  const want = gemma3Logits(shape, syntheticTensors(shape), ids);
  return diffToRows(got, want).relative;
}

describe('Gemma 3 (reference decoder)', () => {
  it("reads Gemma-3-1B's config.json: layers 5, 11, 17, 23 global at base 1M, the rest a 512-token window at base 10K", () => {
    const s = parseModelConfig(JSON.stringify(REAL_CONFIGS.gemma3_1b));
    expect(s).toMatchObject({ architecture: 'Gemma3ForCausalLM', hiddenSize: 1152, numHeads: 4, numKvHeads: 1, headDim: 256, qkNorm: true });
    expect(s).toMatchObject({ slidingWindow: 512, fullAttentionLayers: [5, 11, 17, 23], localRopeTheta: 10000, ropeTheta: 1e6 });
    expect(s).toMatchObject({ activation: 'gelu_tanh', sandwichNorms: true, normOffset: 1, queryPreAttnScalar: 256, eosTokenIds: [1, 106] });
    expect(s.embeddingScale).toBeCloseTo(Math.sqrt(1152), 12);
    expect([0, 4, 5, 6].map((l) => [layerWindow(s, l), layerRopeKind(s, l)])).toEqual([
      [512, 'local'],
      [512, 'local'],
      [null, 'global'],
      [512, 'local'],
    ]);
    // layer_types, where a config has them, say the same.
    const types = Array.from({ length: 26 }, (_, i) => ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'));
    expect(parseModelConfig(JSON.stringify({ ...REAL_CONFIGS.gemma3_1b, layer_types: types })).fullAttentionLayers).toEqual([5, 11, 17, 23]);
    expect(() => parseModelConfig(JSON.stringify({ ...REAL_CONFIGS.gemma3_1b, final_logit_softcapping: 30 }))).toThrow(/soft-capping/);
  });

  it('the forward pass equals an independent float64 computation from the definition (relative 1e-5)', async () => {
    expect(await relativeError(GEMMA3_SHAPE)).toBeLessThan(1e-5);
  });

  it("linear RoPE scaling (Gemma-3-4B's factor 8) on the global layers only equals the float64 computation; without it the logits move", async () => {
    const shape: SyntheticShape = { ...GEMMA3_SHAPE, config: { ...GEMMA3_SHAPE.config, rope_scaling: { rope_type: 'linear', factor: 8 } } };
    const s = parseModelConfig(JSON.stringify(syntheticConfig(shape)));
    expect(s.ropeScaling).toEqual({ type: 'linear', factor: 8 });
    expect(await relativeError(shape)).toBeLessThan(1e-5);
    const m = await loadModel(syntheticSource(shape));
    const got = new ReferenceDecoder(m).forward(IDS, createReferenceCache(m, parseCacheMode('f32')), 'all');
    expect(diffToRows(got, gemma3Logits(GEMMA3_SHAPE, syntheticTensors(shape), IDS)).abs).toBeGreaterThan(1e-3);
    // a local layer's frequencies are its base's alone; the global layer's are divided by 8
    expect(ropeInverseFrequencies(s, 'local')[1]).toBeCloseTo(10000 ** (-2 / 16), 15);
    expect(ropeInverseFrequencies(s, 'global')[1]).toBeCloseTo(1e6 ** (-2 / 16) / 8, 15);
  });

  it('each of its differences matters here: the oracle with one of them changed lands elsewhere', async () => {
    const m = await loadModel(syntheticSource(GEMMA3_SHAPE));
    const got = new ReferenceDecoder(m).forward(IDS, createReferenceCache(m, parseCacheMode('f32')), 'all');
    const moved = (variant: SyntheticShape) => diffToRows(got, gemma3Logits(variant, syntheticTensors(GEMMA3_SHAPE), IDS)).abs;
    const config = GEMMA3_SHAPE.config!;
    expect(moved({ ...GEMMA3_SHAPE, config: { ...config, sliding_window: 64 } }), 'window').toBeGreaterThan(1e-3);
    expect(moved({ ...GEMMA3_SHAPE, config: { ...config, rope_local_base_freq: 1e6 } }), 'local base').toBeGreaterThan(1e-3);
    expect(moved({ ...GEMMA3_SHAPE, config: { ...config, query_pre_attn_scalar: 16 } }), 'softmax scale').toBeGreaterThan(1e-3);
  });

  it.each(['fp16', 'kivi-4', 'xquant-8', 'xquant-cl-4', 'xquant-gqa-8', 'xquant-4:residual=4'])(
    "%s: prefill and decode past the window stay near f32 (K rebuilt, k-normed and turned with its layer's base)",
    async (mode) => {
      const m = await loadModel(syntheticSource(GEMMA3_SHAPE));
      const run = (cache: string) => {
        const d = new ReferenceDecoder(m);
        const c = createReferenceCache(m, parseCacheMode(cache));
        const out = [d.forward(IDS.slice(0, 9), c)];
        for (const id of IDS.slice(9)) out.push(d.forward([id], c));
        return out;
      };
      const [want, got] = [run('f32'), run(mode)];
      const worst = Math.max(...want.map((w, i) => w.reduce((a, v, j) => Math.max(a, Math.abs(v - got[i][j])), 0)));
      const scale = Math.max(...want.map((w) => w.reduce((a, v) => Math.max(a, Math.abs(v)), 0)));
      expect(worst / scale).toBeLessThan(mode.includes('-4') ? 0.15 : 0.02);
      expect(worst).toBeGreaterThan(0);
    },
  );
});
