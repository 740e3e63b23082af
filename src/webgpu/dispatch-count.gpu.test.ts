// Round trips per decoded token, counted on a wrapped device: compute dispatches, queue submissions,
// uploads and readbacks of one greedy decode step (after the prompt), per cache mode and kernel family.
// Issue 14's target: at most 8 dispatches per layer in fp16 with the tiled family (q and k GEMVs with the
// norm and RoPE fused, v with the norm, attention split with the append, merge, o, gate/up/SwiGLU with
// the norm, down), plus 3 per token (embedding, LM head with the final norm, token choice); one
// submission per token. The other rows are today's counts (BENCHMARKS.md), asserted so they cannot grow.
// Decode runs ahead (decodeIds): the next step's input id stays on the GPU (one upload per token, the step
// uniform) and 3 steps are in flight before the first id is read back (every mode but the tiered cache).

import { afterAll, describe, expect, it } from 'vitest';
import { clBaseLayers, parseCacheMode } from '../cache/cache-config';
import { acquireDevice } from './device';
import type { KernelFamily } from './kernel-family';
import { nodeGpu, nodeShaders } from './node-gpu';
import { packModelWeights } from '../quant/packed-weights';
import { countingDevice, type GpuCounts } from '../test-support/counting-device';
import { sharedModel } from '../test-support/shared-models';
import { GREEDY, Sampler } from '../engine/sampling';
import { WebGpuBackend } from './backend';

const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));

const STEPS = 4;

/** Most dispatches per layer and per token outside the layers (embedding, final norm unless fused, LM head, token choice). */
const LAYER_DISPATCHES: Record<KernelFamily, Record<string, number>> = {
  rowwise: { fp16: 11, 'kivi-4': 17, 'xquant-4': 14, 'xquant-cl-4': 14, 'xquant-gqa-4': 19 },
  tiled: { fp16: 8, 'kivi-4': 15, 'xquant-4': 12, 'xquant-cl-4': 12, 'xquant-gqa-4': 17 },
};
const PER_TOKEN: Record<KernelFamily, number> = { rowwise: 4, tiled: 3 };
/** xquant-cl sums X̂ once per delta layer before its attend kernels (xquant-cl-rows.wgsl): one more there. */
const extraDispatches = (mode: string, deltaLayers: number) => (mode.startsWith('xquant-cl') ? deltaLayers : 0);

/** Per decoded token, averaged over STEPS run-ahead decode steps after an 8-token prompt; `inFlight`: steps submitted when the first id arrived. */
async function perToken(mode: string, kernels: KernelFamily): Promise<GpuCounts & { layers: number; deltaLayers: number; inFlight: number }> {
  const m = await sharedModel('stories260K');
  const dev = countingDevice(await acquireDevice(nodeGpu()));
  const b = await WebGpuBackend.fromPacked(dev, nodeShaders(), m.spec, packModelWeights(m.spec, m.weights, 'q8'), { kernels });
  opened.push(b);
  const cache = parseCacheMode(mode);
  await b.prepare(cache);
  const s = b.createSession(cache);
  const sampler = new Sampler(GREEDY);
  let id = await s.next([1, 403, 407, 261, 378, 432, 383, 286], sampler);
  id = await s.next([id], sampler); // the first decode step builds its dispatch list
  const before = s.length;
  dev.reset();
  let inFlight = 0;
  for await (const next of s.decodeIds(id, sampler, STEPS)) {
    inFlight ||= dev.counts.submits;
    id = next;
  }
  expect(s.length).toBe(before + STEPS);
  s.close();
  const c = dev.counts;
  return {
    dispatches: c.dispatches / STEPS,
    submits: c.submits / STEPS,
    writes: c.writes / STEPS,
    readbacks: c.readbacks / STEPS,
    layers: m.spec.numLayers,
    deltaLayers: m.spec.numLayers - clBaseLayers(m.spec),
    inFlight,
  };
}

describe('round trips per decoded token (stories260K, 5 layers, q8 weights)', () => {
  const rows: string[] = [];
  afterAll(() => console.log(['| mode | kernels | dispatches/token | per layer | submits | writes | readbacks | steps in flight |', ...rows].join('\n')));
  for (const kernels of ['rowwise', 'tiled'] as const) {
    for (const mode of ['fp16', 'kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4']) {
      it(`${mode}, ${kernels} kernels: one readback, one submission, a bounded number of dispatches`, async () => {
        const c = await perToken(mode, kernels);
        rows.push(
          `| ${mode} | ${kernels} | ${c.dispatches} | ${(c.dispatches / c.layers).toFixed(1)} | ${c.submits} | ${c.writes} | ${c.readbacks} | ${c.inFlight} |`,
        );
        expect(c.readbacks).toBe(1); // the chosen id
        expect(c.submits).toBe(1); // the step, the token choice and the id's copies in one submission
        // The step uniform per step, plus the first input id: later ones are the previous step's choice, on the GPU.
        expect(c.writes * STEPS).toBe(STEPS + 1);
        // Every mode runs ahead (several steps submitted before the first id is read; a stop drops the overshoot).
        expect(c.inFlight).toBe(3);
        expect(c.dispatches).toBeLessThanOrEqual(LAYER_DISPATCHES[kernels][mode] * c.layers + PER_TOKEN[kernels] + extraDispatches(mode, c.deltaLayers));
        expect(c.dispatches).toBeGreaterThan(5 * c.layers); // the count is real: every layer dispatches
      });
    }
  }
});
