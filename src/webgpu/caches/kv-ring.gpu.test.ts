// A sliding layer's ring (f32 / fp16): Gemma 3's local layers and Mistral's every layer keep their window plus
// RING_SLACK_TOKENS, so the cache stops growing there. Past the ring's size the logits still equal the reference
// (which keeps every token), and rollback, shift and save/restore do what the ring still holds, no more.

import { afterAll, describe, expect, it } from 'vitest';
import { ringTokens } from '../../cache/cache-bytes';
import { parseCacheMode } from '../../cache/cache-config';
import { cacheBytesFor } from '../../engine/planner';
import { loadModel, type LoadedModel } from '../../model/load-model';
import { ReferenceBackend } from '../../reference/backend';
import { maxAbsDiff } from '../../test-support/compare';
import { SavedCacheError } from '../../errors';
import { syntheticSource, type SyntheticShape } from '../../test-support/synthetic-model';
import { GEMMA3_RING_SHAPE, MISTRAL_RING_SHAPE } from '../../test-support/architecture-shapes';
import { WebGpuBackend } from '../backend';
import type { KernelFamily } from '../kernel-family';
import { nodeGpu, nodeShaders } from '../node-gpu';
import type { GpuDecodeSession } from '../session';

const GEMMA3 = GEMMA3_RING_SHAPE;
const MISTRAL = MISTRAL_RING_SHAPE;

const RING = 640;
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => 1 + (((from + i) * 37) % 60));

const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));
const models = new Map<SyntheticShape, LoadedModel>();
async function load(shape: SyntheticShape): Promise<LoadedModel> {
  if (!models.has(shape)) models.set(shape, await loadModel(syntheticSource(shape)));
  return models.get(shape)!;
}
async function gpu(shape: SyntheticShape, kernels: KernelFamily): Promise<WebGpuBackend> {
  const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), await load(shape), { weights: 'f32', kernels });
  opened.push(b);
  return b;
}

describe("a sliding layer's ring", () => {
  it.each([
    ['rowwise', 'f32', 1e-3],
    ['tiled', 'f32', 1e-3],
    ['rowwise', 'fp16', 5e-2],
    ['tiled', 'fp16', 5e-2],
  ] as const)('%s %s: 900 tokens over a 640-token ring equal the reference, and the rings stop growing', async (kernels, mode, bound) => {
    const shape = GEMMA3;
    const m = await load(shape);
    const config = parseCacheMode(mode);
    expect(ringTokens(m.spec, config, 0)).toBe(RING);
    const g = (await gpu(shape, kernels)).createSession(config) as GpuDecodeSession;
    const r = new ReferenceBackend(m).createSession(config);
    let worst = maxAbsDiff(await g.forward(ids(850), 'last'), await r.forward(ids(850), 'last'));
    for (const id of ids(50, 850)) worst = Math.max(worst, maxAbsDiff(await g.forward([id], 'last'), await r.forward([id], 'last')));
    expect(worst).toBeLessThan(bound);
    // K and V of layers 0 and 1 hold 640 tokens; layer 2's grow with the context (pages of 128).
    const row = 2 * 32 * (mode === 'f32' ? 4 : 2);
    expect(g.cache.savedRegions().map((x) => x.bytes / row)).toEqual([RING, RING, RING, RING, 1024, 1024]);
    expect(g.storedBytes()).toBe(cacheBytesFor(m.spec, config, 900));
    expect(g.storedBytes()).toBe((2 * RING + 900) * 2 * row);
    g.close();
  });

  it('Mistral (every layer a ring): 1,300 tokens equal the reference, rowwise and tiled', async () => {
    const m = await load(MISTRAL);
    const config = parseCacheMode('f32');
    for (const kernels of ['rowwise', 'tiled'] as const) {
      const g = (await gpu(MISTRAL, kernels)).createSession(config) as GpuDecodeSession;
      const r = new ReferenceBackend(m).createSession(config);
      let worst = maxAbsDiff(await g.forward(ids(1290), 'last'), await r.forward(ids(1290), 'last'));
      for (const id of ids(10, 1290)) worst = Math.max(worst, maxAbsDiff(await g.forward([id], 'last'), await r.forward([id], 'last')));
      expect(worst, kernels).toBeLessThan(1e-3);
      expect(g.cache.savedRegions().every((x) => x.bytes === RING * 2 * 32 * 4)).toBe(true);
      g.close();
    }
  });

  it('keeps a prefix whose window the rings still hold (an edit near the end); further back, nothing', async () => {
    const m = await load(GEMMA3);
    const config = parseCacheMode('fp16');
    const b = await gpu(GEMMA3, 'tiled');
    const g = b.createSession(config);
    const r = new ReferenceBackend(m).createSession(config);
    await g.forward(ids(900), 'last');
    await r.forward(ids(900), 'last');
    // 900 stored: the rings hold positions 260 on; keeping 890 needs 882 on.
    expect(g.keep(890)).toBe(890);
    expect(r.keep(890)).toBe(890);
    const tail = [5, 9, 33];
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(5e-2);
    // Keeping 200 would need positions 192 on, long overwritten: the caller re-runs everything.
    expect(g.keep(200)).toBe(0);
    expect(g.length).toBe(0);
    g.close();
  });

  it('shifts when the kept tail covers the window (the reference shift is matched); refuses, changing nothing, when not', async () => {
    const m = await load(GEMMA3);
    const config = parseCacheMode('f32');
    const b = await gpu(GEMMA3, 'rowwise');
    const g = b.createSession(config);
    const r = new ReferenceBackend(m).createSession(config);
    await g.forward(ids(900), 'last');
    await r.forward(ids(900), 'last');
    expect(g.shift(890, 896)).toBe(false); // 4 kept tokens after the cut: the window needs 8
    expect(g.length).toBe(900);
    expect(g.shift(4, 300)).toBe(true);
    expect(r.shift(4, 300)).toBe(true);
    expect(g.length).toBe(604);
    const tail = [17, 26, 41];
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    // The kept tail's rows turned with the ring: a rollback into it still finds its window.
    expect(g.keep(100)).toBe(100);
    expect(r.keep(100)).toBe(100);
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    // The ring's rows before the cut now sit at other tokens' slots: keeping them is refused.
    expect(g.keep(2)).toBe(0);
    g.close();
  });

  it('save and restore continue a conversation past the ring, and roll back as far as the saved one could', async () => {
    const config = parseCacheMode('fp16');
    const b = await gpu(GEMMA3, 'tiled');
    const a = b.createSession(config);
    await a.forward(ids(900), 'last');
    const snap = await a.save();
    expect(snap.layout).toMatch(/\/ring640$/);
    expect(snap.held).toBe(260);
    const c = b.createSession(config);
    await c.restore(snap);
    const tail = [5, 9, 33];
    expect(maxAbsDiff(await c.forward(tail, 'all'), await a.forward(tail, 'all'))).toBe(0);
    // A regenerate after the reload: the rings still hold the window before 895.
    expect(c.keep(895)).toBe(895);
    expect(a.keep(895)).toBe(895);
    expect(maxAbsDiff(await c.forward(tail, 'all'), await a.forward(tail, 'all'))).toBe(0);
    // A snapshot that does not say (saved before `held` was): only its last window is sure.
    const d = b.createSession(config);
    await d.restore({ ...snap, held: undefined });
    expect(d.keep(895)).toBe(0);
    // One that says more than its rings can hold is refused, and the session stays empty.
    await expect(d.restore({ ...snap, held: 100 })).rejects.toThrow(SavedCacheError);
    expect(d.length).toBe(0);
    for (const s of [a, c, d]) s.close();
  });
});
