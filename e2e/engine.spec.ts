// The engine in Chromium: a page starts the Worker engine, which loads stories260K (served from
// ../shared by the test) and generates on WebGPU (SwiftShader) through Comlink.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WorkerEngine } from '../src/client/worker-engine';

const SHARED_MODELS = resolve(import.meta.dirname, '../../shared/models');
const ORACLE = '403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385';

test('the Worker engine reproduces the stories260K greedy oracle (32 tokens) through Comlink', async ({ page }) => {
  await page.route('**/test-models/**', (route) => {
    const file = resolve(SHARED_MODELS, new URL(route.request().url()).pathname.replace(/^\/test-models\//, ''));
    try {
      return route.fulfill({ status: 200, body: readFileSync(file) });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(async () => {
    const engine = (window as unknown as { engine: WorkerEngine }).engine;
    const summary = await engine.load('/test-models/stories260K', { weights: 'f32' });
    const out = await engine.generate({ prompt: [1], maxTokens: 32, cache: 'fp16' });
    return { summary, out, memory: await engine.memory() };
  });
  expect(r.out.ids.join(' ')).toBe(ORACLE);
  expect(r.out.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
  expect(r.summary.spec.numLayers).toBe(5);
  expect(r.memory.gpu.weights).toBe(r.summary.memory.weights);
  expect(r.memory.gpu.weights).toBeGreaterThan(1_000_000); // 260K f32 parameters
  expect(r.memory.gpu.cache).toBe(0); // the generation's session freed its KV pages
  expect(r.memory.plan.auto).toBe('fp16'); // 256 MB holds stories260K's 512 positions in fp16
});
