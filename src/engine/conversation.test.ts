// Conversations on the Engine with the reference backend: prefix reuse across turns (cached_tokens), the same replies
// with and without it where the cache is lossless enough, edits and regenerates, and kept sessions in the budget.

import { describe, expect, it } from 'vitest';
import { nodeModelSource } from '../model/node-file-source';
import { referenceBackends } from '../reference/engine-backend';
import { loadPreparedModel } from '../storage/model-loader';
import { sharedPath } from '../test-support/shared-models';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { Engine, type GenerationStats } from './engine';
import { generateRequest } from './openai';

const TURNS = ['Tell me about a cat.', 'What did the cat eat?', 'Where did it sleep?', 'Did it have a friend?', 'What happened next?', 'How did it end?'];

async function engineOn(budgetMB = 256): Promise<Engine> {
  const dir = sharedPath('models/stories260K');
  const { model } = await loadPreparedModel({
    resolved: { id: `file:${dir}`, revision: '', name: 'stories260K', source: nodeModelSource(dir) },
    format: 'f32',
    cache: null,
  });
  const engine = new Engine(referenceBackends);
  await engine.load(model, { memoryBudgetMB: budgetMB });
  return engine;
}

async function run(engine: Engine, messages: ChatMessage[], cache: string, reuse: boolean): Promise<GenerationStats> {
  const it = engine.stream(generateRequest(engine.chatPrompt(messages), { max_tokens: 16, temperature: 0, cache, reuse, stop: ['\nuser:'] }));
  let step = await it.next();
  while (!step.done) step = await it.next();
  return step.value;
}

async function conversation(engine: Engine, cache: string, reuse: boolean): Promise<GenerationStats[]> {
  const messages: ChatMessage[] = [{ role: 'system', content: 'You tell stories.' }];
  const out: GenerationStats[] = [];
  for (const t of TURNS) {
    messages.push({ role: 'user', content: t });
    const s = await run(engine, messages, cache, reuse);
    out.push(s);
    messages.push({ role: 'assistant', content: s.text });
  }
  return out;
}

describe('conversations (reference backend)', () => {
  it.each(['f32', 'fp16'])('%s: six turns give the same greedy replies with and without reuse; each turn reuses all of the previous one', async (mode) => {
    const engine = await engineOn();
    const reused = await conversation(engine, mode, true);
    const fresh = await conversation(await engineOn(), mode, false);
    expect(reused.map((s) => s.ids)).toEqual(fresh.map((s) => s.ids));
    for (let k = 1; k < TURNS.length; k++) {
      expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens);
      expect(fresh[k].cachedTokens).toBe(0);
    }
    expect(engine.memory().sessions).toEqual([{ mode, tokens: expect.any(Number), bytes: expect.any(Number) }]);
  });

  it.each(['kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4'])('%s: each turn reuses the previous one', async (mode) => {
    const reused = await conversation(await engineOn(), mode, true);
    for (let k = 1; k < TURNS.length; k++)
      expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens - (mode.startsWith('k') || mode.includes('gqa') ? 128 : 0));
    expect(reused.every((s) => s.ids.length > 0)).toBe(true);
  });

  it('an edited last message and a regenerate reuse up to the edit and then equal a fresh request (f32)', async () => {
    const engine = await engineOn();
    const messages: ChatMessage[] = [{ role: 'user', content: 'Tell me about a dog.' }];
    const first = await run(engine, messages, 'f32', true);
    const regenerated = await run(engine, messages, 'f32', true);
    expect(regenerated.cachedTokens).toBe(first.promptTokens - 1); // all but the last prompt token, which picks the reply
    expect(regenerated.ids).toEqual(first.ids);
    const edited: ChatMessage[] = [{ role: 'user', content: 'Tell me about a bird.' }];
    const reusedEdit = await run(engine, edited, 'f32', true);
    const freshEdit = await run(await engineOn(), edited, 'f32', false);
    expect(reusedEdit.cachedTokens).toBeGreaterThan(0);
    expect(reusedEdit.cachedTokens).toBeLessThan(first.promptTokens - 1);
    expect(reusedEdit.ids).toEqual(freshEdit.ids);
  });

  it('kept conversations stay within the budget: the least recently used are evicted, and a request that fits alone still runs', async () => {
    // fp16 on stories260K: 640 bytes per token; 0.1 MiB holds 163 tokens.
    const engine = await engineOn(0.1);
    for (const t of ['A cat.', 'A dog.', 'A bird.', 'A fish.']) await run(engine, [{ role: 'user', content: t }], 'fp16', true);
    const kept = engine.memory().sessions;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.reduce((a, k) => a + k.bytes, 0)).toBeLessThanOrEqual(0.1 * 2 ** 20);
    const long = await run(engine, [{ role: 'user', content: 'Once upon a time there was a very long story about many animals. '.repeat(2) }], 'fp16', true);
    expect(long.ids.length).toBeGreaterThan(0);
    expect(engine.memory().sessions.reduce((a, k) => a + k.bytes, 0)).toBeLessThanOrEqual(0.1 * 2 ** 20);
  });
});
