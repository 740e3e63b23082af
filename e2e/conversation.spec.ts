// Saved conversations in Chromium: a conversation of more than 1,000 tokens is saved to IndexedDB, the page is
// reloaded, and the next turn restores its cache (cached_tokens cover the history, no re-prefill) and replies as it
// did without the reload, in every cache mode. The model is tinystories-656k served with a 2,048-token context
// (its own is 512; RoPE runs past it, the replies are poor, and equal is all this checks).
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ChatMessage, XQuantEngine } from '../src/client/index';

const SHARED = resolve(import.meta.dirname, '../../shared');
const MODES = ['fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4'];

async function serveLongContextModel(page: Page): Promise<void> {
  await page.route('**/long-models/tinystories-2k/**', (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop()!;
    try {
      const body = readFileSync(resolve(SHARED, 'models/tinystories-656k', file));
      if (file !== 'config.json') return route.fulfill({ status: 200, body });
      const config = JSON.parse(body.toString('utf8'));
      return route.fulfill({ status: 200, body: JSON.stringify({ ...config, max_position_embeddings: 2048 }) });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
}

/** Four long user turns of TinyStories text (about 1,200 tokens with the replies), then a short one. */
function userTurns(): string[] {
  const stories = readFileSync(resolve(SHARED, 'text/tinystories-valid-head.txt'), 'utf8').split('\n\n');
  const take = (from: number) =>
    stories
      .slice(from, from + 5)
      .join(' ')
      .slice(0, 1800);
  return [take(0), take(5), take(10), take(15), 'What happened next?'];
}

async function openEngine(page: Page): Promise<void> {
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  await page.evaluate(async () => {
    const e = (window as unknown as { engine: XQuantEngine }).engine;
    await e.load('/long-models/tinystories-2k', { weights: 'f32', warmup: false });
  });
}

test('a conversation of over 1,000 tokens saved to IndexedDB continues after a reload with no re-prefill and the same reply, every mode', async ({ page }) => {
  test.setTimeout(600_000);
  await serveLongContextModel(page);
  await openEngine(page);
  const turns = userTurns();
  const before = await page.evaluate(
    async ({ turns, modes }) => {
      const e = (window as unknown as { engine: XQuantEngine }).engine;
      const out: Record<string, unknown> = {};
      for (const cache of modes) {
        const messages: ChatMessage[] = [{ role: 'system', content: 'You tell stories.' }];
        const ask = async () => {
          const r = await e.chat.completions.create({ messages, max_tokens: 16, temperature: 0, cache });
          return { text: r.choices[0].message.content, usage: r.usage };
        };
        let last: Awaited<ReturnType<typeof ask>> | null = null;
        for (const t of turns.slice(0, -1)) {
          messages.push({ role: 'user', content: t });
          last = await ask();
          messages.push({ role: 'assistant', content: last.text });
        }
        const saved = await e.saveConversation();
        messages.push({ role: 'user', content: turns[turns.length - 1] });
        out[cache] = { saved, last: last?.usage, next: await ask(), messages };
      }
      return out;
    },
    { turns, modes: MODES },
  );

  await page.reload();
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  await openEngine(page);
  const after = await page.evaluate(
    async ({ before, modes }) => {
      const e = (window as unknown as { engine: XQuantEngine }).engine;
      const listed = await e.savedConversations();
      const out: Record<string, unknown> = {};
      for (const cache of modes) {
        const { messages } = before[cache] as { messages: ChatMessage[] };
        const r = await e.chat.completions.create({ messages, max_tokens: 16, temperature: 0, cache });
        out[cache] = { text: r.choices[0].message.content, usage: r.usage };
      }
      return { listed, out };
    },
    { before, modes: MODES },
  );

  expect(after.listed.map((s) => s.mode).sort()).toEqual([...MODES].sort());
  const rows: string[] = [];
  for (const mode of MODES) {
    const b = before[mode] as {
      saved: { tokens: number; bytes: number };
      last: { prompt_tokens: number };
      next: { text: string; usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
    };
    const a = after.out[mode] as { text: string; usage: { prompt_tokens: number; restored_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
    expect(b.saved.tokens).toBeGreaterThanOrEqual(1000);
    expect(a.usage.prompt_tokens).toBe(b.next.usage.prompt_tokens);
    // Restored: the history up to where the chat text re-tokenizes differently from the reply as generated.
    expect(a.usage.restored_tokens).toBe(a.usage.prompt_tokens_details.cached_tokens);
    expect(a.usage.prompt_tokens_details.cached_tokens).toBe(b.next.usage.prompt_tokens_details.cached_tokens);
    // The history: all of the previous prompt but the token at its seam with the reply, which this tokenizer (no
    // pre-tokenizer, merges across spaces) joins with the reply's first characters when the text is encoded again.
    expect(a.usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(b.last.prompt_tokens - 1);
    expect(a.text).toBe(b.next.text);
    rows.push(`${mode}: ${b.saved.tokens} tokens saved in ${b.saved.bytes} bytes (${(b.saved.bytes / b.saved.tokens).toFixed(1)} B/token)`);
  }
  console.log(rows.join('\n'));
});
