// The drop-in script tag on a plain page sent with a strict Content-Security-Policy
// (`script-src 'self'; worker-src 'self'`): the built xquant-chat.js mounts its widget in a shadow root,
// loads the built-in model and answers, with no CSP violation.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CSP = "script-src 'self'; worker-src 'self'";
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>plain page</title></head><body>
<h1>Someone's page</h1>
<script src="/embed/xquant-chat.js" data-model="/models/austen-3m" data-cache="auto" data-weights="q8" data-max-tokens="24"></script>
</body></html>`;

/** The same tag naming a .gguf file (llama.cpp's stories260K.gguf from ../shared). */
const GGUF_PAGE = PAGE.replace('data-model="/models/austen-3m"', 'data-model="/shared-models/stories260K/original/stories260K.gguf"');
const SHARED_MODELS = resolve(ROOT, '../shared/models');

let server: Server;
let base = '';
const served: string[] = [];

test.beforeAll(async () => {
  execFileSync('npx', ['tsx', 'tools/build-embed.ts'], { cwd: ROOT, stdio: 'pipe' });
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    served.push(path);
    if (path === '/' || path === '/gguf') {
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Security-Policy': CSP }).end(path === '/' ? PAGE : GGUF_PAGE);
      return;
    }
    const file = path.startsWith('/embed/')
      ? resolve(ROOT, 'dist', path.slice(1))
      : path.startsWith('/models/')
        ? resolve(ROOT, 'public', path.slice(1))
        : path.startsWith('/shared-models/')
          ? resolve(SHARED_MODELS, path.slice('/shared-models/'.length))
          : '';
    if (!(file.startsWith(`${ROOT}/`) || file.startsWith(`${SHARED_MODELS}/`)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Security-Policy': CSP });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(() => {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections(); // Chromium may still hold a kept-alive connection, which close() would wait for
  return closed;
});

test('the script tag mounts a chat widget that answers under a strict CSP', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(e.message));
  // A single-file model needs no probe that fails (the sharded index was asked for first, a 404 in the host page's console).
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${base}/`);
  const host = page.locator('div.xquant-chat');
  // The widget says how far the load is (it used to say "Loading the model…" until ready).
  await expect(host.locator('.status')).toContainText(/Loading the model: (downloading|reading the browser cache|uploading to the GPU|compiling shaders)/, {
    timeout: 60_000,
  });
  await expect(host).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
  expect(await host.getAttribute('data-progress')).toMatch(/^(download|cache|upload|compile)$/);
  expect(failed).toEqual([]);
  await expect(host.locator('.status')).toContainText('austen-3m · q8 · ready'); // locators pierce the open shadow root
  expect(await page.evaluate(() => typeof (window as unknown as { XQuantChat?: { createEngine?: unknown } }).XQuantChat?.createEngine)).toBe('function');
  expect(await page.evaluate(() => document.querySelector('div.xquant-chat')?.shadowRoot !== null && document.querySelector('li') === null)).toBe(true);

  await host.locator('input').fill('It was a fine morning');
  await host.locator('button.send').click();
  await expect(host).toHaveAttribute('data-state', 'generating');
  await expect(host).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
  await expect(host.locator('li.user')).toHaveText('It was a fine morning');
  expect(((await host.locator('li.assistant').textContent()) ?? '').trim().length).toBeGreaterThan(0);
  expect(await host.locator('li.error').count()).toBe(0);
  expect(served).toContain('/embed/xquant-chat-worker.js');
  expect(violations).toEqual([]);
});

test('the script tag takes a .gguf URL: the file is the whole model (weights, tokenizer)', async ({ page }) => {
  await page.goto(`${base}/gguf`);
  const host = page.locator('div.xquant-chat');
  await expect(host).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
  await expect(host.locator('.status')).toContainText('stories260K.gguf · q8 · ready');
  await host.locator('input').fill('Once upon a time');
  await host.locator('button.send').click();
  await expect(host).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
  expect(((await host.locator('li.assistant').textContent()) ?? '').trim().length).toBeGreaterThan(0);
  expect(await host.locator('li.error').count()).toBe(0);
  expect(served).toContain('/shared-models/stories260K/original/stories260K.gguf');
});
