// keep(n) on the GPU: the same check as the reference's (src/reference/caches/recorded-cache.test.ts) for every
// mode, the kept prefix against a fresh session that ran only those tokens.

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { checkKeep } from '../test-support/keep-check';
import { sharedModel } from '../test-support/shared-models';
import { WebGpuBackend } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), await sharedModel('stories260K'), {
  weights: 'f32',
  maxBatch: 64,
  kernels: 'auto',
  subgroups: true,
});
afterAll(() => gpu.destroy());

describe('keeping the first n tokens (WebGPU)', () => {
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4', 'xquant-4:residual=16', 'xquant-4:hot=128'])(
    '%s: the kept prefix equals a session that ran only those tokens',
    async (mode) => {
      await gpu.prepare(parseCacheMode(mode));
      const kept = [];
      for (const n of [156, 152, 140, 60]) kept.push(await checkKeep(gpu, mode, n, 1e-3)); // a prompt slice of another length can round an fp16 store by an ulp
      const config = parseCacheMode(mode);
      if (config.residual || config.hot)
        expect(kept).toEqual([0, 0, 0, 0]); // only keeping every token is exact with a ring
      else if (mode.startsWith('kivi') || mode.startsWith('xquant-gqa')) expect(kept).toEqual([156, 128, 128, 0]);
      else expect(kept).toEqual([156, 152, 140, 60]);
    },
  );
});
