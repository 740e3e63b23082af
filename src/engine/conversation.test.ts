// Conversations on the Engine with the reference backend: prefix reuse across turns (cached_tokens), the same replies
// with and without it where the cache is lossless enough, edits and regenerates, and kept sessions in the budget.

import { describe, expect, it } from 'vitest';
import { nodeModelSource } from '../model/node-file-source';
import { referenceBackends } from '../reference/engine-backend';
import { loadPreparedModel } from '../storage/model-loader';
import { sharedPath } from '../test-support/shared-models';
import { syntheticSource } from '../test-support/synthetic-model';
import type { ChatMessage } from '../tokenizer/tokenizer';
import type { BackendFactory } from './backend';
import { Engine, type GenerationStats } from './engine';
import { generateRequest } from './openai';
import type { PreparedModel } from './prepared-model';

const TURNS = ['Tell me about a cat.', 'What did the cat eat?', 'Where did it sleep?', 'Did it have a friend?', 'What happened next?', 'How did it end?'];

async function engineOn(budgetMB = 256, backends: BackendFactory = referenceBackends): Promise<Engine> {
  const dir = sharedPath('models/stories260K');
  const { model } = await loadPreparedModel({
    resolved: { id: `file:${dir}`, revision: '', name: 'stories260K', source: nodeModelSource(dir) },
    format: 'f32',
    cache: null,
  });
  const engine = new Engine(backends);
  await engine.load(model, { memoryBudgetMB: budgetMB });
  return engine;
}

/** Tiny weights, wide K/V (8 layers of 512): the cache outweighs the weights from a few hundred tokens on. */
async function wideKvModel(): Promise<PreparedModel> {
  const shape = { hidden: 64, layers: 8, heads: 8, kvHeads: 8, headDim: 64, ffn: 128, vocab: 256 };
  const resolved = { id: 'synthetic:wide-kv', revision: '', name: 'wide-kv', source: syntheticSource(shape) };
  return (await loadPreparedModel({ resolved, format: 'f32', cache: null })).model;
}

async function run(engine: Engine, messages: ChatMessage[], cache: string, reuse: boolean): Promise<GenerationStats> {
  const it = engine.stream(generateRequest(engine.chatPrompt(messages, undefined, reuse), { max_tokens: 16, temperature: 0, cache, reuse, stop: ['\nuser:'] }));
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
  // The engine's reference backend attends prompts as decode steps do ('as-stored', src/reference/decoder.ts), so
  // reuse changes nothing in any mode: not the lossy ones, residual windows or pinned layers either (hot tiers run on
  // WebGPU only).
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4', 'kivi-2:residual=16', 'xquant-cl-2:pin-layers=1'])(
    '%s: six turns give the same greedy replies with and without reuse; each turn reuses the previous one',
    async (mode) => {
      const engine = await engineOn();
      const reused = await conversation(engine, mode, true);
      const fresh = await conversation(await engineOn(), mode, false);
      expect(reused.map((s) => s.ids)).toEqual(fresh.map((s) => s.ids));
      // KIVI's and xquant-gqa's per-channel K blocks roll back to a block boundary: up to 127 tokens run again.
      const blockRollback = mode.startsWith('kivi') || mode.includes('gqa') ? 128 : 0;
      for (let k = 1; k < TURNS.length; k++) {
        expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens - blockRollback);
        expect(fresh[k].cachedTokens).toBe(0);
      }
      expect(reused.every((s) => s.ids.length > 0)).toBe(true);
      expect(engine.memory().sessions).toEqual([{ mode, tokens: expect.any(Number), bytes: expect.any(Number) }]);
    },
  );

  it.each(['f32', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4'])(
    '%s: an edited last message and a regenerate reuse up to the edit and then equal a fresh request',
    async (mode) => {
      const engine = await engineOn();
      // Keeping n tokens is exact in every mode; KIVI's and xquant-gqa's per-channel K blocks keep whole blocks only.
      const rollback = mode.startsWith('kivi') || mode.includes('gqa') ? 127 : 0;
      const history: ChatMessage[] = [
        { role: 'user', content: 'Tell me about a dog.' },
        { role: 'assistant', content: 'The dog was big and happy and liked to run in the park with Tim.' },
        { role: 'user', content: 'What did the dog eat?' },
        { role: 'assistant', content: 'The dog ate a big bone and then it went to sleep under the tree.' },
      ];
      const messages: ChatMessage[] = [...history, { role: 'user', content: 'Where did it sleep?' }];
      const first = await run(engine, messages, mode, true);
      const regenerated = await run(engine, messages, mode, true);
      // All but the last prompt token, which picks the reply (less a partial block for KIVI and xquant-gqa).
      expect(regenerated.cachedTokens).toBeGreaterThanOrEqual(first.promptTokens - 1 - rollback);
      expect(regenerated.cachedTokens).toBeLessThanOrEqual(first.promptTokens - 1);
      expect(regenerated.ids).toEqual(first.ids);
      const edited: ChatMessage[] = [...history, { role: 'user', content: 'Who was its friend?' }];
      const reusedEdit = await run(engine, edited, mode, true);
      const freshEdit = await run(await engineOn(), edited, mode, false);
      if (!rollback) expect(reusedEdit.cachedTokens).toBeGreaterThan(first.promptTokens / 2);
      expect(reusedEdit.cachedTokens).toBeLessThan(first.promptTokens - 1);
      expect(reusedEdit.ids).toEqual(freshEdit.ids);
    },
  );

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

  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4'])(
    '%s: a conversation three times the context continues: old messages dropped whole, the prompt is that of the kept ones',
    async (mode) => {
      const engine = await engineOn();
      const messages: ChatMessage[] = [{ role: 'system', content: 'You tell short stories about animals.' }];
      for (let i = 0; i < 20; i++) {
        messages.push({ role: 'user', content: `Tell me story number ${i} about a cat who found a red ball in the garden.` });
        messages.push({ role: 'assistant', content: `Once upon a time a cat found a red ball, and story ${i} was a happy one.` });
      }
      messages.push({ role: 'user', content: 'And the last story?' });
      expect(engine.chatPrompt(messages).length).toBeGreaterThan(3 * 512);
      const fitted = engine.fitChatPrompt(messages, 8);
      expect(fitted.dropped % 2).toBe(0);
      expect(fitted.ids.length + 8).toBeLessThanOrEqual(512);
      const kept = [messages[0], ...messages.slice(1 + fitted.dropped)];
      expect(fitted.ids).toEqual(engine.chatPrompt(kept));
      const stream = async (ids: number[], reuse: boolean) => {
        const it = engine.stream(generateRequest(ids, { max_tokens: 8, temperature: 0, cache: mode, reuse }));
        let step = await it.next();
        while (!step.done) step = await it.next();
        return step.value;
      };
      const reply = await stream(fitted.ids, false);
      expect(reply.ids.length).toBeGreaterThan(0);
      expect(reply.promptTokens).toBe(fitted.ids.length);
      expect(() => engine.fitChatPrompt([messages[0], { role: 'user', content: 'word '.repeat(600) }], 8)).toThrow(/does not fit the model's context/);
    },
  );

  it('dropping keeps system messages wherever they stand, and takes a call with its tool results', async () => {
    const engine = await engineOn();
    const long = (n: number) => `Story ${n} about a cat and a dog and a bird in the old garden. `.repeat(2);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You tell stories.' },
      { role: 'user', content: long(1) },
      { role: 'assistant', content: long(2) },
      { role: 'system', content: 'Be brief.' },
      { role: 'tool', content: long(3), tool_call_id: 'c1' },
      { role: 'user', content: long(4) },
      { role: 'assistant', content: long(5) },
      { role: 'user', content: 'The end?' },
    ];
    const fitted = engine.fitChatPrompt(messages, 200);
    // user 1, its answer and the tool result after the mid system message go together; both system messages stay.
    expect(fitted.dropped).toBe(3);
    expect(fitted.ids).toEqual(engine.chatPrompt([messages[0], messages[3], ...messages.slice(5)]));
  });

  describe('a full context: older messages dropped, the later ones kept in the cache (contextShift)', () => {
    /** A long chat with fixed replies; the request's own reply is not added (max 4 tokens), so the kept history is the prompt. */
    const chat = (pairs: number): ChatMessage[] => {
      const out: ChatMessage[] = [{ role: 'system', content: 'You tell short stories about animals.' }];
      for (let i = 0; i < pairs; i++) {
        out.push({ role: 'user', content: `Tell me story number ${i} about a cat who found a red ball in the garden.` });
        out.push({ role: 'assistant', content: `Once upon a time a cat found a red ball, and story ${i} was a happy one.` });
      }
      return out;
    };
    const ask = async (engine: Engine, messages: ChatMessage[], cache: string, contextShift: 'keep' | 'prefill', reuse = true) => {
      const fitted = engine.fitChatPrompt(messages, 4, undefined, reuse);
      const it = engine.stream(generateRequest(fitted.ids, { max_tokens: 4, temperature: 0, cache, reuse, context_shift: contextShift }));
      let step = await it.next();
      while (!step.done) step = await it.next();
      return { ...step.value, dropped: fitted.dropped, ids: step.value.ids, prompt: fitted.ids };
    };

    /** Turn 1 fits; turn 2 (its reply, two more exchanges, a question) does not: the oldest messages go. */
    const turns = async (engine: Engine, mode: string, shift: 'keep' | 'prefill') => {
      const one: ChatMessage[] = [...chat(5), { role: 'user', content: 'One more?' }];
      const first = await ask(engine, one, mode, shift);
      const two: ChatMessage[] = [...one, { role: 'assistant', content: first.text }, ...chat(2).slice(1), { role: 'user', content: 'And now?' }];
      return { first, two, second: await ask(engine, two, mode, shift) };
    };

    it.each(['f32', 'fp16', 'xquant-4', 'xquant-cl-2', 'kivi-4', 'xquant-gqa-4', 'xquant-4:residual=16', 'kivi-2:residual=32'])(
      '%s: the kept messages keep their cache entries, re-based; nothing else is re-run',
      async (mode) => {
        const { first, two, second } = await turns(await engineOn(), mode, 'keep');
        expect(first.dropped).toBe(0);
        expect(second.dropped).toBeGreaterThan(0);
        expect(second.shiftedTokens).toBeGreaterThan(150);
        // Kept: the system message and every kept message up to turn 1's reply; only the new messages (two exchanges of
        // about 77 tokens and a question) are run.
        expect(second.cachedTokens).toBeGreaterThan(second.promptTokens - 200);
        // The prefilled way gives what a fresh request of the kept messages gives.
        const prefilled = (await turns(await engineOn(), mode, 'prefill')).second;
        const fresh = await ask(await engineOn(), two, mode, 'prefill', false);
        expect(prefilled.shiftedTokens).toBe(0);
        expect(prefilled.prompt).toEqual(fresh.prompt);
        expect(prefilled.ids).toEqual(fresh.ids);
        expect(second.prompt).toEqual(fresh.prompt);
      },
    );

    it("a cut the backend refuses (a sliding-window ring whose kept tail is short): the session keeps what it exactly can before the cut, and the reply is a fresh request's", async () => {
      // The reference sessions, refusing every shift as a GPU ring cache does when the kept tail is under its window.
      const refusing: BackendFactory = async (model, o) => {
        const b = await referenceBackends(model, o);
        const create = b.createSession.bind(b);
        b.createSession = (config) => Object.assign(create(config), { shift: () => false });
        return b;
      };
      const engine = await engineOn(256, refusing);
      const { two, second } = await turns(engine, 'f32', 'keep');
      expect(second.dropped).toBeGreaterThan(0);
      expect(second.shiftedTokens).toBe(0);
      // The kept session was reused up to the cut (the reference keeps any prefix exactly; a GPU ring would keep none),
      // and no stale copy of the old history stays in the pool.
      expect(second.cachedTokens).toBeGreaterThan(0);
      expect(engine.memory(16).sessions.length).toBe(1);
      const fresh = await ask(await engineOn(), two, 'f32', 'prefill', false);
      expect(second.prompt).toEqual(fresh.prompt);
      expect(second.ids).toEqual(fresh.ids);
    });
  });
});

describe('auto and kept conversations', () => {
  it('a continued conversation keeps its mode while that mode holds the request, though a fresh plan would pick another', async () => {
    // The planner picks fp16 for a short request and kivi-4 (a quarter of the bytes to read) for a long one.
    const model = await wideKvModel();
    const engine = new Engine(referenceBackends);
    await engine.load(model, { memoryBudgetMB: 256 });
    expect(engine.memory(20).plan.auto).toBe('fp16');
    expect(engine.memory(420).plan.auto).toBe('kivi-4');
    const runIds = async (prompt: number[], reuse = true) => {
      const it = engine.stream({ prompt, maxTokens: 4, reuse });
      let step = await it.next();
      while (!step.done) step = await it.next();
      return step.value;
    };
    const first = Array.from({ length: 16 }, (_, i) => 3 + i);
    const one = await runIds(first);
    expect(one.cache).toBe('fp16');
    const second = [...first, ...one.ids, ...Array.from({ length: 400 }, (_, i) => 3 + ((i * 7) % 250))];
    const two = await runIds(second);
    expect(two.cache).toBe('fp16');
    expect(two.cachedTokens).toBeGreaterThanOrEqual(first.length);
    // Without reuse the request is planned afresh.
    expect((await runIds(second, false)).cache).toBe('kivi-4');
  });

  it('the load option accuracyBound is what auto plans with: 0 keeps the exact mode; out of range is a typed error', async () => {
    const model = await wideKvModel();
    const engine = new Engine(referenceBackends);
    await engine.load(model, { memoryBudgetMB: 256, accuracyBound: 0 });
    expect(engine.memory(420).plan).toMatchObject({ accuracyBound: 0, auto: 'fp16' });
    await engine.load(model, { memoryBudgetMB: 256 });
    expect(engine.memory(420).plan).toMatchObject({ accuracyBound: 0.01, auto: 'kivi-4' });
    await expect(engine.load(model, { accuracyBound: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'accuracyBound' });
  });
});

describe('prefill', () => {
  // The session slices a prompt itself (on WebGPU a long quantized-mode one runs layer by layer, which needs all of
  // it at once: src/webgpu/layer-major.ts); the engine's checkpoint is where an abort lands between slices.
  it('hands the session the whole new prompt with a checkpoint, which throws once the request is aborted', async () => {
    const calls: { ids: number; checkpoint?: () => void }[] = [];
    const spying: BackendFactory = async (model, o) => {
      const b = await referenceBackends(model, o);
      const create = b.createSession.bind(b);
      b.createSession = (config) => {
        const s = create(config);
        const next = s.next.bind(s);
        s.next = (ids, sampler, checkpoint) => {
          calls.push({ ids: ids.length, checkpoint });
          return next(ids, sampler, checkpoint);
        };
        return s;
      };
      return b;
    };
    const engine = await engineOn(256, spying);
    const prompt = [1, ...Array.from({ length: 299 }, (_, i) => 3 + (i % 200))];
    const abort = new AbortController();
    const it = engine.stream(generateRequest(prompt, { max_tokens: 2, temperature: 0, cache: 'xquant-4' }, abort.signal));
    while (!(await it.next()).done);
    expect(calls.map((c) => c.ids)).toEqual([300]);
    expect(() => calls[0].checkpoint!()).not.toThrow();
    abort.abort();
    expect(() => calls[0].checkpoint!()).toThrow('aborted during prefill');
  });
});
