// save() and restore() on the GPU, every mode: a session restored from another's snapshot continues exactly as the
// original does (the same stored bytes, so the same logits, bit for bit), and a snapshot of another layout is refused.

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { sharedModel } from '../test-support/shared-models';
import { ReferenceBackend } from '../reference/backend';
import { WebGpuBackend } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

const model = await sharedModel('stories260K');
const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights: 'f32', maxBatch: 64, kernels: 'auto', subgroups: true });
afterAll(() => gpu.destroy());

/** A history of prompt slices and decode steps (300 tokens: more than two 128-token pages). */
const CALLS = [Array.from({ length: 290 }, (_, i) => 1 + ((i * 37) % 500)), [3, 44, 91, 7], [12], [300], [5], [9, 8, 7]];
const TAIL = [17, 260, 41, 5, 6];

describe('saving and restoring a session (WebGPU)', () => {
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4', 'xquant-4:residual=16', 'xquant-4:hot=128', 'kivi-2:residual=32'])(
    '%s: a restored session continues bit for bit as the original',
    async (mode) => {
      const config = parseCacheMode(mode);
      await gpu.prepare(config);
      const a = gpu.createSession(config);
      for (const c of CALLS) await a.forward(c, 'last');
      const snap = await a.save();
      const saved = snap.parts.reduce((n, p) => n + p.byteLength, 0);
      // What is saved is the stored form: its pages (rounded up to a page) and rings, not the buffers' capacity.
      expect(saved).toBeGreaterThanOrEqual(a.storedBytes());
      expect(saved).toBeLessThan(2 * a.storedBytes() + 64 * 1024);
      const b = gpu.createSession(config);
      await b.restore(snap);
      expect(b.length).toBe(a.length);
      const want = await a.forward(TAIL, 'all');
      const got = await b.forward(TAIL, 'all');
      expect(Array.from(got)).toEqual(Array.from(want));
      a.close();
      b.close();
    },
  );

  it("another mode's, another batch's or the reference's snapshot is refused with SavedCacheError", async () => {
    const a = gpu.createSession(parseCacheMode('xquant-4'));
    await a.forward(CALLS[0], 'last');
    const snap = await a.save();
    await expect(gpu.createSession(parseCacheMode('xquant-cl-4')).restore(snap)).rejects.toMatchObject({ code: 'SAVED_CACHE', field: 'layout' });
    const wider = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights: 'f32', maxBatch: 32, kernels: 'auto', subgroups: true });
    try {
      const k = gpu.createSession(parseCacheMode('kivi-4'));
      await k.forward(CALLS[0], 'last');
      await expect(wider.createSession(parseCacheMode('kivi-4')).restore(await k.save())).rejects.toMatchObject({ code: 'SAVED_CACHE' });
    } finally {
      wider.destroy();
    }
    const ref = new ReferenceBackend(model).createSession(parseCacheMode('xquant-4'));
    await ref.forward(CALLS[0].slice(0, 20), 'last');
    await expect(gpu.createSession(parseCacheMode('xquant-4')).restore(await ref.save())).rejects.toMatchObject({ code: 'SAVED_CACHE' });
    // Parts cut short: refused, and the session stays empty.
    const cut = { ...snap, parts: snap.parts.map((p) => p.subarray(0, p.byteLength - 4)) };
    const c = gpu.createSession(parseCacheMode('xquant-4'));
    await expect(c.restore(cut)).rejects.toMatchObject({ code: 'SAVED_CACHE', field: 'parts' });
    expect(c.length).toBe(0);
    a.close();
  });
});
