// A six-turn conversation on the WebGPU backend through the Engine: with prefix reuse each turn prefills only its new
// tokens, and in f32 and fp16 the greedy replies equal those without reuse.

import { describe, expect, it } from 'vitest';
import { Engine, type GenerationStats } from '../engine/engine';
import { generateRequest } from '../engine/openai';
import { nodeModelSource } from '../model/node-file-source';
import { loadPreparedModel } from '../storage/model-loader';
import { sharedPath } from '../test-support/shared-models';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { syntheticSource, type SyntheticShape } from '../test-support/synthetic-model';
import { webGpuBackends } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

const TURNS = ['Tell me about a cat.', 'What did the cat eat?', 'Where did it sleep?', 'Did it have a friend?', 'What happened next?', 'How did it end?'];

async function conversation(cache: string, reuse: boolean): Promise<GenerationStats[]> {
  const dir = sharedPath('models/stories260K');
  const { model } = await loadPreparedModel({
    resolved: { id: `file:${dir}`, revision: '', name: 'stories260K', source: nodeModelSource(dir) },
    format: 'f32',
    cache: null,
  });
  const engine = new Engine(webGpuBackends(nodeGpu(), nodeShaders()));
  await engine.load(model, {});
  const messages: ChatMessage[] = [{ role: 'system', content: 'You tell stories.' }];
  const out: GenerationStats[] = [];
  try {
    for (const t of TURNS) {
      messages.push({ role: 'user', content: t });
      const it = engine.stream(
        generateRequest(engine.chatPrompt(messages, undefined, reuse), { max_tokens: 16, temperature: 0, cache, reuse, stop: ['\nuser:'] }),
      );
      let step = await it.next();
      while (!step.done) step = await it.next();
      out.push(step.value);
      messages.push({ role: 'assistant', content: step.value.text });
    }
  } finally {
    engine.unload();
  }
  return out;
}

describe('conversations on WebGPU', () => {
  it.each(['f32', 'fp16'])('%s: the same greedy replies with and without reuse; turn k reuses all of turn k-1', async (mode) => {
    const reused = await conversation(mode, true);
    const fresh = await conversation(mode, false);
    expect(reused.map((s) => s.ids)).toEqual(fresh.map((s) => s.ids));
    for (let k = 1; k < TURNS.length; k++) expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens);
  });

  // Between turns the session is parked (its working buffers, decode partials and xquant-gqa's latent rows freed)
  // and made whole again by the next turn.
  it.each(['xquant-cl-4', 'xquant-gqa-4'])('%s: each turn reuses the previous one', async (mode) => {
    const reused = await conversation(mode, true);
    for (let k = 1; k < TURNS.length; k++) expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens);
  });

  it('many conversations under a small budget: the cache stays within it, and kept sessions hold nothing but their cache', async () => {
    // A 32K vocabulary: one session's logits and their readback are 2 x 128 x 32,768 x 4 = 32 MiB.
    const shape: SyntheticShape = { hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, ffn: 48, vocab: 32768, tied: true };
    const { model } = await loadPreparedModel({
      resolved: { id: 'synthetic-32k', revision: '', name: 'synthetic-32k', source: syntheticSource(shape) },
      format: 'f32',
      cache: null,
    });
    const budgetMB = 0.25;
    const engine = new Engine(webGpuBackends(nodeGpu(), nodeShaders()));
    await engine.load(model, { memoryBudgetMB: budgetMB });
    const logitsBytes = 128 * shape.vocab * 4;
    try {
      for (let c = 0; c < 8; c++) {
        const prompt = [1, ...Array.from({ length: 90 }, (_, i) => 3 + ((c * 977 + i * 31) % (shape.vocab - 3)))];
        const it = engine.stream(generateRequest(prompt, { max_tokens: 6, temperature: 0, cache: 'fp16' }));
        let step = await it.next();
        // While a request runs, its session has its logits.
        expect(engine.memory().gpu.activations).toBeGreaterThanOrEqual(logitsBytes);
        while (!step.done) step = await it.next();
        const m = engine.memory();
        expect(m.gpu.cache).toBeLessThanOrEqual(budgetMB * 2 ** 20);
        // Between requests no session holds logits: what is left is well under one logits buffer.
        // Between requests a kept session holds its cache and a few bytes (its step uniform, chosen id and their
        // readbacks): no logits, no working rows (here 128 rows of each width and the attention partials, 0.47 MB).
        expect(m.gpu.activations + m.gpu.staging).toBeLessThan(256 * (1 + m.sessions.length));
        expect(m.gpu.total).toBeLessThanOrEqual(m.gpu.weights + budgetMB * 2 ** 20 + logitsBytes / 4);
      }
      const kept = engine.memory().sessions;
      expect(kept.length).toBeGreaterThan(1); // several conversations kept, within the budget
      expect(kept.reduce((a, k) => a + k.bytes, 0)).toBeLessThanOrEqual(budgetMB * 2 ** 20);
    } finally {
      engine.unload();
    }
  });
});
