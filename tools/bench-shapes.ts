// `npm run bench -- --section shapes`: decode at real models' widths (SmolLM2-135M, Qwen2.5-0.5B,
// Llama-3.2-1B: their config.json values, random q4 weights, fewer layers) with both kernel families in the
// same run, and a roofline column: the bytes a decode step must read (every matrix but the embedding, plus
// the fp16 cache of the context) per second, against the device's buffer-copy bandwidth measured in the
// same run, and the K rebuild's GFLOP/s (xquant-4's step over fp16's at --rebuild-context tokens, against its
// FLOPs) to set beside the prefill GEMM's of the same run. Decode runs the engine's way (decodeIds: 3 steps in flight) and, for comparison, one step at a
// time. Dispatches, submissions and readbacks per token are counted on a wrapped device.

import { parseCacheMode } from '../src/cache/cache-config';
import { cacheBytesPerToken } from '../src/cache/cache-bytes';
import { GREEDY, Sampler } from '../src/engine/sampling';
import { WebGpuBackend } from '../src/webgpu/backend';
import { measureProfile, stepSeconds } from '../src/webgpu/calibrate';
import { acquireDevice } from '../src/webgpu/device';
import type { GpuMatrix } from '../src/webgpu/gpu-matrix';
import type { KernelFamily } from '../src/webgpu/kernel-family';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';
import { parseModelConfig } from '../src/model/model-spec';
import { countingDevice } from '../src/test-support/counting-device';
import { randomPackedStream } from '../src/test-support/random-packed';
import { REAL_CONFIGS } from '../src/test-support/real-configs';

export const SHAPE_CONFIGS: Record<string, Record<string, unknown>> = {
  'smollm2-135m': REAL_CONFIGS.smollm2_135m,
  'qwen2.5-0.5b': REAL_CONFIGS.qwen25_05b,
  'llama-3.2-1b': REAL_CONFIGS.llama32_1b,
};

export interface ShapeRow {
  shape: string;
  layers: number;
  kernels: KernelFamily;
  subgroups: boolean;
  context: number;
  /** Bytes one decode step reads: weights (LM head included, embedding row excluded) and the fp16 cache. */
  weightBytes: number;
  cacheBytes: number;
  msPerToken: number;
  /** The same decode with each step waiting for its id (no run-ahead). */
  msOneByOne: number;
  tokPerS: number;
  /** (weightBytes + cacheBytes) per second. */
  readGBps: number;
  /** readGBps over the copy bandwidth of the same run. */
  ofCopy: number;
  dispatches: number;
  submits: number;
  readbacks: number;
  /** GFLOP/s of the K rebuild: xquant-4's step over fp16's at rebuildContext tokens, against its FLOPs (measureProfile). */
  rebuildGflops: number;
  rebuildContext: number;
  /** Decode of each cache mode at each context, one step at a time (--mode-contexts), against fp16's. */
  modes: { mode: string; context: number; msPerToken: number; vsFp16: number }[];
}

/**
 * GB/s moved by copyBufferToBuffer (bytes read plus bytes written), 64 MiB at a time: the memory
 * traffic this device sustains, the roof a bandwidth-bound decode step is measured against.
 */
export async function copyBandwidth(device: GPUDevice, reps = 6): Promise<number> {
  const bytes = Math.min(64 * 2 ** 20, device.limits.maxBufferSize);
  const src = device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.STORAGE });
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
    const t = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t) / 1000;
  };
  await run(1);
  // The best of three: a CPU adapter's copy speed varies from run to run.
  const seconds = Math.min(await run(reps), await run(reps), await run(reps));
  src.destroy();
  dst.destroy();
  return (2 * bytes * reps) / seconds / 1e9;
}

const matrixBytes = (m: GpuMatrix) => m.parts.reduce((a, p) => a + p.data.size + (p.scales?.size ?? 0), 0);

export async function shapesSection(o: {
  shapes: string[];
  layers: number;
  context: number;
  steps: number;
  copyGBps: number;
  rebuildContext: number;
  /** Contexts at which each of `modes` decodes (empty: none), in the rowwise family only (the family auto picks here). */
  modeContexts: number[];
  modes: string[];
}): Promise<ShapeRow[]> {
  const rows: ShapeRow[] = [];
  const fp16 = parseCacheMode('fp16');
  for (const shape of o.shapes) {
    const config = SHAPE_CONFIGS[shape];
    if (!config) throw new Error(`unknown shape ${shape}; known: ${Object.keys(SHAPE_CONFIGS).join(', ')}`);
    const spec = parseModelConfig(JSON.stringify({ ...config, num_hidden_layers: o.layers }), `${shape}/config.json`);
    for (const kernels of ['rowwise', 'tiled'] as const) {
      const dev = countingDevice(await acquireDevice(nodeGpu()));
      const backend = await WebGpuBackend.fromStream(dev, nodeShaders(), spec, randomPackedStream(spec, 'q4', 7), { kernels });
      const w = backend.weights;
      const weightBytes =
        w.layers.reduce((a, l) => a + [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown].reduce((b, m) => b + matrixBytes(m), 0), 0) + matrixBytes(w.lmHead);
      const cacheBytes = o.context * cacheBytesPerToken(spec, fp16);
      const session = backend.createSession(fp16);
      const sampler = new Sampler(GREEDY);
      let id = await session.next([1, 2, 3, 4], sampler); // compiles the prefill and head kernels
      session.skipTo(o.context); // the cost of a step depends on how many tokens are stored, not their values
      id = await session.next([id], sampler); // compiles the decode list
      // The engine's decode path: run-ahead (3 steps in flight with this fp16 cache).
      dev.reset();
      let t = performance.now();
      for await (const next of session.decodeIds(id, sampler, o.steps)) id = next;
      const seconds = (performance.now() - t) / 1000 / o.steps;
      const c = { ...dev.counts };
      // The same steps one at a time, each waiting for its readback: what run-ahead saves.
      t = performance.now();
      for (let i = 0; i < o.steps; i++) id = await session.next([id], sampler);
      const oneByOne = (performance.now() - t) / 1000 / o.steps;
      const readGBps = (weightBytes + cacheBytes) / seconds / 1e9;
      rows.push({
        shape,
        layers: o.layers,
        kernels,
        subgroups: backend.gpu.features.subgroups,
        context: o.context,
        weightBytes,
        cacheBytes,
        msPerToken: seconds * 1000,
        msOneByOne: oneByOne * 1000,
        tokPerS: 1 / seconds,
        readGBps,
        ofCopy: readGBps / o.copyGBps,
        dispatches: c.dispatches / o.steps,
        submits: c.submits / o.steps,
        readbacks: c.readbacks / o.steps,
        rebuildGflops: Number.NaN,
        rebuildContext: o.rebuildContext,
        modes: [],
      });
      session.close();
      const profile = await measureProfile(backend, { context: o.rebuildContext, steps: 2 });
      const row = rows[rows.length - 1];
      row.rebuildGflops = profile.rebuildGflops;
      for (const context of kernels === 'rowwise' ? o.modeContexts : []) {
        const fp16Ms = (await stepSeconds(backend, 'fp16', context, 2)) * 1000;
        for (const mode of o.modes) {
          const ms = mode === 'fp16' ? fp16Ms : (await stepSeconds(backend, mode, context, 2)) * 1000;
          row.modes.push({ mode, context, msPerToken: ms, vsFp16: fp16Ms / ms });
          process.stderr.write(`shapes ${shape} ${mode} at ${context}: ${ms.toFixed(0)} ms/token (${(fp16Ms / ms).toFixed(3)}x fp16's speed)\n`);
        }
      }
      process.stderr.write(
        `shapes ${shape} (${o.layers} layers) ${kernels}: ${(seconds * 1000).toFixed(0)} ms/token, ${readGBps.toFixed(3)} GB/s read; K rebuild ${profile.rebuildGflops.toFixed(3)} GFLOP/s (${profile.note})\n`,
      );
      backend.destroy();
    }
  }
  return rows;
}
