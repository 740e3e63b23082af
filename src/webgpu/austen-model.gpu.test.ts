// The project's own default model (public/models/austen-3m, trained by `npm run train-default-model`):
// a 6-layer multi-head-attention model, the tests' deeper MHA model.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { nodeGpu, nodeShaders } from './node-gpu';
import { loadModel, type LoadedModel } from '../model/load-model';
import { NodeFolderSource } from '../model/node-file-source';
import { ReferenceBackend } from '../reference/backend';
import { generateIds } from '../engine/generate';
import { GREEDY } from '../engine/sampling';
import { WebGpuBackend } from './backend';
import { maxAbsDiff } from '../test-support/compare';

const DIR = new URL('../../public/models/austen-3m/', import.meta.url).pathname;
let model: Promise<LoadedModel> | null = null;
const austen = () => (model ??= loadModel(new NodeFolderSource(DIR)));
let gpu: Promise<WebGpuBackend> | null = null;
const austenGpu = async () => (gpu ??= WebGpuBackend.create(nodeGpu(), nodeShaders(), await austen(), { weights: 'f32' }));
afterAll(async () => (await gpu)?.destroy());

describe('austen-3m', () => {
  it('is a deeper multi-head-attention Llama', async () => {
    const s = (await austen()).spec;
    expect(s.numKvHeads).toBe(s.numHeads);
    expect(s.numLayers).toBeGreaterThanOrEqual(6);
    expect(s.hiddenSize).toBeGreaterThanOrEqual(192);
    expect(s.headDim).toBeGreaterThanOrEqual(32);
  });

  it('WebGPU logits match the reference within 2e-3 (f32 weights): 48-token prefill, 16 decode steps', async () => {
    const m = await austen();
    const ids = m.tokenizer.encode(
      'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.',
      true,
    );
    const cache = parseCacheMode('f32');
    const g = (await austenGpu()).createSession(cache);
    const c = new ReferenceBackend(m).createSession(cache);
    let worst = maxAbsDiff(await g.forward(ids, 'last'), await c.forward(ids, 'last'));
    for (let i = 0; i < 16; i++) worst = Math.max(worst, maxAbsDiff(await g.forward([300 + i], 'last'), await c.forward([300 + i], 'last')));
    g.close();
    expect(worst).toBeLessThan(2e-3);
  });

  it('the WebGPU engine reproduces the greedy sample of MODEL_CARD.md', async () => {
    const sample = JSON.parse(readFileSync(`${DIR}/sample.json`, 'utf8')) as { promptIds: number[]; ids: number[]; text: string };
    const ids = await generateIds(await austenGpu(), sample.promptIds, {
      maxTokens: sample.ids.length,
      cache: parseCacheMode('f32'),
      sampling: GREEDY,
      stopIds: [],
    });
    expect(ids).toEqual(sample.ids);
    expect(readFileSync(`${DIR}/MODEL_CARD.md`, 'utf8')).toContain(sample.text.replace(/\n/g, ' ').slice(0, 80));
  });

  // xquant-cl-3's 3-bit deltas sit closer to rounding boundaries: one flipped code (f32 vs f64 inputs
  // differing in the last bit) moves the logits by ~1e-2, so its bound is the code-flip level.
  it.each([
    ['xquant-4', 1e-3],
    ['xquant-cl-3', 5e-2],
  ] as const)('%s on 6 MHA layers: GPU logits equal the reference within %s', async (mode, bound) => {
    const m = await austen();
    const cache = parseCacheMode(mode);
    const g = (await austenGpu()).createSession(cache);
    const c = new ReferenceBackend(m).createSession(cache);
    const ids = m.tokenizer.encode('Emma Woodhouse, handsome, clever, and rich, with a comfortable home', true);
    let worst = maxAbsDiff(await g.forward(ids, 'last'), await c.forward(ids, 'last'));
    for (let i = 0; i < 12; i++) worst = Math.max(worst, maxAbsDiff(await g.forward([400 + i], 'last'), await c.forward([400 + i], 'last')));
    g.close();
    expect(worst).toBeLessThan(bound);
  });
});
