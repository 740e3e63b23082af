// `npm run bench -- --section sampling`: milliseconds per token choice on this adapter, over the 151,936 logits of a
// Qwen2.5/Qwen3 vocabulary: argmax, and sampling in one workgroup (sample.wgsl, the rowwise family's) and split over
// many (sample-split.wgsl, the tiled family's), for the sampler settings people use. Each choice is one submission
// waited for, as a decode step waits for its id; logits are random, roughly normal.

import { seededRandom, type SamplingOptions } from '../src/engine/sampling';
import { acquireDevice } from '../src/webgpu/device';
import { GpuMemory } from '../src/webgpu/memory';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';
import { argmaxOp } from '../src/webgpu/ops/argmax';
import { encodeDispatches, STEP_BYTES, type Dispatch } from '../src/webgpu/ops/dispatch';
import { sampleOp, sampleSplit, sampleSplitBuffers, sampleSplitOps } from '../src/webgpu/ops/sample';
import { PipelineCache } from '../src/webgpu/pipelines';

export interface SamplingRow {
  kernel: 'argmax' | 'one workgroup' | 'split';
  settings: string;
  dispatches: number;
  workgroups: number;
  msPerChoice: number;
}

const V = 151_936;
const SETTINGS: SamplingOptions[] = [
  { temperature: 0.7, topK: 40, topP: 0.9, seed: 0 },
  { temperature: 1, topK: 0, topP: 0.95, seed: 0 },
  { temperature: 0.8, topK: 0, topP: 1, minP: 0.05, seed: 0 },
];

export async function samplingSection(reps: number): Promise<{ adapter: string; rows: SamplingRow[] }> {
  const gpu = await acquireDevice(nodeGpu());
  const { device } = gpu;
  const mem = new GpuMemory(device);
  try {
    const rand = seededRandom(7);
    const z = new Float32Array(V);
    for (let i = 0; i < V; i++) z[i] = 2.5 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()) - 4;
    const logits = mem.upload('activations', 'logits', z);
    const chosen = mem.create('activations', 'chosen', 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const ctx = {
      device,
      pipelines: new PipelineCache(device, nodeShaders()),
      step,
      empty: step,
      workgroupBytes: device.limits.maxComputeWorkgroupStorageSize,
    };
    const split = sampleSplit(V);
    const splitBuffers = sampleSplitBuffers(mem, V);
    const read = mem.create('staging', 'read', 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

    const choose = async (ops: readonly Dispatch[]) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, ops, 1);
      pass.end();
      enc.copyBufferToBuffer(chosen, 0, read, 0, 4);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      read.unmap();
    };
    const time = async (ops: readonly Dispatch[]) => {
      await choose(ops); // compiles
      const t = performance.now();
      for (let r = 0; r < reps; r++) await choose(ops);
      return (performance.now() - t) / reps;
    };
    const setStep = (o: SamplingOptions) => {
      const u = new DataView(new ArrayBuffer(STEP_BYTES));
      u.setUint32(0, 1, true);
      u.setFloat32(28, o.minP ?? 0, true);
      u.setFloat32(32, 0.5, true);
      u.setFloat32(36, 1 / o.temperature, true);
      u.setUint32(40, o.topK, true);
      u.setFloat32(44, o.topP, true);
      device.queue.writeBuffer(step, 0, u.buffer);
    };

    const rows: SamplingRow[] = [];
    setStep(SETTINGS[0]);
    rows.push({ kernel: 'argmax', settings: 'greedy', dispatches: 1, workgroups: 1, msPerChoice: await time([argmaxOp(ctx, logits, chosen, V)]) });
    const one = [sampleOp(ctx, logits, chosen, V)];
    const many = sampleSplitOps(ctx, logits, chosen, splitBuffers, V);
    for (const o of SETTINGS) {
      setStep(o);
      const settings = `T ${o.temperature}, top-k ${o.topK}, top-p ${o.topP}${o.minP ? `, min-p ${o.minP}` : ''}`;
      rows.push({ kernel: 'one workgroup', settings, dispatches: 1, workgroups: 1, msPerChoice: await time(one) });
      rows.push({ kernel: 'split', settings, dispatches: many.length, workgroups: split.groups, msPerChoice: await time(many) });
    }
    return { adapter: gpu.adapterInfo.description, rows };
  } finally {
    mem.releaseAll();
    device.destroy();
  }
}

/** The section's table, as BENCHMARKS.md gives it. */
export function samplingTable(r: { adapter: string; rows: SamplingRow[] }): string[] {
  return [
    `Token choice over 151,936 logits on ${r.adapter}, ms per choice (one submission each, waited for; same run):`,
    '',
    '| kernel | settings | dispatches | workgroups per pass | ms per choice |',
    '|---|---|---|---|---|',
    ...r.rows.map((x) => `| ${x.kernel} | ${x.settings} | ${x.dispatches} | ${x.workgroups} | ${x.msPerChoice.toFixed(2)} |`),
  ];
}
