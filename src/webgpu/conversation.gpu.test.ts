// A six-turn conversation on the WebGPU backend through the Engine: with prefix reuse each turn prefills only its new
// tokens, and in f32 and fp16 the greedy replies equal those without reuse.

import { describe, expect, it } from 'vitest';
import { Engine, type GenerationStats } from '../engine/engine';
import { generateRequest } from '../engine/openai';
import { nodeModelSource } from '../model/node-file-source';
import { loadPreparedModel } from '../storage/model-loader';
import { sharedPath } from '../test-support/shared-models';
import type { ChatMessage } from '../tokenizer/tokenizer';
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

  it('xquant-cl-4: each turn reuses the previous one', async () => {
    const reused = await conversation('xquant-cl-4', true);
    for (let k = 1; k < TURNS.length; k++) expect(reused[k].cachedTokens).toBeGreaterThanOrEqual(reused[k - 1].promptTokens);
  });
});
