// A context shift on the GPU (drop a range of cached tokens, keep the later entries at re-based positions) against the
// reference's shift of the same history: the logits that follow agree within the GPU-vs-reference bounds. A cut whose
// kept tail is shorter than an f16 ring by position (a residual window, a hot tier) is refused and changes nothing.

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { ReferenceBackend } from '../reference/backend';
import { sharedModel } from '../test-support/shared-models';
import { WebGpuBackend } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

const model = await sharedModel('stories260K');
const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights: 'f32', maxBatch: 64, kernels: 'auto', subgroups: true });
const reference = new ReferenceBackend(model);
afterAll(() => gpu.destroy());

/** A history of prompt slices and decode steps: 300 tokens over three pages. */
const CALLS = [Array.from({ length: 290 }, (_, i) => 1 + ((i * 37) % 500)), [3, 44, 91, 7], [12], [300], [5], [9, 8, 7]];
const TAIL = [17, 260, 41, 5, 6];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('context shift (WebGPU against the reference)', () => {
  /**
   * GPU and reference sessions of a mode that ran the history, optionally shifted; the logits of TAIL after it. The
   * reference runs `refMode` (the hot tier is the GPU's alone: its reference is the mode without it).
   */
  async function tails(mode: string, cut: [number, number] | null, refMode = mode): Promise<{ gpu: Float32Array; ref: Float32Array }> {
    const config = parseCacheMode(mode);
    await gpu.prepare(config);
    const g = gpu.createSession(config);
    const r = reference.createSession(parseCacheMode(refMode));
    for (const c of CALLS) {
      await g.forward(c, 'last');
      await r.forward(c, 'last');
    }
    if (cut) {
      expect(g.shift(...cut)).toBe(true);
      expect(r.shift(...cut)).toBe(true);
      expect(g.length).toBe(300 - (cut[1] - cut[0]));
    }
    const out = { ref: await r.forward(TAIL, 'all'), gpu: await g.forward(TAIL, 'all') };
    g.close();
    return out;
  }

  it.each([
    ['f32', 1e-3],
    ['fp16', 2e-2],
  ] as const)('%s: after dropping tokens [40, 170) the next logits equal the reference shift (within %s)', async (mode, bound) => {
    const shifted = await tails(mode, [40, 170]);
    expect(maxAbsDiff(shifted.gpu, shifted.ref)).toBeLessThan(bound);
    // The shift is not a no-op: the unshifted history predicts otherwise.
    expect(maxAbsDiff((await tails(mode, null)).ref, shifted.ref)).toBeGreaterThan(10 * bound);
  });

  // A quantized mode's GPU and reference differ where a value lands on the other side of a rounding boundary (the
  // GPU's f32 sums are ordered otherwise): the shift must add nothing to that difference.
  // kivi and xquant-gqa re-form their K blocks from the cut's block on, from what the cache holds, as the reference does.
  it.each(['xquant-4', 'xquant-cl-2', 'kivi-4', 'xquant-gqa-4', 'kivi-2'])(
    '%s: after dropping a range (three cuts) GPU and reference differ no more than without the shift',
    async (mode) => {
      const base = await tails(mode, null);
      const before = maxAbsDiff(base.gpu, base.ref);
      for (const cut of [
        [40, 170],
        [128, 256],
        [299, 300],
      ] as [number, number][]) {
        const shifted = await tails(mode, cut);
        expect(maxAbsDiff(shifted.gpu, shifted.ref)).toBeLessThan(1.5 * before + 1e-3);
        expect(maxAbsDiff(base.ref, shifted.ref)).toBeGreaterThan(before);
      }
    },
  );

  // The f16 rings by position (a residual window, the hot tier) move with a kept tail that covers them.
  it.each([
    ['xquant-4:residual=16', 'xquant-4:residual=16'],
    ['kivi-4:residual=16', 'kivi-4:residual=16'],
    ['xquant-cl-2:residual=16', 'xquant-cl-2:residual=16'],
    ['xquant-4:hot=128', 'xquant-4'],
  ])('%s: the rings move with the kept tail; GPU and reference differ no more than without the shift', async (mode, refMode) => {
    const base = await tails(mode, null, refMode);
    const before = maxAbsDiff(base.gpu, base.ref);
    for (const cut of [
      [40, 170],
      [10, 100],
    ] as [number, number][]) {
      const shifted = await tails(mode, cut, refMode);
      expect(maxAbsDiff(shifted.gpu, shifted.ref)).toBeLessThan(1.5 * before + 1e-3);
      expect(maxAbsDiff(base.ref, shifted.ref)).toBeGreaterThan(before);
    }
  });

  it.each(['kivi-4:residual=16', 'xquant-4:residual=16', 'xquant-4:hot=128'])(
    '%s: a kept tail shorter than the ring cannot keep entries across the cut; nothing changes',
    async (mode) => {
      const config = parseCacheMode(mode);
      await gpu.prepare(config);
      const g = gpu.createSession(config);
      await g.forward(CALLS[0], 'last');
      expect(g.shift(10, 285)).toBe(false);
      expect(g.length).toBe(290);
      if (!mode.includes('hot')) {
        const r = reference.createSession(config);
        await r.forward(CALLS[0], 'last');
        expect(r.shift(10, 285)).toBe(false);
        expect(r.length).toBe(290);
      }
      g.close();
    },
  );

  it('a range outside the cache is a typed error', async () => {
    const g = gpu.createSession(parseCacheMode('fp16'));
    await g.forward([1, 2, 3], 'last');
    expect(() => g.shift(2, 5)).toThrow(/not a range of the cached tokens/);
    expect(() => g.shift(2, 2)).toThrow(/not a range/);
    g.close();
  });
});
