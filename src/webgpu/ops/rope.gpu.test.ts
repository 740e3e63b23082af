// RoPE kernel in both layouts against a direct CPU rotation (the decoder itself only uses rotate-half,
// the Hugging Face layout; interleaved pairs are what Meta-format checkpoints use).

import { expect, it } from 'vitest';
import { acquireDevice } from '../device';
import { GpuMemory } from '../memory';
import { nodeGpu, nodeShaders } from '../node-gpu';
import { PipelineCache } from '../pipelines';
import { encodeDispatches, STEP_BYTES } from './dispatch';
import { ropeOp, ropeTable } from './rope';

it.each([false, true])('rotates q and k at positions pos0.. (interleaved: %s)', async (interleaved) => {
  const { device } = await acquireDevice(nodeGpu());
  const mem = new GpuMemory(device);
  const [hd, qHeads, kHeads, tokens, pos0] = [8, 3, 1, 5, 7];
  const half = hd / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / 10000 ** ((2 * i) / hd));
  const q = Float32Array.from({ length: tokens * qHeads * hd }, (_, i) => Math.sin(i));
  const k = Float32Array.from({ length: tokens * kHeads * hd }, (_, i) => Math.cos(i));
  const bq = mem.upload('activations', 'q', q, GPUBufferUsage.COPY_SRC);
  const bk = mem.upload('activations', 'k', k, GPUBufferUsage.COPY_SRC);
  const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(step, 0, new Uint32Array([tokens, pos0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]));
  const ctx = { device, pipelines: new PipelineCache(device, nodeShaders()), step, empty: step, workgroupBytes: device.limits.maxComputeWorkgroupStorageSize };
  const op = ropeOp(ctx, {
    q: bq,
    k: bk,
    table: mem.upload('activations', 't', ropeTable(inv, pos0 + tokens)),
    headDim: hd,
    qHeads,
    kHeads,
    qStride: qHeads * hd,
    kStride: kHeads * hd,
    interleaved,
  });
  const read = mem.create('staging', 'r', q.byteLength, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, [op], tokens);
  pass.end();
  enc.copyBufferToBuffer(bq, 0, read, 0, q.byteLength);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < qHeads; h++) {
      for (let i = 0; i < half; i++) {
        const base = (t * qHeads + h) * hd;
        const [a, b] = interleaved ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        const angle = (pos0 + t) * inv[i];
        expect(got[a]).toBeCloseTo(q[a] * Math.cos(angle) - q[b] * Math.sin(angle), 5);
        expect(got[b]).toBeCloseTo(q[b] * Math.cos(angle) + q[a] * Math.sin(angle), 5);
      }
    }
  }
  mem.releaseAll();
  device.destroy();
});
