// Both sampling kernels (one workgroup, and split over many) against the reference sampler (pickToken) on a
// vocabulary of Qwen2.5's size, with ties, for top-k, top-p, min-p, together and none, at several draws.

import { afterAll, describe, expect, it } from 'vitest';
import { pickToken, type SamplingOptions } from '../../engine/sampling';
import { acquireDevice } from '../device';
import { GpuMemory } from '../memory';
import { nodeGpu, nodeShaders } from '../node-gpu';
import { PipelineCache } from '../pipelines';
import { encodeDispatches, STEP_BYTES } from './dispatch';
import { sampleOp, sampleSplitBuffers, sampleSplitOps } from './sample';

const V = 151_936;
const { device } = await acquireDevice(nodeGpu());
const mem = new GpuMemory(device);
afterAll(() => (mem.releaseAll(), device.destroy()));

/** Deterministic logits, roughly normal with a long upper tail, and runs of exact ties. */
function logitsRow(): Float32Array<ArrayBuffer> {
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const z = new Float32Array(V);
  for (let i = 0; i < V; i++) z[i] = 2.5 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()) - 4;
  for (let i = 0; i < V; i += 997) z[i] = z[(i * 31) % V]; // ties
  z[1234] = z[99_999] = 9.5; // a tied top pair
  return z;
}

const logits = logitsRow();
const bLogits = mem.upload('activations', 'logits', logits);
const chosen = mem.create('activations', 'chosen', 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
const ctx = { device, pipelines: new PipelineCache(device, nodeShaders()), step, empty: step, workgroupBytes: device.limits.maxComputeWorkgroupStorageSize };
const KERNELS = { one: [sampleOp(ctx, bLogits, chosen, V)], split: sampleSplitOps(ctx, bLogits, chosen, sampleSplitBuffers(mem, V), V) };
const read = mem.create('staging', 'read', 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

async function gpuPick(kernel: keyof typeof KERNELS, o: SamplingOptions, u: number): Promise<number> {
  const uniform = new DataView(new ArrayBuffer(STEP_BYTES));
  [1, 0, 1, 1, 1, 1, 0, 0].forEach((v, i) => uniform.setUint32(i * 4, v, true));
  uniform.setFloat32(28, o.minP ?? 0, true);
  uniform.setFloat32(32, u, true);
  uniform.setFloat32(36, 1 / o.temperature, true);
  uniform.setUint32(40, o.topK, true);
  uniform.setFloat32(44, o.topP, true);
  device.queue.writeBuffer(step, 0, uniform.buffer);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, KERNELS[kernel], 1);
  pass.end();
  enc.copyBufferToBuffer(chosen, 0, read, 0, 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const id = new Uint32Array(read.getMappedRange().slice(0))[0];
  read.unmap();
  return id;
}

describe.each(['one', 'split'] as const)('%s', (kernel) => {
  it.each([
    { temperature: 0.8, topK: 40, topP: 0.95 },
    { temperature: 1.2, topK: 0, topP: 0.7 },
    { temperature: 1, topK: 5, topP: 1 },
    { temperature: 0.7, topK: 1000, topP: 0.5 },
    { temperature: 1, topK: 2, topP: 1 }, // the tied top pair
    { temperature: 1.5, topK: 0, topP: 1 },
    { temperature: 1, topK: 0, topP: 1, minP: 0.05 },
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.1 },
    { temperature: 2, topK: 0, topP: 0.9, minP: 0.02 },
  ])('picks what pickToken picks over a 151,936-token vocabulary (%o)', async (o) => {
    const options: SamplingOptions = { ...o, seed: 0 };
    const picks = new Set<number>();
    for (const u of [0.001, 0.2, 0.37, 0.5, 0.77, 0.93, 0.999]) {
      const want = pickToken(logits, options, u);
      expect(await gpuPick(kernel, options, u)).toBe(want);
      picks.add(want);
    }
    expect(picks.size).toBeGreaterThan(1); // the draws land on different tokens: the walk is exercised
  });
});
