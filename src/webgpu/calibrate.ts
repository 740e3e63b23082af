// The backend's own matrix-vector and matrix-matrix speed, measured with the engine's linear kernel on an
// f32 matrix, so benchmark rows can say how close a model runs to what this GPU (or emulation) can do.

import { uploadMatrix } from './gpu-matrix';
import type { KernelFamily } from './kernel-family';
import { GpuMemory } from './memory';
import { encodeDispatches, type OpContext } from './ops/dispatch';
import { linearOps } from './ops/linear';
import type { PipelineCache } from './pipelines';
import { packMatrix } from '../quant/weight-format';

/** GFLOP/s of y = W x for a [rows, cols] f32 matrix over `tokens` tokens (tile 1 = GEMV, 4 = GEMM). */
export async function linearGflops(
  device: GPUDevice,
  pipelines: PipelineCache,
  rows: number,
  cols: number,
  tokens: number,
  tile: number,
  reps: number,
  kernels: KernelFamily = 'rowwise',
): Promise<number> {
  const memory = new GpuMemory(device);
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 0.1);
  const matrix = uploadMatrix(memory, 'calibrate', packMatrix(w, rows, cols, 'f32'), device.limits.maxStorageBufferBindingSize);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const x = memory.create('activations', 'x', Math.ceil(tokens / 4) * 4 * cols * 4, usage);
  const y = memory.create('activations', 'y', Math.ceil(tokens / 4) * 4 * rows * 4, usage);
  const step = memory.create('activations', 'step', 48, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
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
  return (2 * rows * cols * tokens * reps) / seconds / 1e9;
}
