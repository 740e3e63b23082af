// Soak: one long conversation with the default model in an xquant mode, in Chromium: 2,000+ decode steps
// over many turns (the sliding window keeps it inside the 512-token context). GPU memory accounting must
// stay flat after the first turns, and a fresh engine given the same seeds must produce the same replies.
import { expect, test } from '@playwright/test';
import { writeFileSync, mkdirSync } from 'node:fs';
import type { XQuantEngine } from '../src/client/index';

test('2,000 decode steps in one conversation: flat GPU memory, output identical to a fresh run', async ({ page }) => {
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const started = Date.now();
  const r = await page.evaluate(async () => {
    type W = { engine: XQuantEngine; createFresh: () => XQuantEngine };
    const w = window as unknown as W;
    const converse = async (e: XQuantEngine) => {
      await e.load('/models/austen-3m', { weights: 'q8', cache: 'xquant-cl-4' });
      const messages: { role: 'user' | 'assistant'; content: string }[] = [];
      const replies: string[] = [];
      const memory: number[] = [];
      let steps = 0;
      for (let turn = 0; steps < 2000; turn++) {
        messages.push({ role: 'user', content: `Tell me more, part ${turn}.` });
        const c = await e.chat.completions.create({ messages, max_tokens: 120, temperature: 0.8, top_k: 40, seed: 1000 + turn, truncation: 'auto' });
        const text = c.choices[0].message.content;
        messages.push({ role: 'assistant', content: text });
        replies.push(text);
        steps += c.usage.completion_tokens;
        memory.push((await e.memory()).gpu.total);
      }
      return { replies, memory, steps };
    };
    const first = await converse(w.engine);
    w.engine.terminate();
    const second = await converse(w.createFresh());
    return { first, second };
  });
  const seconds = (Date.now() - started) / 1000;
  const afterWarmup = r.first.memory.slice(2);
  const result = {
    date: new Date().toISOString(),
    model: 'austen-3m',
    weights: 'q8',
    cache: 'xquant-cl-4',
    turns: r.first.replies.length,
    decodeSteps: r.first.steps,
    gpuBytesPerTurn: r.first.memory,
    identicalToFreshRun: JSON.stringify(r.first.replies) === JSON.stringify(r.second.replies),
    seconds,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/soak.json', `${JSON.stringify(result, null, 2)}\n`);
  expect(r.first.steps).toBeGreaterThanOrEqual(2000);
  expect(new Set(afterWarmup).size).toBe(1);
  expect(r.second.replies).toEqual(r.first.replies);
});
