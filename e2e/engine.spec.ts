// The engine in Chromium through the public API (createEngine): a page starts the Worker engine, which
// loads models served from ../shared by the test and generates on WebGPU (SwiftShader) through Comlink.
import { expect, test, type Page } from '@playwright/test';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { XQuantEngine } from '../src/client/index';
import { parseCacheMode } from '../src/cache/cache-config';
import { ReferenceBackend } from '../src/reference/backend';
import { generateIds } from '../src/engine/generate';
import { GREEDY } from '../src/engine/sampling';
import { loadModel } from '../src/model/load-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import { startHubServer } from './hub-server';

const SHARED_MODELS = resolve(import.meta.dirname, '../../shared/models');
/** Answer /test-models/<model>/<file> from ../shared/models (404 for files a model does not have). */
async function serveSharedModels(page: Page): Promise<void> {
  await page.route('**/test-models/**', (route) => {
    const file = resolve(SHARED_MODELS, new URL(route.request().url()).pathname.replace(/^\/test-models\//, ''));
    try {
      return route.fulfill({ status: 200, body: readFileSync(file) });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
}

const ORACLE = '403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385';

test('the Worker engine reproduces the stories260K greedy oracle (32 tokens) through Comlink', async ({ page }) => {
  await serveSharedModels(page);
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(async () => {
    const engine = (window as unknown as { engine: XQuantEngine }).engine;
    const summary = await engine.load('/test-models/stories260K', { weights: 'f32' });
    const out = await engine.completions.create({ prompt: [1], max_tokens: 32, temperature: 0, cache: 'fp16' });
    return { summary, out: out.choices[0], memory: await engine.memory() };
  });
  expect(r.out.token_ids.join(' ')).toBe(ORACLE);
  expect(r.out.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
  expect(r.summary.spec.numLayers).toBe(5);
  expect(r.memory.gpu.weights).toBe(r.summary.memory.weights);
  expect(r.memory.gpu.weights).toBeGreaterThan(1_000_000); // 260K f32 parameters
  // The conversation is kept for the next request (prefix reuse): its cache is the only cache held.
  expect(r.memory.sessions).toEqual([{ mode: 'fp16', tokens: 32, bytes: expect.any(Number) }]);
  expect(r.memory.gpu.cache).toBeGreaterThan(0);
  expect(r.memory.plan.auto).toBe('fp16'); // 256 MB holds stories260K's 512 positions in fp16
});

const MORE_ORACLES = [
  { model: 'tinystories-656k', ids: '147 201 282 215 286 598 1662 356 499 826 1363 1145' },
  { model: 'aidreams260K', ids: '319 459 355 260 275 429 339 315' },
];

test('the Worker engine reproduces the tinystories-656k and aidreams260K greedy oracles', async ({ page }) => {
  await serveSharedModels(page);
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const got = await page.evaluate(async (runs) => {
    const engine = (window as unknown as { engine: XQuantEngine }).engine;
    const out: string[] = [];
    for (const r of runs) {
      await engine.load(`/test-models/${r.model}`, { weights: 'f32' });
      const c = await engine.completions.create({ prompt: [1], max_tokens: r.ids.split(' ').length, temperature: 0, cache: 'fp16' });
      out.push(c.choices[0].token_ids.join(' '));
      await engine.unload();
    }
    return out;
  }, MORE_ORACLES);
  expect(got).toEqual(MORE_ORACLES.map((r) => r.ids));
});

test('every cache mode and GPU sampling compile and run in Chromium; xquant modes match the reference decoder', async ({ page }) => {
  await serveSharedModels(page);
  const model = await loadModel(new NodeFolderSource(resolve(SHARED_MODELS, 'stories260K')));
  const prompt = [1, 403, 407, 261, 378];
  const sampling = { temperature: 0.8, topK: 40, topP: 0.95, seed: 7 };
  const reference = async (cache: string, s = GREEDY) =>
    (await generateIds(new ReferenceBackend(model), prompt, { maxTokens: 16, cache: parseCacheMode(cache), sampling: s, stopIds: [] })).join(' ');

  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const got = await page.evaluate(
    async ({ prompt, sampling }) => {
      const engine = (window as unknown as { engine: XQuantEngine }).engine;
      await engine.load('/test-models/stories260K', { weights: 'q8' });
      await engine.unload();
      await engine.load('/test-models/stories260K', { weights: 'f32' });
      const out: Record<string, number[]> = {};
      const ids = async (cache: string, s = { temperature: 0, top_k: 0, top_p: 1, seed: 0 }) =>
        (await engine.completions.create({ prompt, max_tokens: 16, cache, ...s })).choices[0].token_ids;
      for (const cache of ['xquant-4', 'xquant-cl-4', 'kivi-4', 'xquant-gqa-4']) out[cache] = await ids(cache);
      out.sampled = await ids('fp16', { temperature: sampling.temperature, top_k: sampling.topK, top_p: sampling.topP, seed: sampling.seed });
      return out;
    },
    { prompt, sampling },
  );
  expect(got['xquant-4'].join(' ')).toBe(await reference('xquant-4'));
  expect(got['xquant-cl-4'].join(' ')).toBe(await reference('xquant-cl-4'));
  for (const cache of ['kivi-4', 'xquant-gqa-4']) {
    expect(got[cache].length).toBe(16);
    expect(got[cache].every((id) => Number.isInteger(id) && id >= 0 && id < 512)).toBe(true);
  }
  expect(got.sampled.join(' ')).toBe(await reference('fp16', sampling));
});

test('engine errors cross the Worker boundary with their class and fields', async ({ page }) => {
  await serveSharedModels(page);
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(async () => {
    const w = window as unknown as { engine: XQuantEngine; errors: typeof import('../src/errors') };
    const out: Record<string, unknown>[] = [];
    for (const attempt of [
      () => w.engine.load('/test-models/no-such-model'),
      async () => {
        await w.engine.load('/test-models/stories260K');
        return w.engine.completions.create({ prompt: [1, 9999], max_tokens: 2 });
      },
    ]) {
      try {
        await attempt();
        out.push({ thrown: false });
      } catch (e) {
        const err = e as InstanceType<typeof w.errors.EngineError>;
        out.push({
          missing: e instanceof w.errors.MissingFileError,
          invalid: e instanceof w.errors.InvalidArgumentError,
          engine: e instanceof w.errors.EngineError,
          code: err.code,
          file: err.file,
          field: err.field,
          message: err.message,
        });
      }
    }
    return out;
  });
  expect(r[0]).toMatchObject({ missing: true, engine: true, code: 'MISSING_FILE' });
  expect(String(r[0].file)).toMatch(/no-such-model\/config\.json$/);
  expect(r[1]).toMatchObject({ invalid: true, code: 'INVALID_ARGUMENT', field: 'ids[1]' });
  expect(r[1].message).toBe('ids[1]: token id out of range; expected 0 <= id < 512; got 9999');
});

test('a model in the Hugging Face URL layout loads through the real download code, with progress; abort stops a download', async ({ page }) => {
  const hub = await startHubServer();
  try {
    await page.goto(`/e2e/pages/engine.html?hubBase=${encodeURIComponent(hub.base)}`);
    await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
    const r = await page.evaluate(async () => {
      const w = window as unknown as { engine: XQuantEngine; errors: typeof import('../src/errors') };
      // A download that stalls halfway is aborted once its bytes start to flow.
      const controller = new AbortController();
      let aborted: unknown = null;
      await w.engine
        .load('slow-org/stories260K', {
          weights: 'f32',
          signal: controller.signal,
          onProgress: (p) => p.file === 'model.safetensors' && p.fileLoaded! > 0 && controller.abort(),
        })
        .catch((e: unknown) => (aborted = { isAborted: e instanceof w.errors.AbortedError, message: (e as Error).message }));
      const events: { phase: string; file?: string; fileLoaded?: number; fileTotal?: number | null; total: number | null }[] = [];
      const loaded = await w.engine.load('test-org/stories260K', { weights: 'f32', onProgress: (p) => events.push(p) });
      const out = await w.engine.completions.create({ prompt: [1], max_tokens: 16, temperature: 0, cache: 'fp16' });
      return {
        aborted,
        loaded: { id: loaded.id, revision: loaded.revision, name: loaded.name, storage: loaded.storage.state },
        events,
        ids: out.choices[0].token_ids,
      };
    });
    expect(r.aborted).toEqual({ isAborted: true, message: 'aborted during download of model.safetensors' });
    expect(r.loaded).toEqual({ id: `hub:${hub.base}/test-org/stories260K`, revision: 'main', name: 'test-org/stories260K', storage: 'stored' });
    expect(r.ids.join(' ')).toBe(ORACLE.split(' ').slice(0, 16).join(' '));
    const weights = r.events.filter((e) => e.phase === 'download' && e.file === 'model.safetensors');
    const size = statSync(resolve(SHARED_MODELS, 'stories260K/model.safetensors')).size;
    expect(weights.at(-1)).toMatchObject({ fileLoaded: size, fileTotal: size });
    expect(r.events.at(-1)).toMatchObject({ phase: 'compile', total: 1 });
    expect(hub.requests).toContain('/test-org/stories260K/resolve/main/config.json');
    expect(hub.requests).toContain('/test-org/stories260K/resolve/main/model.safetensors');
  } finally {
    await hub.close();
  }
});

test('after a lost GPU device the engine reloads the model from IndexedDB by itself and answers as before', async ({ page }) => {
  await serveSharedModels(page);
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(async () => {
    const w = window as unknown as { engine: XQuantEngine; errors: typeof import('../src/errors') };
    const e = w.engine;
    await e.load('/test-models/stories260K', { weights: 'q8' });
    const ask = async () => (await e.completions.create({ prompt: [1], max_tokens: 16, temperature: 0, cache: 'xquant-cl-4' })).choices[0].token_ids;
    const before = await ask();
    let failure: unknown = null;
    let chunks = 0;
    try {
      for await (const _ of await e.completions.create({ prompt: [1], max_tokens: 300, temperature: 0, stream: true })) {
        if (++chunks === 3) await e.simulateDeviceLoss();
      }
    } catch (err) {
      failure = { lost: err instanceof w.errors.DeviceLostError, code: (err as { code?: string }).code };
    }
    const after = await ask();
    return { before, after, failure, chunks, status: await e.status() };
  });
  expect(r.failure).toEqual({ lost: true, code: 'DEVICE_LOST' });
  expect(r.chunks).toBeLessThan(300);
  expect(r.after).toEqual(r.before);
  expect(r.status).toMatchObject({ deviceLosses: 1, recoveries: 1, lastRecovery: 'hit', loaded: true }); // 'hit': reloaded from IndexedDB
});

test("a .gguf file (llama.cpp's stories260K.gguf) loads by URL and from the Hub by range, reproduces the oracle, and reloads from IndexedDB", async ({
  page,
}) => {
  const hub = await startHubServer({ root: resolve(SHARED_MODELS, 'stories260K'), ranges: true });
  try {
    await serveSharedModels(page);
    await page.goto(`/e2e/pages/engine.html?hubBase=${encodeURIComponent(hub.base)}`);
    await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
    const r = await page.evaluate(async () => {
      const e = (window as unknown as { engine: XQuantEngine }).engine;
      const ask = async () => (await e.completions.create({ prompt: [1], max_tokens: 32, temperature: 0, cache: 'fp16' })).choices[0];
      const byUrl = await e.load('/test-models/stories260K/original/stories260K.gguf', { weights: 'f32' });
      const first = await ask();
      await e.unload();
      const fromHub = await e.load({ hub: 'test-org/original', file: 'stories260K.gguf' }, { weights: 'q8' });
      const second = await ask();
      await e.unload();
      const again = await e.load({ hub: 'test-org/original', file: 'stories260K.gguf' }, { weights: 'q8' });
      const third = await ask();
      return {
        byUrl: { name: byUrl.name, layers: byUrl.spec.numLayers },
        first,
        fromHub: fromHub.storage.state,
        again: again.storage.state,
        second: second.token_ids,
        third: third.token_ids,
      };
    });
    expect(r.byUrl).toEqual({ name: 'stories260K.gguf', layers: 5 });
    expect(r.first.token_ids.join(' ')).toBe(ORACLE);
    expect(r.first.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true); // the GGUF's own tokenizer
    expect(r.fromHub).toBe('stored');
    expect(r.again).toBe('hit');
    expect(r.third).toEqual(r.second);
    const gguf = hub.log.filter((l) => l.path.endsWith('stories260K.gguf'));
    expect(gguf.length).toBeGreaterThan(1); // header, then tensors by range
    expect(gguf.every((l) => l.range !== null)).toBe(true);
    const size = statSync(resolve(SHARED_MODELS, 'stories260K/original/stories260K.gguf')).size;
    expect(gguf.reduce((a, l) => a + l.bytes, 0)).toBeLessThan(size * 1.1); // read about once, not per request
  } finally {
    await hub.close();
  }
});

test("kernels: 'auto' picks the rowwise family on SwiftShader; 'tiled' forces the tiled kernels and reproduces the greedy oracles", async ({ page }) => {
  await serveSharedModels(page);
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(
    async (runs) => {
      const e = (window as unknown as { engine: XQuantEngine }).engine;
      const auto = await e.load('/test-models/stories260K', { weights: 'q8' });
      const out: { kernels: string; ids: string }[] = [];
      for (const run of runs) {
        const loaded = await e.load(`/test-models/${run.model}`, { weights: run.weights, kernels: 'tiled' });
        const c = await e.completions.create({ prompt: [1], max_tokens: run.ids.split(' ').length, temperature: 0, cache: 'fp16' });
        out.push({ kernels: loaded.kernels, ids: c.choices[0].token_ids.join(' ') });
      }
      return { auto: auto.kernels, out, status: (await e.status()).kernels };
    },
    [{ model: 'stories260K', weights: 'f32' as const, ids: ORACLE }, ...MORE_ORACLES.map((o) => ({ ...o, weights: 'f32' as const }))],
  );
  expect(r.auto).toBe('rowwise');
  expect(r.status).toBe('tiled');
  expect(r.out.map((o) => o.kernels)).toEqual(['tiled', 'tiled', 'tiled']);
  expect(r.out.map((o) => o.ids)).toEqual([ORACLE, ...MORE_ORACLES.map((o) => o.ids)]);
});

test('a stored URL model is checked against its source: replaced files are fetched again, offline the stored copy is used', async ({ page }) => {
  // One URL whose files are replaced: stories260K (ETag "v1"), then aidreams260K (ETag "v2"); then no network.
  let served: string | null = 'stories260K';
  const requests: string[] = [];
  await page.route('**/swap-model/**', (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop()!;
    requests.push(file);
    if (served === null) return route.abort('internetdisconnected');
    try {
      const body = readFileSync(resolve(SHARED_MODELS, served, file));
      return route.fulfill({ status: 200, body, headers: { etag: served === 'stories260K' ? '"v1"' : '"v2"' } });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const load = () =>
    page.evaluate(async () => {
      const r = await (window as unknown as { engine: XQuantEngine }).engine.load('/swap-model', { weights: 'q8', warmup: false });
      return { layers: r.spec.numLayers, storage: r.storage };
    });
  const first = await load();
  expect(first).toMatchObject({ layers: 5, storage: { state: 'stored', lookup: 'miss' } });
  requests.length = 0;
  expect(await load()).toMatchObject({ layers: 5, storage: { state: 'hit', source: { state: 'unchanged' } } });
  expect(requests).toEqual(['model.safetensors']); // one check, nothing fetched
  served = 'aidreams260K';
  const swapped = await load();
  expect(swapped).toMatchObject({ layers: 4, storage: { state: 'stored', lookup: 'stale', source: { state: 'changed' } } });
  expect(swapped.storage.detail).toContain('the source changed (stored etag="v1"');
  served = null;
  expect(await load()).toMatchObject({ layers: 4, storage: { state: 'hit', source: { state: 'offline' } } });
});
