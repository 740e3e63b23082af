// SmolLM3 on the reference decoder: config.json's `no_rope_layers` read as the architecture says (RoPE left out of
// every 4th layer), and the forward pass checked against the independent float64 computation from transformers'
// definition (src/test-support/float64-oracle.ts). WebGPU against this reference: src/webgpu/architectures.gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { loadModel } from '../model/load-model';
import { parseModelConfig } from '../model/model-spec';
import { SMOLLM3_SHAPE } from '../test-support/architecture-shapes';
import { float64Logits } from '../test-support/float64-oracle';
import { diffToRows } from '../test-support/compare';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { syntheticSource, syntheticTensors, type SyntheticShape } from '../test-support/synthetic-model';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceDecoder } from './decoder';

const IDS = [1, 7, 22, 3, 39, 15, 8, 30, 11];

async function logits(shape: SyntheticShape): Promise<{ got: Float32Array; want: Float64Array[] }> {
  const m = await loadModel(syntheticSource(shape));
  const got = new ReferenceDecoder(m).forward(IDS, createReferenceCache(m, parseCacheMode('f32')), 'all');
  return { got, want: float64Logits(shape, syntheticTensors(shape), IDS) };
}

describe('SmolLM3 (reference decoder)', () => {
  it("reads SmolLM3-3B's config.json: layers 3, 7, ..., 35 without RoPE, GQA, tied embeddings", () => {
    const s = parseModelConfig(JSON.stringify(REAL_CONFIGS.smollm3_3b));
    expect(s).toMatchObject({ architecture: 'SmolLM3ForCausalLM', hiddenSize: 2048, numHeads: 16, numKvHeads: 4, headDim: 128, tieWordEmbeddings: true });
    expect(s.noRopeLayers).toEqual([3, 7, 11, 15, 19, 23, 27, 31, 35]);
    // Without the list, every no_rope_layer_interval-th layer (4 by default), as transformers derives it.
    const { no_rope_layers: _, ...rest } = REAL_CONFIGS.smollm3_3b;
    expect(parseModelConfig(JSON.stringify({ ...rest, no_rope_layer_interval: 6 })).noRopeLayers).toEqual([5, 11, 17, 23, 29, 35]);
    expect(() => parseModelConfig(JSON.stringify({ ...rest, no_rope_layers: [1, 0] }))).toThrow(/no_rope_layers.*36 entries/s);
  });

  it('the forward pass equals an independent float64 computation from the definition (relative 1e-5)', async () => {
    const { got, want } = await logits(SMOLLM3_SHAPE);
    expect(diffToRows(got, want).relative).toBeLessThan(1e-5);
  });

  it('the unturned layer matters: the same weights with RoPE in every layer land elsewhere', async () => {
    const { got } = await logits(SMOLLM3_SHAPE);
    const everyLayer = float64Logits({ ...SMOLLM3_SHAPE, config: { no_rope_layers: [1, 1, 1, 1] } }, syntheticTensors(SMOLLM3_SHAPE), IDS);
    expect(diffToRows(got, everyLayer).relative).toBeGreaterThan(1e-3);
  });
});
