// The backend's own speed: matrix-vector and matrix-matrix rates of the engine's linear kernel on an f32 matrix
// (benchmark rows say how close a model runs to what this GPU or emulation can do), and the device profile the
// planner estimates milliseconds with, measured with the loaded model's own decode steps.

import { parseCacheMode, type CacheConfig } from '../cache/cache-config';
import { decodeStepCost } from '../cache/cache-cost';
import type { DeviceProfile } from '../engine/device-profile';
import { GREEDY, Sampler } from '../engine/sampling';
import type { ModelSpec } from '../model/model-spec';
import { uploadMatrix } from './gpu-matrix';
import type { KernelFamily } from './kernel-family';
import { GpuMemory } from './memory';
import { encodeDispatches, STEP_BYTES, type OpContext } from './ops/dispatch';
import { linearOps } from './ops/linear';
import type { PipelineCache } from './pipelines';
import type { GpuDecodeSession } from './session';
import { packMatrix } from '../quant/weight-format';

/** One timed y = W x: a [rows, cols] f32 matrix over `tokens` tokens (tile 1 = GEMV, 4 = GEMM), `reps` times. */
export interface LinearRun {
  rows: number;
  cols: number;
  tokens: number;
  tile: number;
  reps: number;
  kernels?: KernelFamily;
}

/** GFLOP/s of a linear run. */
export async function linearGflops(device: GPUDevice, pipelines: PipelineCache, run: LinearRun): Promise<number> {
  return (2 * run.rows * run.cols * run.tokens) / (await linearSeconds(device, pipelines, run)) / 1e9;
}

/** Seconds one y = W x takes (the mean of `reps` in one submission, after a warm-up). */
async function linearSeconds(device: GPUDevice, pipelines: PipelineCache, { rows, cols, tokens, tile, reps, kernels = 'rowwise' }: LinearRun): Promise<number> {
  const memory = new GpuMemory(device);
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 0.1);
  const matrix = uploadMatrix(memory, 'calibrate', packMatrix(w, rows, cols, 'f32'), device.limits.maxStorageBufferBindingSize);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const x = memory.create('activations', 'x', Math.ceil(tokens / 4) * 4 * cols * 4, usage);
  const y = memory.create('activations', 'y', Math.ceil(tokens / 4) * 4 * rows * 4, usage);
  const step = memory.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(step, 0, new Uint32Array([tokens, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]));
  const empty = memory.create('activations', 'empty', 16, usage);
  const ctx: OpContext = { device, pipelines, step, empty, workgroupBytes: device.limits.maxComputeWorkgroupStorageSize, kernels };
  const ops = linearOps(ctx, 'calibrate', matrix, { x, y, bias: null, xStride: cols, yStride: rows, tileM: tile, accumulate: false, lastOnly: false });
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < n; i++) encodeDispatches(pass, ops, tokens);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1); // compile and warm up
  const t0 = performance.now();
  await run(reps);
  const seconds = (performance.now() - t0) / 1000;
  memory.releaseAll();
  return seconds / reps;
}

/** What measureProfile needs of a loaded backend. */
export interface CalibrationTarget {
  readonly device: GPUDevice;
  readonly pipelines: PipelineCache;
  readonly kernels: KernelFamily;
  readonly spec: ModelSpec;
  readonly adapter: string;
  memoryReport(): { weights: number };
  compileMode(config: CacheConfig): Promise<number>;
  createSession(config: CacheConfig): GpuDecodeSession;
}

/** Dispatches a decode step runs per layer, about (norms, projections, RoPE, attention, FFN). */
const DISPATCHES_PER_LAYER = 12;

/** Mean seconds of `steps` one-by-one decode steps of a session of `mode` holding `context` tokens. */
export async function stepSeconds(t: CalibrationTarget, mode: string, context: number, steps: number): Promise<number> {
  const config = parseCacheMode(mode);
  await t.compileMode(config);
  const session = t.createSession(config);
  try {
    const sampler = new Sampler(GREEDY);
    let id = await session.next([1, 2], sampler);
    session.skipTo(context); // a step's cost depends on how many tokens are stored, not on their values
    id = await session.next([id], sampler);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) id = await session.next([id], sampler);
    return (performance.now() - t0) / 1000 / steps;
  } finally {
    session.close();
  }
}

/**
 * This device's profile, from the loaded model's own decode steps: fp16 and xquant-4 at `context` tokens. The
 * launch overhead comes from a tiny GEMV repeated; the GEMV rate from fp16's step less that overhead (weights and
 * fp16 cache over its time); the rebuild rate from xquant-4's extra time over fp16's against its rebuild FLOPs.
 * A few seconds on a CPU adapter, well under one on a GPU.
 */
export async function measureProfile(t: CalibrationTarget, o: { context?: number; steps?: number } = {}): Promise<DeviceProfile> {
  const spec = t.spec;
  const context = Math.min(o.context ?? 512, spec.maxPositionEmbeddings - 8);
  const steps = o.steps ?? 2;
  const dispatch = await linearSeconds(t.device, t.pipelines, { rows: 32, cols: 32, tokens: 1, tile: 1, reps: 64, kernels: t.kernels });
  const layerOverhead = dispatch * DISPATCHES_PER_LAYER;
  const fp16 = await stepSeconds(t, 'fp16', context, steps);
  const xquant = await stepSeconds(t, 'xquant-4', context, steps);
  const moved = t.memoryReport().weights + decodeStepCost(spec, parseCacheMode('fp16'), context).cacheBytes;
  const streaming = Math.max(fp16 - spec.numLayers * layerOverhead, fp16 * 0.1);
  const rebuild = decodeStepCost(spec, parseCacheMode('xquant-4'), context).rebuildFlops;
  return {
    name: `${t.adapter} (${t.kernels})`,
    source: 'measured',
    gemvGBps: moved / streaming / 1e9,
    rebuildGflops: rebuild / Math.max(xquant - fp16, fp16 * 0.05) / 1e9,
    layerOverheadUs: layerOverhead * 1e6,
    note: `measured ${new Date().toISOString().slice(0, 10)}: decode steps of the loaded model at ${context} tokens (fp16 ${(fp16 * 1000).toFixed(1)} ms, xquant-4 ${(xquant * 1000).toFixed(1)} ms), ${(dispatch * 1e6).toFixed(0)} µs per dispatch`,
  };
}
