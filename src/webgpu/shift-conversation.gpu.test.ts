// A chat three times austen-3m's 512-token context, turn by turn, through the Engine on WebGPU in every mode that
// applies (xquant-gqa needs fewer kv heads than heads; austen-3m has as many): each turn drops whole old messages to
// fit (fitChatPrompt) and keeps the later ones' cache entries, re-based (context_shift 'keep'). Checked per mode: the
// conversation continues, the kept messages are whole, the kept entries are used; f32 and fp16 reply as the reference
// backend's engine does on the same turns; with 'prefill' the last turn's reply equals a fresh request of its kept
// messages (f32 here; every mode on the reference backend in src/engine/conversation.test.ts). Minutes on
// SwiftShader: a seeded history and five turns, not a turn per exchange.

import { describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine';
import { generateRequest } from '../engine/openai';
import { nodeModelSource } from '../model/node-file-source';
import { referenceBackends } from '../reference/engine-backend';
import { loadPreparedModel } from '../storage/model-loader';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { webGpuBackends } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';
import type { BackendFactory } from '../engine/backend';

const DIR = new URL('../../public/models/austen-3m/', import.meta.url).pathname;
const CONTEXT = 512;
const MAX_TOKENS = 6;
const SEEDED = 24;
const TURNS = 5;

async function engineOn(backends: BackendFactory): Promise<Engine> {
  const { model } = await loadPreparedModel({
    resolved: { id: `file:${DIR}`, revision: '', name: 'austen-3m', source: nodeModelSource(DIR) },
    format: 'f32',
    cache: null,
  });
  const engine = new Engine(backends);
  await engine.load(model, {});
  return engine;
}

interface Turn {
  ids: number[];
  dropped: number;
  prompt: number[];
  cached: number;
  shifted: number;
}

/**
 * Turns of a chat past 3 contexts: a history of SEEDED exchanges (about 2.5 contexts: the first turn drops most of it),
 * then TURNS more, each reply added as generated (the engine keeps its tokens, so the next turn matches through it).
 */
async function chat(engine: Engine, cache: string, contextShift: 'keep' | 'prefill'): Promise<{ turns: Turn[]; total: number; last: ChatMessage[] }> {
  const messages: ChatMessage[] = [{ role: 'system', content: 'You are Miss Bennet, and you answer briefly.' }];
  for (let i = 0; i < SEEDED; i++) {
    messages.push({ role: 'user', content: `Letter ${i}: pray tell me of the ball at Netherfield, and of Mr. Darcy's manners that evening.` });
    messages.push({ role: 'assistant', content: `Reply ${i}: the ball was lively, and Mr. Darcy was proud and silent all evening.` });
  }
  const turns: Turn[] = [];
  for (let i = 0; i < TURNS; i++) {
    messages.push({ role: 'user', content: `Letter ${SEEDED + i}: and what did your sister Jane say of Mr. Bingley, who danced with her twice?` });
    const fitted = engine.fitChatPrompt(messages, MAX_TOKENS);
    const it = engine.stream(generateRequest(fitted.ids, { max_tokens: MAX_TOKENS, temperature: 0, cache, context_shift: contextShift }));
    let step = await it.next();
    while (!step.done) step = await it.next();
    const s = step.value;
    turns.push({ ids: s.ids, dropped: fitted.dropped, prompt: fitted.ids, cached: s.cachedTokens ?? 0, shifted: s.shiftedTokens ?? 0 });
    messages.push({ role: 'assistant', content: s.text });
  }
  return { turns, total: engine.chatPrompt(messages).length, last: messages.slice(0, -1) };
}

describe("a chat three times austen-3m's context on WebGPU: old messages dropped whole, the kept ones' entries kept", () => {
  // A residual window is left out: its keep() is exact only for the whole history, and a reply cut by max_tokens leaves
  // the next prompt matching the kept tokens short of their end (src/webgpu/shift.gpu.test.ts shifts it directly).
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-4'])('%s', async (mode) => {
    const gpu = await engineOn(webGpuBackends(nodeGpu(), nodeShaders()));
    try {
      const { turns, total } = await chat(gpu, mode, 'keep');
      expect(total).toBeGreaterThanOrEqual(3 * CONTEXT);
      for (const t of turns) {
        expect(t.prompt.length + MAX_TOKENS).toBeLessThanOrEqual(CONTEXT);
        expect(t.ids.length).toBeGreaterThan(0);
        // Whole messages: the kept history after the system message starts with a user message.
        expect(t.dropped % 2).toBe(0);
      }
      // The first turn drops most of the seeded history (nothing is kept yet); a later one that drops the oldest kept
      // messages keeps the rest's entries, and every later turn prefills little more than its new messages.
      const later = turns.slice(1);
      // `dropped` counts every message left out of the prompt: a turn cuts when it leaves out more than the one before.
      const cut = later.filter((t, i) => t.dropped > turns[i].dropped);
      expect(cut.length).toBeGreaterThanOrEqual(2);
      for (const t of cut) expect(t.shifted).toBeGreaterThan(0);
      for (const t of later) expect(t.cached).toBeGreaterThan(t.prompt.length - 120);
      if (mode === 'f32' || mode === 'fp16') {
        const ref = await engineOn(referenceBackends);
        const r = await chat(ref, mode, 'keep');
        expect(turns.map((t) => t.ids)).toEqual(r.turns.map((t) => t.ids));
        expect(r.turns.map((t) => t.shifted > 0)).toEqual(turns.map((t) => t.shifted > 0));
        ref.unload();
      }
      if (mode === 'f32') {
        // Re-prefilled instead, the last turn replies as a fresh request of the same kept messages. (In a quantized mode
        // the re-prefilled turn still reuses the cached, quantized system message, where a fresh request runs it exact:
        // their replies may differ, here xquant-4's did.)
        const prefilled = await chat(gpu, mode, 'prefill');
        const final = prefilled.turns[prefilled.turns.length - 1];
        expect(final.shifted).toBe(0);
        const fitted = gpu.fitChatPrompt(prefilled.last, MAX_TOKENS);
        expect(fitted.ids).toEqual(final.prompt);
        const it = gpu.stream(generateRequest(fitted.ids, { max_tokens: MAX_TOKENS, temperature: 0, cache: mode, reuse: false }));
        let step = await it.next();
        while (!step.done) step = await it.next();
        expect(step.value.ids).toEqual(final.ids);
      }
    } finally {
      gpu.unload();
    }
  });
});
