// The README's first example, run as written: its first ```js block goes into a module script of a page
// that the Vite dev server (`npm start`) serves, with no network beyond that server. It must load the
// bundled model and print a reply and its usage.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const README = readFileSync(resolve(import.meta.dirname, '../README.md'), 'utf8');

/** The first ```js block and the line it starts on. */
function firstExample(): { code: string; line: number } {
  const m = /^```js\n([\s\S]*?)^```$/m.exec(README);
  if (!m) throw new Error('README.md has no ```js block');
  return { code: m[1], line: README.slice(0, m.index).split('\n').length };
}

test('the README opens with an API example within its first 70 lines', () => {
  const { code, line } = firstExample();
  expect(line).toBeLessThanOrEqual(70);
  expect(code).toContain('createEngine');
});

test("the README's first example runs as written against the bundled model, offline", async ({ page }) => {
  const { code } = firstExample();
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') outside.push(url.href);
    return url.hostname === '127.0.0.1' ? route.continue() : route.abort();
  });
  const logs: unknown[][] = [];
  page.on('console', async (msg) => {
    if (msg.type() === 'log') logs.push(await Promise.all(msg.args().map((a) => a.jsonValue())));
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e/pages/blank.html');
  await page.addScriptTag({ type: 'module', content: `${code}\nwindow.readmeDone = true;\n` });
  // Done, or failed with a page error (reported below).
  const done = () => page.evaluate(() => (window as unknown as { readmeDone?: boolean }).readmeDone === true);
  await expect.poll(async () => (await done()) || errors.length > 0, { timeout: 240_000 }).toBe(true);
  expect(errors).toEqual([]);
  expect(outside).toEqual([]);
  // Console arguments arrive asynchronously (one round trip each).
  await expect.poll(() => logs.length).toBe(2);
  const [[content], [usage]] = logs as [[string], [{ prompt_tokens: number; completion_tokens: number; cache_mode: string }]];
  expect(typeof content).toBe('string');
  expect(content.trim().length).toBeGreaterThan(0);
  expect(usage.prompt_tokens).toBeGreaterThan(5);
  expect(usage.completion_tokens).toBeGreaterThan(0);
  expect(usage.completion_tokens).toBeLessThanOrEqual(40);
});
