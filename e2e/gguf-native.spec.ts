// A GGUF file as people download it, in Chromium through the public API: the default model written as a Q4_K_M-style
// file (Q4_K / Q6_K where rows are whole 256-blocks, their 32-value fallbacks elsewhere), loaded with no `weights`
// option, so it runs as stored ('native'): the Worker uploads the file's blocks and Chromium's WebGPU runs the block
// kernels. Its greedy replies equal the reference decoder's on the file's values, and the GPU holds the file's bytes.
import { expect, test } from '@playwright/test';
import { resolve } from 'node:path';
import type { XQuantEngine } from '../src/client/index';
import { parseCacheMode } from '../src/cache/cache-config';
import { generateIds } from '../src/engine/generate';
import { GREEDY } from '../src/engine/sampling';
import { MemoryFileSource } from '../src/model/file-source';
import { readGgufHeader } from '../src/model/gguf';
import { GgufModelSource } from '../src/model/gguf-model';
import { loadModel } from '../src/model/load-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import { ReferenceBackend } from '../src/reference/backend';
import { hfToGguf, kQuantMix } from '../src/test-support/gguf-writer';

test("a Q4_K_M file loads as stored (no weights option): the reference's greedy replies, the file's bytes on the GPU", async ({ page }) => {
  const folder = new NodeFolderSource(resolve(import.meta.dirname, '../public/models/austen-3m'));
  const bytes = await hfToGguf(folder, { encoding: 'Q4_K', perTensor: kQuantMix('Q4_K', 6) });
  const files = () => new MemoryFileSource('written', new Map([['m.gguf', bytes.buffer as ArrayBuffer]]));
  const header = await readGgufHeader(files(), 'm.gguf');
  const tensorBytes = [...header.tensors.values()].reduce((a, t) => a + (t.end! - t.begin), 0);
  const model = await loadModel(new GgufModelSource(files(), 'm.gguf'));
  const prompt = model.tokenizer.encode('It is a truth universally acknowledged, that', true);
  const reference = async (cache: string) =>
    (await generateIds(new ReferenceBackend(model), prompt, { maxTokens: 12, cache: parseCacheMode(cache), sampling: GREEDY, stopIds: [] })).join(' ');

  await page.route('**/written/austen-Q4_K_M.gguf', (route) => route.fulfill({ status: 200, body: Buffer.from(bytes) }));
  await page.goto('/e2e/pages/engine.html');
  await page.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
  const r = await page.evaluate(async (prompt) => {
    const e = (window as unknown as { engine: XQuantEngine }).engine;
    const loaded = await e.load('/written/austen-Q4_K_M.gguf', { useCache: false });
    const out: Record<string, string> = {};
    for (const cache of ['fp16', 'xquant-4']) {
      const c = await e.completions.create({ prompt, max_tokens: 12, temperature: 0, cache, stop: [] });
      out[cache] = c.choices[0].token_ids.join(' ');
    }
    return { weights: loaded.weights, gpuWeights: (await e.memory()).gpu.weights, out };
  }, prompt);
  expect(r.weights).toBe('native');
  expect(r.gpuWeights).toBe(tensorBytes);
  expect(r.out.fp16).toBe(await reference('fp16'));
  expect(r.out['xquant-4']).toBe(await reference('xquant-4'));
});
