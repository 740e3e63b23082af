import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cacheBytesPerToken, ringTokens } from '../cache/cache-bytes';
import { parseCacheMode } from '../cache/cache-config';
import { InvalidArgumentError } from '../errors';
import { parseModelConfig, type ModelSpec } from '../model/model-spec';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { STATED_PROFILES } from './device-profile';
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
    const plan = planCache(spec, 1 << 30, 1300, { device: { maxBindingBytes: binding } });
    const cl = plan.modes.find((m) => m.mode === 'xquant-cl-2')!;
    const x2 = plan.modes.find((m) => m.mode === 'xquant-2')!;
    const fp16 = plan.modes.find((m) => m.mode === 'fp16')!;
    // xquant-cl-2: all 8 layers (768 B per token) in one binding, whole pages, one page kept for the rings.
    expect(cl).toMatchObject({ bindingLimited: true, maxContext: (Math.floor(binding / 768 / 128) - 1) * 128 });
    // xquant-2: one layer (72 B per token) per binding; fp16: one layer's K (512 B per token) per binding.
    expect(x2.maxContext).toBe((Math.floor(binding / 72 / 128) - 1) * 128);
    expect(fp16.maxContext).toBe((Math.floor(binding / 512 / 128) - 1) * 128);
    // With the budget no object, auto still skips what the binding cannot hold (fp16 stops at 1,920 tokens).
    expect(planCache(spec, 1 << 30, 2000, { device: { maxBindingBytes: binding } }).auto).not.toBe('fp16');
    // Without the binding limit fp16 holds it, but at 2,000 tokens its 16 MB of cache outweigh this model's ~4 MB of q4
    // weights: kivi-4 reads a quarter of that for +0.06% perplexity (the MHA table), the fastest within the bound.
    expect(planCache(spec, 1 << 30, 2000).auto).toBe('kivi-4');
    expect(planCache(spec, 1 << 30, 100).auto).toBe('fp16');
  });

  it('a context no mode can hold is a typed error stating the bytes needed and available', () => {
    const run = () => autoCacheMode(spec, 4096, 100_000);
    expect(run).toThrow(InvalidArgumentError);
    expect(run).toThrow(/no cache mode holds 100000 tokens in 4096 bytes; expected at least \d+ bytes \(xquant-2/);
  });
});

const REAL: Record<string, ModelSpec> = {
  'SmolLM2-135M': parseModelConfig(JSON.stringify(REAL_CONFIGS.smollm2_135m), 'config.json'),
  'Qwen2.5-0.5B': parseModelConfig(JSON.stringify(REAL_CONFIGS.qwen25_05b), 'config.json'),
  'Llama-3.2-1B': parseModelConfig(JSON.stringify(REAL_CONFIGS.llama32_1b), 'config.json'),
  'Llama-3.1-8B': parseModelConfig(JSON.stringify(REAL_CONFIGS.llama31_8b), 'config.json'),
  'austen-3m (MHA)': parseModelConfig(readFileSync('public/models/austen-3m/config.json', 'utf8'), 'austen-3m/config.json'),
};
const fp16Bytes = (s: ModelSpec) => cacheBytesPerToken(s, parseCacheMode('fp16'));
const CONTEXTS = [512, 4096, 32768];
const FRACTIONS = [2, 1, 0.6, 0.3, 0.2, 0.15, 0.1];

describe('planner on real model shapes', () => {
  it('never picks a configuration another beats on bytes, accuracy and speed at once', () => {
    let picks = 0;
    for (const [name, s] of Object.entries(REAL)) {
      for (const ctx of CONTEXTS) {
        for (const f of FRACTIONS) {
          const plan = planCache(s, Math.round(fp16Bytes(s) * ctx * f), ctx, { device: { tiers: true } });
          if (!plan.auto) continue;
          picks++;
          const auto = plan.modes.find((m) => m.mode === plan.auto)!;
          expect(auto.fitsTarget, `${name} ${ctx} ${f}`).toBe(true);
          const beaters = plan.modes.filter(
            (m) =>
              m !== auto &&
              m.bytesAtTarget <= auto.bytesAtTarget &&
              (m.accuracyCost ?? Infinity) <= (auto.accuracyCost ?? Infinity) &&
              m.msPerToken <= auto.msPerToken &&
              (m.bytesAtTarget < auto.bytesAtTarget || (m.accuracyCost ?? Infinity) < (auto.accuracyCost ?? Infinity) || m.msPerToken < auto.msPerToken),
          );
          expect(
            beaters.map((m) => m.mode),
            `${name} ${ctx} tokens, ${f} of fp16`,
          ).toEqual([]);
        }
      }
    }
    expect(picks).toBeGreaterThan(60);
  });

  it('where fp16 or KIVI holds the target context, auto rebuilds nothing', () => {
    for (const [name, s] of Object.entries(REAL)) {
      for (const ctx of CONTEXTS) {
        for (const f of FRACTIONS) {
          const plan = planCache(s, Math.round(fp16Bytes(s) * ctx * f), ctx, { device: { tiers: true } });
          const kvFits = plan.modes.some(
            (m) => (m.mode === 'fp16' || m.mode.startsWith('kivi-')) && m.fitsTarget && (m.accuracyCost ?? 1) <= plan.accuracyBound,
          );
          if (kvFits) expect(plan.modes.find((m) => m.mode === plan.auto)!.rebuildGflop, `${name} ${ctx} ${f}`).toBe(0);
        }
      }
    }
  });

  it("on GQA models xquant-gqa-4 has kivi-4's bytes but rebuilds K every step: with 60% of fp16's bytes for 4K, auto picks kivi-4", () => {
    for (const name of ['SmolLM2-135M', 'Qwen2.5-0.5B', 'Llama-3.2-1B']) {
      const s = REAL[name];
      const plan = planCache(s, fp16Bytes(s) * 4096 * 0.6, 4096, { device: { tiers: true } });
      expect(plan.auto, name).toBe('kivi-4');
      const gqa = plan.modes.find((m) => m.mode === 'xquant-gqa-4')!;
      const kivi = plan.modes.find((m) => m.mode === 'kivi-4')!;
      expect(gqa.bytesPerToken).toBe(kivi.bytesPerToken);
      expect(gqa.msPerToken).toBeGreaterThan(2 * kivi.msPerToken);
    }
  });

  it('Llama-3.2-1B at 4K on the stated RTX 4060 Laptop: fp16 near 200 tok/s, xquant-4 under 10 (the rebuild, 146 GFLOP a token)', () => {
    const s = REAL['Llama-3.2-1B'];
    const plan = planCache(s, 2 ** 32, 4096, { profile: STATED_PROFILES['rtx-4060-laptop'] });
    const ms = (mode: string) => plan.modes.find((m) => m.mode === mode)!.msPerToken;
    expect(1000 / ms('fp16')).toBeGreaterThan(140);
    expect(1000 / ms('fp16')).toBeLessThan(260);
    expect(1000 / ms('xquant-4')).toBeLessThan(10);
    expect(plan.modes.find((m) => m.mode === 'xquant-4')!.rebuildGflop).toBeCloseTo(146.3, 0);
  });

  it('a budget between the X form and fp16 sizes a hot tier: the newest tokens need no rebuild, so the step is cheaper', () => {
    const s = REAL['Llama-3.1-8B'];
    const budget = fp16Bytes(s) * 8192 * 0.75;
    const plan = planCache(s, budget, 8192, { device: { tiers: true } });
    const tiered = plan.modes.find((m) => m.mode.startsWith('xquant-4:hot='))!;
    const plain = plan.modes.find((m) => m.mode === 'xquant-4')!;
    expect(tiered.hot % 128).toBe(0);
    expect(tiered.hot).toBeGreaterThan(0);
    expect(tiered.fitsTarget).toBe(true);
    expect(cacheBytesFor(s, parseCacheMode(tiered.mode), 8192)).toBeLessThanOrEqual(budget);
    expect(cacheBytesFor(s, parseCacheMode(`xquant-4:hot=${tiered.hot + 128}`), 8192)).toBeGreaterThan(budget);
    expect(tiered.rebuildGflop).toBeLessThan(plain.rebuildGflop * (1 - tiered.hot / 8192) + 1);
    expect(tiered.msPerToken).toBeLessThan(plain.msPerToken);
    // Without tiers (the reference backend) none is offered.
    expect(planCache(s, budget, 8192).modes.some((m) => m.hot > 0)).toBe(false);
  });
});

describe('planner on the bundled MHA model', () => {
  const austen = REAL['austen-3m (MHA)'];

  it('with a tight budget picks XQuant-CL, the most accurate mode that fits (kivi-4 and xquant-8 do not)', () => {
    const budget = 700 * 512; // 700 B per token: xquant-cl-4 needs 624, kivi-4 1,236, xquant-8 1,200
    const plan = planCache(austen, budget, 512, { device: { tiers: true } });
    expect(plan.modes.find((m) => m.mode === 'kivi-4')!.fitsTarget).toBe(false);
    expect(plan.auto).toBe('xquant-cl-4');
    // At 2 bits XQuant-CL still fits where kivi-2 would cost +2.2% perplexity: its +0.13% wins.
    expect(planCache(austen, 500 * 512, 512).auto).toBe('xquant-cl-2');
  });

  it('with room for fp16 keeps fp16 (the same accuracy, nothing rebuilt)', () => {
    expect(planCache(austen, 2 ** 28, 512, { device: { tiers: true } }).auto).toBe('fp16');
  });
});

describe("a sliding layer's ring", () => {
  // Gemma-3-1B: 26 layers, 4 of them global (5, 11, 17, 23); one kv head of 256, so 1,024 fp16 bytes per layer-token.
  const gemma = parseModelConfig(JSON.stringify(REAL_CONFIGS.gemma3_1b), 'config.json');

  it('costs its window plus the slack once: Gemma-3-1B in fp16 at 32K tokens is 0.18 of a full KV cache', () => {
    const fp16 = parseCacheMode('fp16');
    expect(ringTokens(gemma, fp16, 0)).toBe(1024); // 512 + 512, whole pages
    expect(ringTokens(gemma, fp16, 5)).toBeNull();
    expect(cacheBytesPerToken(gemma, fp16)).toBe(4 * 1024);
    const at = (n: number) => cacheBytesFor(gemma, fp16, n);
    expect(at(32768)).toBe(32768 * 4096 + 22 * 1024 * 1024);
    expect(at(32768) / (32768 * 26 * 1024)).toBeCloseTo(0.18, 2);
    // Below the ring's size a ring costs what a full layer does.
    expect(at(300)).toBe(300 * 26 * 1024);
  });

  it("is kept in every mode but xquant-cl, whose global layers read the sliding layers' deltas", () => {
    for (const mode of ['kivi-4', 'xquant-4', 'xquant-gqa-4', 'xquant-8:hot=128']) {
      const c = parseCacheMode(mode);
      expect(ringTokens(gemma, c, 0)).toBe(1024);
      expect(ringTokens(gemma, c, 5)).toBeNull();
    }
    expect(ringTokens(gemma, parseCacheMode('xquant-cl-4'), 0)).toBeNull();
    // xquant-4 stores a row of X per layer and token: the 4 global layers' rows grow, the 22 rings stay.
    const x4 = parseCacheMode('xquant-4');
    const row = cacheBytesPerToken(gemma, x4) / 4;
    expect(cacheBytesFor(gemma, x4, 32768)).toBe(32768 * 4 * row + 22 * 1024 * row);
    // At 32K tokens xquant-4 with rings is smaller than fp16 with rings, and kivi-4 smaller still.
    const at = (m: string) => cacheBytesFor(gemma, parseCacheMode(m), 32768);
    expect(at('xquant-4')).toBeLessThan(at('fp16') * 0.6);
    expect(at('kivi-4')).toBeLessThan(at('xquant-4'));
    expect(at('xquant-cl-4')).toBeGreaterThan(at('xquant-4'));
  });

  it('lets a model whose every layer slides (Mistral) run its whole context in a bounded cache', () => {
    const mistral = parseModelConfig(
      JSON.stringify({
        ...syntheticConfig({ hidden: 256, layers: 4, heads: 8, kvHeads: 2, headDim: 32, ffn: 512, vocab: 512 }),
        architectures: ['MistralForCausalLM'],
        sliding_window: 256,
        max_position_embeddings: 32768,
      }),
      'config.json',
    );
    const fp16 = parseCacheMode('fp16');
    expect(cacheBytesPerToken(mistral, fp16)).toBe(0);
    const rings = 4 * 768 * 2 * 64 * 2;
    expect(cacheBytesFor(mistral, fp16, 32768)).toBe(rings);
    const plan = planCache(mistral, rings, 32768, { device: { maxBindingBytes: 1 << 20 } });
    expect(plan.modes.find((m) => m.mode === 'fp16')?.maxContext).toBe(32768);
    expect(planCache(mistral, rings - 1, 32768).modes.find((m) => m.mode === 'fp16')?.maxContext).toBe(767);
  });
});
