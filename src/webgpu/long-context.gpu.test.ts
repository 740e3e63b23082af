// Long contexts at a real shape: Qwen2.5-0.5B's widths (d 896, 14 heads, 2 kv heads, head 64, MLP 4864,
// vocabulary 151,936, q/k/v biases), 2 of its 24 layers, q4 weights, random. Each cache mode is brought to
// 32K tokens with skipTo (no prefill; the stored form is zeros) and runs one decode step on a device
// that binds at most 16 MiB, so the LM head and the caches must split: no buffer passes the limit, the
// cache's GPU bytes match the formulas, and xquant-cl (its layers share one buffer) refuses what one
// binding cannot hold with a typed error that says how far it can go. `npm test` runs fp16 and kivi-4;
// XQUANT_LONG=all (npm run test:long) runs every mode.

import { afterAll, describe, expect, it } from 'vitest';
import { PAGE_TOKENS, parseCacheMode } from '../cache/cache-config';
import { cacheBytesPerToken } from '../cache/cache-bytes';
import { OVERSHOOT_TOKENS } from './caches/gpu-cache';
import { GpuOutOfMemoryError } from '../errors';
import { acquireDevice } from './device';
import { nodeGpu, nodeShaders } from './node-gpu';
import { kvDim, parseModelConfig, type ModelSpec } from '../model/model-spec';
import { randomPackedStream } from '../test-support/random-packed';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { GREEDY, Sampler } from '../engine/sampling';
import { WebGpuBackend } from './backend';

const BINDING = 16 * 2 ** 20;
const CONTEXT = 32 * 1024;
const ALL = ['f32', 'fp16', 'kivi-4', 'kivi-2', 'xquant-4', 'xquant-2', 'xquant-gqa-4', 'xquant-gqa-2'];
const MODES = process.env.XQUANT_LONG === 'all' ? ALL : ['fp16', 'kivi-4'];

const spec: ModelSpec = parseModelConfig(JSON.stringify({ ...REAL_CONFIGS.qwen25_05b, num_hidden_layers: 2 }), 'qwen2.5-0.5b-shape/config.json');

let backend: Promise<WebGpuBackend> | null = null;
const open = () =>
  (backend ??= (async () => {
    // The engine splits by the limit it was given (Dawn's device may bind more).
    const acquired = { ...(await acquireDevice(nodeGpu())), maxStorageBindingBytes: BINDING };
    return WebGpuBackend.fromStream(acquired, nodeShaders(), spec, randomPackedStream(spec, 'q4', 11));
  })());
afterAll(async () => (await backend)?.destroy());

describe(`Qwen2.5-0.5B widths at ${CONTEXT} tokens on a device binding at most ${BINDING} bytes`, () => {
  it('splits the LM head so no weight buffer passes the binding limit', async () => {
    const b = await open();
    expect(b.weights.lmHead.parts.length).toBeGreaterThan(1);
    expect(Math.max(...b.memory.buffers().map((x) => x.bytes))).toBeLessThanOrEqual(BINDING);
  });

  for (const name of MODES) {
    it(`${name}: one decode step at ${CONTEXT} tokens; every buffer within the limit; cache bytes as the formulas say`, async () => {
      const b = await open();
      const config = parseCacheMode(name);
      await b.prepare(config);
      const before = b.memoryReport().cache;
      const session = b.createSession(config);
      try {
        session.skipTo(CONTEXT - 1);
        const id = await session.next([5], new Sampler(GREEDY));
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThan(spec.vocabSize);
        expect(session.cache.length).toBe(CONTEXT);
        expect(Math.max(...b.memory.buffers().map((x) => x.bytes))).toBeLessThanOrEqual(BINDING);
        // Pages for exactly the context (a power of two of 128-token pages), at the mode's bytes per token,
        // plus the f16 rings of tokens not quantized yet and the page table.
        const capacity = session.cache.capacity;
        expect(capacity).toBe(CONTEXT);
        const cache = b.memoryReport().cache - before;
        const pages = capacity * cacheBytesPerToken(spec, config);
        // The rings hold OVERSHOOT_TOKENS spare rows for run-ahead decode.
        const ringRows = config.residual > 0 ? config.residual + OVERSHOOT_TOKENS : 0;
        const rings = spec.numLayers * (ringRows * (name.startsWith('xquant-') && !name.startsWith('xquant-gqa') ? spec.hiddenSize : kvDim(spec)) * 2);
        const kRing =
          name.startsWith('kivi') || name.startsWith('xquant-gqa')
            ? spec.numLayers * (PAGE_TOKENS + config.residual + b.maxBatch + OVERSHOOT_TOKENS) * kvDim(spec) * 2
            : 0;
        const table = (capacity / PAGE_TOKENS) * (name === 'f32' || name === 'fp16' ? 1 : spec.numLayers) * 4;
        expect(cache).toBe(pages + rings + kRing + table);
      } finally {
        session.close();
      }
    });
  }

  it('xquant-cl keeps its layers in one buffer: past what one binding holds it is a typed error naming the longest context, which runs', async () => {
    const b = await open();
    const config = parseCacheMode('xquant-cl-4');
    let session = b.createSession(config);
    let most = 0;
    try {
      let err: unknown = null;
      try {
        session.skipTo(CONTEXT);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GpuOutOfMemoryError);
      expect((err as Error).message).toMatch(/xquant-cl keeps every layer in one/);
      most = Number(/\((\d+) tokens\)/.exec((err as Error).message)![1]);
      // Both layers' rows in one binding: the longest context is what 16 MiB holds, to a page.
      const perToken = cacheBytesPerToken(spec, config);
      expect(most * perToken).toBeLessThanOrEqual(BINDING);
      expect((most + 2 * PAGE_TOKENS) * perToken).toBeGreaterThan(BINDING);
    } finally {
      session.close();
    }
    session = b.createSession(config);
    try {
      session.skipTo(most - 1);
      const id = await session.next([5], new Sampler(GREEDY));
      expect(id).toBeLessThan(spec.vocabSize);
    } finally {
      session.close();
    }
  });
});
