import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../model/model-spec';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { cacheBytesPerToken } from './cache-bytes';
import { parseCacheMode } from './cache-config';
import { decodeStepCost, rowsPerRebuild, stepWeightBytes } from './cache-cost';

const llama1b = parseModelConfig(JSON.stringify(REAL_CONFIGS.llama32_1b), 'config.json');

describe('decode step cost', () => {
  it('K/V modes read their cache once and rebuild nothing', () => {
    for (const mode of ['fp16', 'kivi-4']) {
      const c = parseCacheMode(mode);
      expect(decodeStepCost(llama1b, c, 4096)).toEqual({ cacheBytes: 4096 * cacheBytesPerToken(llama1b, c), rebuildFlops: 0, rebuiltTokens: 0 });
    }
  });

  it('xquant on Llama-3.2-1B at 4K: 2·ctx·d·d_kv per layer for K (137 GFLOP per token), Σ p·X per head, W_v per head', () => {
    const cost = decodeStepCost(llama1b, parseCacheMode('xquant-4'), 4096);
    const perLayer = 4096 * (2 * 2048 * 512 + 2 * 32 * 2048) + 2 * 32 * 2048 * 64;
    expect(cost.rebuildFlops).toBe(16 * perLayer);
    expect(16 * 4096 * 2 * 2048 * 512).toBeCloseTo(137.4e9, -8);
    // Each X row is read by the scores and by the absorb kernel.
    expect(cost.cacheBytes).toBe(2 * 4096 * cacheBytesPerToken(llama1b, parseCacheMode('xquant-4')));
  });

  it('a hot tier takes its tokens out of the rebuild; xquant-gqa rebuilds from d_kv-wide latents', () => {
    const hot = decodeStepCost(llama1b, parseCacheMode('xquant-4:hot=1024'), 4096);
    expect(hot.rebuiltTokens).toBe(3072);
    const gqa = decodeStepCost(llama1b, parseCacheMode('xquant-gqa-4'), 4096);
    expect(gqa.rebuildFlops).toBe(16 * (4096 * (2 * 512 * 512 + 2 * 32 * 512) + 2 * 32 * 512 * 64));
  });

  it('xquant-cl sums the delta chain (107 rows per position on the 1B: 16 layers, base 3) once into f32 rows where they fit, else in each kernel', () => {
    const c = parseCacheMode('xquant-cl-4');
    let rows = 0;
    for (let l = 0; l < 16; l++) rows += rowsPerRebuild(llama1b, c, l);
    expect(rows).toBe(107);
    const row = cacheBytesPerToken(llama1b, c) / 16; // every layer's row has the same bytes at 4 bits
    // 8,192 tokens of 2,048 f32 are 64 MiB: summed. Base layers: X twice; delta layers: the chain once, the f32 row written and read twice.
    const summedBytes = (n: number) => n * (3 * 2 * row + (107 - 3) * row + 13 * 3 * 4 * 2048);
    expect(decodeStepCost(llama1b, c, 8192).cacheBytes).toBe(summedBytes(8192));
    expect(decodeStepCost(llama1b, c, 8193).cacheBytes).toBe(8193 * 2 * 107 * row);
  });

  it('weights read per step: every matrix and the LM head, in the packed format', () => {
    // Llama-3.2-1B: 16 × (2048² · 2 + 2048·512 · 2 + 3 · 2048·8192) + 128256·2048 = 1.236e9 weights.
    const weights = 16 * (2048 * 2048 * 2 + 2048 * 512 * 2 + 3 * 2048 * 8192) + 128256 * 2048;
    expect(stepWeightBytes(llama1b, 'f32')).toBe(weights * 4);
    // q4: 4 bits plus a 16-bit scale per 32 weights.
    expect(stepWeightBytes(llama1b, 'q4')).toBe(weights * (0.5 + 2 / 32));
  });
});
