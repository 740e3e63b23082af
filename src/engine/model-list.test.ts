import { describe, expect, it } from 'vitest';
import { cacheBytesPerToken } from '../cache/cache-bytes';
import { parseCacheMode } from '../cache/cache-config';
import { CATALOG } from '../model/catalog';
import { parseModelConfig } from '../model/model-spec';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { listModels } from './model-list';

const byName = (name: string) => listModels().find((m) => m.name === name)!;

describe('the curated model list', () => {
  it("parameters from the configs: Llama-3.2-1B's 1,235,814,400 exactly, the others within 2% of their names", () => {
    expect(byName('Llama-3.2-1B').parameters).toBe(1_235_814_400);
    const named: [string, number][] = [
      ['SmolLM2-135M', 135e6],
      ['SmolLM2-360M', 360e6],
      ['SmolLM2-1.7B', 1.7e9],
      ['Qwen2.5-0.5B', 0.494e9],
      ['Qwen2.5-1.5B', 1.54e9],
      ['Qwen3-0.6B', 0.6e9],
      ['Qwen3-1.7B', 1.72e9],
      ['Qwen3-4B', 4.02e9],
      ['Llama-3.2-3B', 3.21e9],
      ['Gemma-3-270M', 268e6],
      ['Gemma-3-1B', 1e9],
      ['Phi-3.5-mini', 3.82e9],
      ['Phi-4-mini', 3.84e9],
      ['SmolLM3-3B', 3.08e9],
    ];
    for (const [name, n] of named) expect(Math.abs(byName(name).parameters / n - 1), name).toBeLessThan(0.02);
  });

  it("a Q4_K_M file's bytes: Llama-3.2-1B's equal the file test:scale writes with llama.cpp's mix; Qwen2.5-0.5B falls back", () => {
    // `npm run test:scale -- --only llama-3.2-1b-q4km` wrote 799,862,784 bytes of tensors (Q6_K 332,451,840, Q4_K
    // 467,140,608, F32 270,336) after a 7,827,264-byte header: 807.7 MB, as llama.cpp's own file of that model (about 808 MB).
    const llama = byName('Llama-3.2-1B').q4km;
    expect(llama.tensorBytes).toBe(799_862_784);
    expect(llama.gpuBytes).toBe(llama.tensorBytes); // every row is whole words
    // Qwen2.5-0.5B: 896-wide rows are not whole 256-blocks, so Q4_K falls back to Q5_0 (and Q6_K to Q8_0, held as q8).
    const qwen = byName('Qwen2.5-0.5B');
    expect(qwen.q4km.tensorBytes / qwen.parameters).toBeGreaterThan(0.65);
    expect(qwen.q4km.gpuBytes).toBeGreaterThanOrEqual(qwen.q4km.tensorBytes);
    expect(qwen.q4km.gpuBytes).toBeLessThan(qwen.weightBytes.q8);
  });

  it("the catalog agrees with the real configs the tests use, and the cache figures are the planner's", () => {
    const pairs: [string, Record<string, unknown>][] = [
      ['SmolLM2-135M', REAL_CONFIGS.smollm2_135m],
      ['Qwen2.5-0.5B', REAL_CONFIGS.qwen25_05b],
      ['Qwen3-0.6B', REAL_CONFIGS.qwen3_06b],
      ['Llama-3.2-1B', REAL_CONFIGS.llama32_1b],
      ['Phi-4-mini', REAL_CONFIGS.phi4_mini],
      ['SmolLM3-3B', REAL_CONFIGS.smollm3_3b],
      ['Gemma-3-1B', REAL_CONFIGS.gemma3_1b],
    ];
    for (const [name, real] of pairs) {
      const entry = CATALOG.find((e) => e.name === name)!;
      const spec = parseModelConfig(JSON.stringify(real), 'config.json');
      // Gemma's config.json leaves tie_word_embeddings to its class default (true).
      const value = (k: string) => (k === 'tie_word_embeddings' ? spec.tieWordEmbeddings : real[k]);
      for (const [k, v] of Object.entries(entry.config)) if (k !== 'max_position_embeddings') expect(value(k), `${name} ${k}`).toEqual(v);
      for (const mode of ['fp16', 'kivi-4', 'xquant-cl-4']) expect(byName(name).cacheBytesPerToken[mode]).toBe(cacheBytesPerToken(spec, parseCacheMode(mode)));
    }
    // Gemma-3-1B's sliding layers keep rings in fp16: each further token costs its 4 global layers' K and V only.
    expect(byName('Gemma-3-1B').cacheBytesPerToken.fp16).toBe(4 * 2 * 256 * 2);
  });

  it('what fits: weights, the vocabulary-sized buffers, then the cache auto picks', () => {
    const list = listModels({ gpuMemoryMB: 2048, context: 4096 });
    const qwen = list.find((m) => m.name === 'Qwen3-0.6B')!;
    expect(qwen.fit).toMatchObject({ context: 4096, fits: true });
    expect(qwen.fit!.cacheBudgetBytes).toBe(2048 * 2 ** 20 - qwen.weightBytes.q4 - 2 * 128 * 151936 * 4);
    // Qwen3-4B's q4 weights alone (2.2 GB) pass 2 GiB.
    expect(list.find((m) => m.name === 'Qwen3-4B')!.fit).toMatchObject({ fits: false, auto: null });
    // Every family listed runs now; Gemma-3-270M fits 2 GiB with room to spare.
    expect(list.filter((m) => m.unsupported)).toEqual([]);
    expect(list.find((m) => m.name === 'Gemma-3-270M')!.fit).toMatchObject({ fits: true });
    // A longer context in the same memory needs a smaller mode.
    const at = (context: number) => listModels({ gpuMemoryMB: 1024, context }).find((m) => m.name === 'Qwen3-0.6B')!.fit!;
    expect(at(32768).fits).toBe(true);
    expect(at(32768).auto).not.toBe(at(4096).auto);
    expect(listModels()[0].fit).toBeUndefined();
    // Phi runs up to its trained context (longrope's short factors) by default, and to 131,072 with a load's
    // contextLength (the long factors); it says both.
    expect(byName('Phi-4-mini')).toMatchObject({ modelContext: 131072, trainedContext: 4096 });
    expect(byName('Qwen3-0.6B').trainedContext).toBeUndefined();
    expect(byName('Phi-4-mini').unsupported).toBeUndefined();
  });
});
