// The tiled-family decode GEMV (linear-gemv.wgsl) against a direct CPU product on the same packed weights,
// for every weight format and lane layouts the models of the GPU tests do not all reach: 4 lanes along K
// (narrower than lavapipe's 8-lane subgroups, so the butterfly stops inside a subgroup), 8, and the whole
// workgroup (16 chunks of a 4-lane subgroup on SwiftShader), 1, 4 and 2 rows per lane, with and without
// subgroups, a row count no workgroup divides, two tokens, and the fused RMSNorm and RoPE; then f16 math
// where the device has shader-f16, also with activations of a few thousand.

import { afterAll, describe, expect, it } from 'vitest';
import { acquireDevice, type AcquiredDevice } from '../device';
import { uploadMatrix } from '../gpu-matrix';
import { GpuMemory } from '../memory';
import { nodeGpu, nodeShaders } from '../node-gpu';
import { PipelineCache } from '../pipelines';
import { packMatrix, unpackMatrix, PACK_FORMATS, type PackFormat } from '../../quant/weight-format';
import { encodeDispatches, STEP_BYTES, type OpContext } from './dispatch';
import { linearOps, type GemvLayout, type LinearArgs } from './linear';
import { ropeTable } from './rope';

/** One device with subgroups and one without, each with its pipeline cache. */
const devices = new Map<boolean, { acquired: AcquiredDevice; pipelines: PipelineCache }>();
afterAll(() => devices.forEach((d) => d.acquired.device.destroy()));

async function deviceWith(subgroups: boolean) {
  let d = devices.get(subgroups);
  if (!d) {
    const acquired = await acquireDevice(nodeGpu(), { subgroups });
    d = { acquired, pipelines: new PipelineCache(acquired.device, nodeShaders()) };
    devices.set(subgroups, d);
  }
  return d;
}

type Fuse = 'none' | 'norm' | 'rope';
const [COLS, TOKENS, POS0] = [1000, 2, 3];
const HEAD_DIM = 32;
/** 44 rows (no layout's rows per workgroup divide it), or with RoPE 3 heads of 32 (every layout's rotate-half pairs tile a half). */
const rowsFor = (fuse: Fuse) => (fuse === 'rope' ? 3 * HEAD_DIM : 44);
type F32 = Float32Array<ArrayBuffer>;
const EPS = 1e-5;

function rand(n: number, seed: number): F32 {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

/** y = W x for TOKENS tokens on the GPU; `norm` and `rope` fused as the decoder uses them. */
async function gpuGemv(format: PackFormat, layout: GemvLayout, subgroups: boolean, fuse: Fuse, x: F32, gamma: F32, inv: Float64Array, f16 = false) {
  const ROWS = rowsFor(fuse);
  const { acquired, pipelines } = await deviceWith(subgroups);
  const { device } = acquired;
  expect(acquired.features.subgroups).toBe(subgroups);
  const mem = new GpuMemory(device);
  const packed = packMatrix(rand(ROWS * COLS, 7), ROWS, COLS, format);
  const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(step, 0, new Uint32Array([TOKENS, POS0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]));
  const ctx: OpContext = {
    device,
    pipelines,
    step,
    empty: mem.create('activations', 'empty', 16, GPUBufferUsage.STORAGE),
    workgroupBytes: device.limits.maxComputeWorkgroupStorageSize,
    kernels: 'tiled',
    subgroups,
    f16,
  };
  const y = mem.create('activations', 'y', TOKENS * ROWS * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const args: LinearArgs = {
    x: mem.upload('activations', 'x', x),
    y,
    bias: null,
    xStride: 1024, // pad32(COLS): the padding columns are zero
    yStride: ROWS,
    tileM: 1,
    accumulate: false,
    lastOnly: false,
    gemvLayout: layout,
    norm: fuse === 'norm' ? { gamma: mem.upload('activations', 'gamma', gamma), d: COLS, eps: EPS } : undefined,
    rope: fuse === 'rope' ? { table: mem.upload('activations', 'rope', ropeTable(inv, POS0 + TOKENS)), headDim: HEAD_DIM } : undefined,
  };
  const ops = linearOps(ctx, 'w', uploadMatrix(mem, 'w', packed, 1 << 30), args);
  const read = mem.create('staging', 'r', TOKENS * ROWS * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, ops, TOKENS);
  pass.end();
  enc.copyBufferToBuffer(y, 0, read, 0, TOKENS * ROWS * 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  mem.releaseAll();
  return { got, w: unpackMatrix(packed) };
}

/** The same product in f64 on the CPU. */
function cpuGemv(w: Float32Array, x: F32, gamma: F32, fuse: Fuse, inv: Float64Array): Float64Array {
  const ROWS = rowsFor(fuse);
  const out = new Float64Array(TOKENS * ROWS);
  for (let t = 0; t < TOKENS; t++) {
    const xt = Array.from({ length: COLS }, (_, k) => x[t * 1024 + k]);
    const rms = fuse === 'norm' ? 1 / Math.sqrt(xt.reduce((s, v) => s + v * v, 0) / COLS + EPS) : 1;
    const xs = fuse === 'norm' ? xt.map((v, k) => v * gamma[k] * rms) : xt;
    const raw = Array.from({ length: ROWS }, (_, r) => xs.reduce((s, v, k) => s + w[r * COLS + k] * v, 0));
    for (let r = 0; r < ROWS; r++) {
      let v = raw[r];
      if (fuse === 'rope') {
        const half = HEAD_DIM / 2;
        const [i, first] = [r % half, r % HEAD_DIM < half];
        const angle = (POS0 + t) * inv[i];
        const partner = raw[first ? r + half : r - half];
        v = first ? v * Math.cos(angle) - partner * Math.sin(angle) : v * Math.cos(angle) + partner * Math.sin(angle);
      }
      out[t * ROWS + r] = v;
    }
  }
  return out;
}

const LAYOUTS: GemvLayout[] = [
  { kLanes: 4, laneRows: 1 },
  { kLanes: 8, laneRows: 4 },
  { kLanes: 64, laneRows: 2 },
];

function inputs() {
  const x = new Float32Array(TOKENS * 1024);
  x.set(rand(COLS, 11), 0);
  x.set(rand(COLS, 13), 1024);
  const gamma = Float32Array.from(rand(1024, 17), (v, k) => (k < COLS ? 1 + v / 2 : 0));
  const inv = Float64Array.from({ length: HEAD_DIM / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / HEAD_DIM));
  return { x, gamma, inv };
}

/** Largest difference from the CPU product, relative to its largest value. */
function relativeError(got: Float32Array, want: Float64Array): number {
  const scale = Math.max(...want.map(Math.abs));
  expect(scale).toBeGreaterThan(1);
  return Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]))) / scale;
}

describe.each(PACK_FORMATS)('%s weights', (format) => {
  it.each(LAYOUTS.flatMap((l) => [true, false].map((sg) => [l.kLanes, l.laneRows, sg] as const)))(
    '%i lanes along K, %i rows per lane, subgroups %s: plain, fused norm and fused RoPE equal the CPU product',
    async (kLanes, laneRows, subgroups) => {
      const { x, gamma, inv } = inputs();
      for (const fuse of ['none', 'norm', 'rope'] satisfies Fuse[]) {
        const { got, w } = await gpuGemv(format, { kLanes, laneRows }, subgroups, fuse, x, gamma, inv);
        expect(relativeError(got, cpuGemv(w, x, gamma, fuse, inv)), fuse).toBeLessThan(1e-5);
      }
    },
  );

  it('f16 math (lavapipe has shader-f16; SwiftShader does not, and skips): within 2e-3 of the CPU product, and really in f16', async () => {
    const { acquired } = await deviceWith(true);
    if (!acquired.features.shaderF16) return;
    const { x, gamma, inv } = inputs();
    // Activations of a few thousand (residual streams reach that) must not overflow f16's 65,504 in a 4-term dot.
    const large = x.map((v) => v * 3000);
    for (const [fuse, xs] of [
      ['none', x],
      ['norm', x],
      ['none', large],
    ] as const) {
      const { got, w } = await gpuGemv(format, { kLanes: 8, laneRows: 4 }, true, fuse, xs, gamma, inv, true);
      const err = relativeError(got, cpuGemv(w, xs, gamma, fuse, inv));
      console.log(`${format} weights, ${fuse}, |x| up to ${Math.max(...xs.map(Math.abs)).toFixed(0)}: f16 math ${err.toExponential(2)} of the largest value`);
      expect(err, fuse).toBeLessThan(2e-3);
      expect(err, fuse).toBeGreaterThan(1e-5); // f32 math stays below this (the test above)
    }
  });
});
