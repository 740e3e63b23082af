// A sliding layer's ring in the quantized modes (kivi, xquant, xquant-gqa, with a residual window):
// its pages stop at the window plus RING_SLACK_TOKENS while a global layer's grow. Past the ring the logits still
// equal the reference (which keeps every token); rollback, shift and save/restore do what the ring still holds.
// xquant-cl keeps every token (a global layer reads the sliding layers' deltas).

import { afterAll, describe, expect, it } from 'vitest';
import { ringTokens } from '../../cache/cache-bytes';
import { parseCacheMode } from '../../cache/cache-config';
import { cacheBytesFor } from '../../engine/planner';
import { loadModel, type LoadedModel } from '../../model/load-model';
import { ReferenceBackend } from '../../reference/backend';
import { maxAbsDiff } from '../../test-support/compare';
import { syntheticSource } from '../../test-support/synthetic-model';
import { GEMMA3_RING_SHAPE, MISTRAL_RING_SHAPE } from '../../test-support/architecture-shapes';
import { WebGpuBackend } from '../backend';
import type { KernelFamily } from '../kernel-family';
import { nodeGpu, nodeShaders } from '../node-gpu';
import type { GpuDecodeSession } from '../session';
import type { DecodeSession } from '../../engine/backend';
import { shiftedHeld } from './sliding-rings';

const GEMMA3 = GEMMA3_RING_SHAPE;
const MISTRAL = MISTRAL_RING_SHAPE;

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => 1 + (((from + i) * 37) % 60));

/** A prompt fed to both in the GPU's 128-token slices: the reference attends a forward's own tokens exactly, as a slice does. */
async function prefill(g: DecodeSession, r: DecodeSession, n: number): Promise<number> {
  let worst = 0;
  for (let at = 0; at < n; at += 128) {
    const part = ids(Math.min(128, n - at), at);
    worst = Math.max(worst, maxAbsDiff(await g.forward(part, 'last'), await r.forward(part, 'last')));
  }
  return worst;
}

let model: LoadedModel | null = null;
const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));
async function gpu(kernels: KernelFamily, shape = GEMMA3): Promise<{ b: WebGpuBackend; m: LoadedModel }> {
  const m = shape === GEMMA3 ? (model ??= await loadModel(syntheticSource(shape))) : await loadModel(syntheticSource(shape));
  const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', kernels });
  opened.push(b);
  return { b, m };
}

describe("a sliding layer's ring in the quantized modes", () => {
  it.each([
    ['tiled', 'xquant-4', 1e-3],
    ['rowwise', 'xquant-4', 1e-3],
    ['tiled', 'kivi-4', 1e-3],
    ['rowwise', 'kivi-4', 1e-3],
    ['tiled', 'xquant-gqa-4', 1e-2],
    ['tiled', 'xquant-2:residual=32', 1e-3],
    ['rowwise', 'kivi-2:residual=32', 1e-3],
  ] as const)('%s %s: 900 tokens over a 640-token ring equal the reference; the rings stop growing', async (kernels, mode, bound) => {
    const { b, m } = await gpu(kernels);
    const config = parseCacheMode(mode);
    expect(ringTokens(m.spec, config, 0)).toBe(640);
    const g = b.createSession(config) as GpuDecodeSession;
    const r = new ReferenceBackend(m).createSession(config);
    let worst = await prefill(g, r, 850);
    const before = g.cache.savedRegions().map((x) => x.bytes);
    for (const id of ids(50, 850)) worst = Math.max(worst, maxAbsDiff(await g.forward([id], 'last'), await r.forward([id], 'last')));
    expect(worst).toBeLessThan(bound);
    // Layers 0 and 1 (rings) hold 640 tokens at 850 and at 900; layer 2's pages grew from 7 blocks to 8.
    const after = g.cache.savedRegions().map((x) => x.bytes);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after[2]).toBeGreaterThan(before[2]);
    expect(after[0]).toBeLessThan(after[2]);
    expect(g.storedBytes()).toBeLessThanOrEqual(cacheBytesFor(m.spec, config, 900));
    if (mode === 'xquant-4') expect(g.storedBytes()).toBe(cacheBytesFor(m.spec, config, 900));
    g.close();
  });

  it('xquant-cl keeps every token of a sliding layer (prefill and decode equal the reference); Mistral (every layer a ring) runs 1,300 tokens in kivi-4', async () => {
    const { b, m } = await gpu('tiled');
    const cl = parseCacheMode('xquant-cl-4');
    expect(ringTokens(m.spec, cl, 0)).toBeNull();
    const g = b.createSession(cl) as GpuDecodeSession;
    const r = new ReferenceBackend(m).createSession(cl);
    // Then decode steps: each delta layer's X̂ summed once, a sliding layer's within its window (xquant-cl-rows.wgsl).
    let worstCl = await prefill(g, r, 700);
    for (const id of ids(10, 700)) worstCl = Math.max(worstCl, maxAbsDiff(await g.forward([id], 'last'), await r.forward([id], 'last')));
    expect(worstCl).toBeLessThan(1e-3);
    g.close();

    const mistral = await gpu('tiled', MISTRAL);
    const kivi = parseCacheMode('kivi-4');
    const s = mistral.b.createSession(kivi) as GpuDecodeSession;
    const ref = new ReferenceBackend(mistral.m).createSession(kivi);
    let worst = await prefill(s, ref, 1290);
    for (const id of ids(10, 1290)) worst = Math.max(worst, maxAbsDiff(await s.forward([id], 'last'), await ref.forward([id], 'last')));
    expect(worst).toBeLessThan(1e-3);
    const ring = s.cache.savedRegions()[0].bytes;
    expect(s.cache.savedRegions().every((x) => x.bytes === ring)).toBe(true);
    s.close();
  });

  it('keeps a prefix whose window the rings still hold (kivi back to its block); further back, nothing', async () => {
    const { b, m } = await gpu('tiled');
    for (const [mode, kept] of [
      ['xquant-4', 890],
      ['kivi-4', 768],
    ] as const) {
      const config = parseCacheMode(mode);
      const g = b.createSession(config);
      const r = new ReferenceBackend(m).createSession(config);
      await prefill(g, r, 900);
      // 900 stored: the rings hold positions 260 on.
      expect(g.keep(890)).toBe(kept);
      expect(r.keep(890)).toBe(kept);
      const tail = [5, 9, 33];
      expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all')), mode).toBeLessThan(1e-3);
      expect(g.keep(200)).toBe(0);
      expect(g.length).toBe(0);
      g.close();
    }
  });

  it('xquant-4 shifts by moving rows slot by slot (equal to the reference shift); refuses where the window is not held', async () => {
    const { b, m } = await gpu('rowwise');
    const config = parseCacheMode('xquant-4');
    const g = b.createSession(config);
    const r = new ReferenceBackend(m).createSession(config);
    await prefill(g, r, 900);
    // Restored without `held`, a ring is sure of its last window only: a cut leaving 4 tokens after it would need 3
    // rows before it.
    const c = b.createSession(config);
    await c.restore({ ...(await g.save()), held: undefined });
    expect(c.shift(890, 896)).toBe(false);
    expect(c.length).toBe(900);
    c.close();
    // The rows before the cut stay in their slots, so here it is taken.
    const tail = [17, 26, 41];
    expect(g.shift(890, 896)).toBe(true);
    expect(r.shift(890, 896)).toBe(true);
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    expect(g.shift(4, 300)).toBe(true);
    expect(r.shift(4, 300)).toBe(true);
    expect(g.length).toBe(601);
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    expect(g.keep(100)).toBe(100);
    expect(r.keep(100)).toBe(100);
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    expect(g.keep(2)).toBe(0); // positions 0-3 were overwritten long before the shift
    g.close();
  });

  it("kivi's K blocks in page rings are not re-formed across a cut: the shift is refused and nothing changes", async () => {
    const { b, m } = await gpu('rowwise');
    const config = parseCacheMode('kivi-4');
    const g = b.createSession(config);
    const r = new ReferenceBackend(m).createSession(config);
    await prefill(g, r, 300);
    expect(g.shift(4, 100)).toBe(false);
    expect(g.length).toBe(300);
    const tail = [17, 26, 41];
    expect(maxAbsDiff(await g.forward(tail, 'all'), await r.forward(tail, 'all'))).toBeLessThan(1e-3);
    g.close();
  });

  it('what a ring holds after a shift', () => {
    // Nothing wrapped: everything stays.
    expect(shiftedHeld(0, 640, 4, 100, 300)).toBe(0);
    // Rows from 260 on were whole; the kept tail came from 300 on, so all of it is, and 260..3 are gone (4).
    expect(shiftedHeld(260, 640, 4, 300, 600)).toBe(4);
    // The tail's first 40 rows came from overwritten slots.
    expect(shiftedHeld(340, 640, 4, 300, 600)).toBe(44);
    // More rows moved than the ring holds: only the last 640 written survive.
    expect(shiftedHeld(0, 640, 10, 20, 1000)).toBe(370);
  });

  it('save and restore continue past the ring, and roll back as far as the saved one could', async () => {
    const { b } = await gpu('tiled');
    const config = parseCacheMode('kivi-4');
    const a = b.createSession(config);
    await a.forward(ids(900), 'last');
    const snap = await a.save();
    expect(snap.layout).toMatch(/\/ring5,5,-\//);
    const c = b.createSession(config);
    await c.restore(snap);
    const tail = [5, 9, 33];
    expect(maxAbsDiff(await c.forward(tail, 'all'), await a.forward(tail, 'all'))).toBe(0);
    // kivi keeps back to its block (768), whose window the rings still hold.
    expect(c.keep(895)).toBe(768);
    expect(a.keep(895)).toBe(768);
    expect(maxAbsDiff(await c.forward(tail, 'all'), await a.forward(tail, 'all'))).toBe(0);
    const d = b.createSession(config);
    await d.restore({ ...snap, held: undefined });
    expect(d.keep(895)).toBe(0);
    d.close();
    a.close();
    c.close();
  });
});
