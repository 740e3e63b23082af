import { describe, expect, it } from 'vitest';
import { cacheBytesPerToken } from '../cache/cache-bytes';
import { parseCacheMode } from '../cache/cache-config';
import { InvalidArgumentError } from '../errors';
import { parseModelConfig } from '../model/model-spec';
import { syntheticConfig } from '../test-support/synthetic-model';
import { autoCacheMode, cacheBytesFor, planCache } from './planner';

// mha-6m: d 256, 8 layers, 8 heads of 32, MHA
const spec = parseModelConfig(
  JSON.stringify(syntheticConfig({ hidden: 256, layers: 8, heads: 8, kvHeads: 8, headDim: 32, ffn: 768, vocab: 4096 })),
  'config.json',
);

describe('memory planner', () => {
  it('charges a tiered cache for its whole hot ring: H tokens of fp16 K/V plus the spare page run-ahead needs', () => {
    const pure = parseCacheMode('xquant-2', { residual: 0 });
    const tiered = parseCacheMode('xquant-2', { residual: 0, hot: 128 });
    expect(cacheBytesFor(spec, tiered, 1000) - cacheBytesFor(spec, pure, 1000)).toBe((128 + 128) * 8 * 2 * 256 * 2);
  });

  it('reports bytes per token and the largest context of every GPU mode', () => {
    const plan = planCache(spec, 1 << 20, 100);
    const fp16 = plan.modes.find((m) => m.mode === 'fp16')!;
    expect(fp16.bytesPerToken).toBe(8 * 2 * 256 * 2);
    expect(fp16.maxContext).toBe(Math.floor((1 << 20) / 8192));
    const x2 = plan.modes.find((m) => m.mode === 'xquant-2')!;
    expect(x2.bytesPerToken).toBe(cacheBytesPerToken(spec, parseCacheMode('xquant-2')));
    expect(x2.maxContext).toBeGreaterThan(10 * fp16.maxContext);
  });

  it('respects the storage-binding limit: per-layer buffers for most modes, one buffer for all of xquant-cl', () => {
    const binding = 1 << 20; // 1 MiB per binding, a budget of 1 GiB
    const plan = planCache(spec, 1 << 30, 1300, {}, { maxBindingBytes: binding });
    const cl = plan.modes.find((m) => m.mode === 'xquant-cl-2')!;
    const x2 = plan.modes.find((m) => m.mode === 'xquant-2')!;
    const fp16 = plan.modes.find((m) => m.mode === 'fp16')!;
    // xquant-cl-2: all 8 layers (768 B per token) in one binding, whole pages, one page kept for the rings.
    expect(cl).toMatchObject({ bindingLimited: true, maxContext: (Math.floor(binding / 768 / 128) - 1) * 128 });
    // xquant-2: one layer (72 B per token) per binding; fp16: one layer's K (512 B per token) per binding.
    expect(x2.maxContext).toBe((Math.floor(binding / 72 / 128) - 1) * 128);
    expect(fp16.maxContext).toBe((Math.floor(binding / 512 / 128) - 1) * 128);
    // With the budget no object, auto still skips what the binding cannot hold (fp16 stops at 1,920 tokens).
    expect(planCache(spec, 1 << 30, 2000, {}, { maxBindingBytes: binding }).auto).toBe('xquant-8');
    expect(planCache(spec, 1 << 30, 2000).auto).toBe('fp16');
  });

  it('auto picks the most accurate mode that fits the target context', () => {
    expect(planCache(spec, 1 << 20, 100).auto).toBe('fp16'); // 128 tokens of fp16 fit
    expect(planCache(spec, 1 << 20, 200).auto).toBe('xquant-8'); // 8192 B/token too much; 8-bit X is 8 x 260 B
    // 1 MiB / 1500 tokens = 699 B: xquant-cl-2 needs 3 x 136 + 5 x 72 = 768 B (base layers at 4 bits),
    // kivi-2 8 x 144, xquant-2 8 x 72
    expect(autoCacheMode(spec, 1 << 20, 1500)).toMatchObject({ mode: 'xquant', bits: 2 });
    expect(planCache(spec, 1 << 20, 1300).auto).toBe('xquant-cl-2');
  });

  it('a context no mode can hold is a typed error stating the bytes needed and available', () => {
    const run = () => autoCacheMode(spec, 4096, 100_000);
    expect(run).toThrow(InvalidArgumentError);
    expect(run).toThrow(/no cache mode holds 100000 tokens in 4096 bytes; expected at least \d+ bytes \(xquant-2/);
  });
});
