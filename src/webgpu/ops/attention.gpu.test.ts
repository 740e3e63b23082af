// The tiled-family attention kernel (attention-flash.wgsl, then attention-merge.wgsl) on its own, against
// a direct f64 softmax attention: real head dimensions (64, 128) and query groups (1, 4, 7), past keys in a
// paged fp16 (or f32) pool whose page table is not in order, the step's own keys exact, several key chunks,
// decode (one token) and prompt slices of more than one query tile, a sliding window, keys with outliers of a
// few hundred in 4 dimensions (as Qwen2's K biases make them). f32 queries within 1e-5 of the largest output (1e-4 with the outliers);
// f16-staged queries where the device has shader-f16 (lavapipe) within 1e-3 (1e-2), and measurably off the
// f32 result (so the f16 path really ran).

import { afterAll, describe, expect, it } from 'vitest';
import { acquireDevice, type AcquiredDevice } from '../device';
import { GpuMemory } from '../memory';
import { nodeGpu, nodeShaders } from '../node-gpu';
import { PipelineCache } from '../pipelines';
import { f16BitsToF32, f32ToF16Bits } from '../../quant/f16';
import { encodeDispatches, STEP_BYTES, type OpContext } from './dispatch';
import { limitedGpu } from '../../test-support/limited-gpu';
import { flashAttentionBytes, flashQueryTokens, layerAttentionOps, type AttentionSpec } from './attention';

/** Per workgroup-memory limit (0: the adapter's own) a device and its pipeline cache. */
const devices = new Map<number, { acquired: AcquiredDevice; pipelines: PipelineCache }>();
afterAll(() => devices.forEach((d) => d.acquired.device.destroy()));

async function device(limit = 0) {
  let d = devices.get(limit);
  if (!d) {
    const gpu = limit ? limitedGpu(nodeGpu(), { maxComputeWorkgroupStorageSize: limit }) : nodeGpu();
    const acquired = await acquireDevice(gpu, { subgroups: false });
    d = { acquired, pipelines: new PipelineCache(acquired.device, nodeShaders()) };
    devices.set(limit, d);
  }
  return d;
}

type F32 = Float32Array<ArrayBuffer>;
const PAGE = 16;

function rand(n: number, seed: number, scale = 1): F32 {
  let s = seed;
  return Float32Array.from({ length: n }, () => (((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1) * scale);
}

interface Case {
  spec: AttentionSpec;
  past: number;
  tokens: number;
  chunks: number;
  kvF16: boolean;
  /** Keys of about ±300 in dimensions 0-3 of every head, queries of about ±3 there. */
  outliers?: boolean;
}

/** Query, past and current K/V of a case; past rows rounded to f16 where the pool holds f16, as the GPU reads them. */
function inputs(c: Case) {
  const { headDim, numHeads, numKvHeads } = c.spec;
  const kvDim = numKvHeads * headDim;
  const all = c.past + c.tokens;
  const round = (x: F32) => (c.kvF16 ? x.map((v, i) => (i < c.past * kvDim ? f16BitsToF32(f32ToF16Bits(v)) : v)) : x);
  // Keys of a few units: scores of several units after scaling, so the softmax is far from uniform.
  const q = rand(c.tokens * numHeads * headDim, 3, 2);
  const k = rand(all * kvDim, 5, 2);
  if (c.outliers) {
    const big = rand(all * kvDim, 11, 300);
    for (let i = 0; i < k.length; i++) if (i % headDim < 4) k[i] = big[i];
    for (let i = 0; i < q.length; i++) if (i % headDim < 4) q[i] *= 1.5;
  }
  return { q, k: round(k), v: round(rand(all * kvDim, 7)) };
}

function cpuAttention(c: Case, x: ReturnType<typeof inputs>): Float64Array {
  const { headDim: hd, numHeads, numKvHeads, slidingWindow } = c.spec;
  const kvDim = numKvHeads * hd;
  const out = new Float64Array(c.tokens * numHeads * hd);
  for (let m = 0; m < c.tokens; m++) {
    const pos = c.past + m;
    const lo = slidingWindow ? Math.max(0, pos + 1 - slidingWindow) : 0;
    for (let h = 0; h < numHeads; h++) {
      const kvOff = Math.floor(h / (numHeads / numKvHeads)) * hd;
      const qOff = (m * numHeads + h) * hd;
      const scores: number[] = [];
      for (let t = lo; t <= pos; t++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += x.q[qOff + d] * x.k[t * kvDim + kvOff + d];
        scores.push(s / Math.sqrt(hd));
      }
      const top = Math.max(...scores);
      const p = scores.map((s) => Math.exp(s - top));
      const sum = p.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let i = 0; i < p.length; i++) acc += p[i] * x.v[(lo + i) * kvDim + kvOff + d];
        out[qOff + d] = acc / sum;
      }
    }
  }
  return out;
}

async function gpuAttention(c: Case, x: ReturnType<typeof inputs>, f16: boolean, limit = 0): Promise<Float32Array> {
  const { acquired, pipelines } = await device(limit);
  const { device: dev } = acquired;
  const mem = new GpuMemory(dev);
  const { headDim: hd, numHeads, numKvHeads } = c.spec;
  const kvDim = numKvHeads * hd;
  const all = c.past + c.tokens;
  const chunkLen = Math.ceil(all / c.chunks);
  const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  dev.queue.writeBuffer(step, 0, new Uint32Array([c.tokens, c.past, c.chunks, chunkLen, 1, 1, 0, 0, 0, 0, 0, 0]));
  const ctx: OpContext = {
    device: dev,
    pipelines,
    step,
    empty: mem.create('activations', 'empty', 16, GPUBufferUsage.STORAGE),
    workgroupBytes: dev.limits.maxComputeWorkgroupStorageSize,
    kernels: 'tiled',
    f16,
  };
  // Pages in reverse order: slot of token t = pages[t / PAGE] * PAGE + t % PAGE.
  const pageCount = Math.ceil(c.past / PAGE) + 1;
  const pages = Uint32Array.from({ length: pageCount }, (_, i) => pageCount - 1 - i);
  const words = c.kvF16 ? kvDim / 2 : kvDim;
  const pool = (src: F32) => {
    const p = new Uint32Array(pageCount * PAGE * words);
    const f = new Float32Array(p.buffer);
    for (let t = 0; t < c.past; t++) {
      const slot = pages[Math.floor(t / PAGE)] * PAGE + (t % PAGE);
      for (let i = 0; i < kvDim; i++) {
        const v = src[t * kvDim + i];
        if (!c.kvF16) f[slot * kvDim + i] = v;
        else p[slot * words + (i >> 1)] |= f32ToF16Bits(v) << (16 * (i & 1));
      }
    }
    return mem.upload('cache', 'pool', p);
  };
  const out = mem.create('activations', 'out', c.tokens * numHeads * hd * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const rows = {
    q: mem.upload('activations', 'q', x.q),
    k: mem.upload('activations', 'k', x.k.slice(c.past * kvDim)),
    v: mem.upload('activations', 'v', x.v.slice(c.past * kvDim)),
    partial: mem.create('activations', 'partial', c.tokens * numHeads * c.chunks * (hd + 2) * 4, GPUBufferUsage.STORAGE),
    out,
    qStride: numHeads * hd,
    kvStride: kvDim,
  };
  const store = { pages: mem.upload('cache', 'pages', pages), kPool: pool(x.k), vPool: pool(x.v), page: PAGE, kvF16: c.kvF16 };
  const ops = layerAttentionOps(ctx, c.spec, rows, store, false, false, c.tokens === 1);
  expect(ops[0].label).toBe('attention-flash');
  const read = mem.create('staging', 'read', c.tokens * numHeads * hd * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, ops, c.tokens, { chunks: c.chunks, xChunks: 1, firstKey: 0, rematFrom: 0 });
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, c.tokens * numHeads * hd * 4);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  mem.releaseAll();
  return got;
}

/** Largest difference relative to the largest output. */
function relError(got: Float32Array, want: Float64Array): number {
  let diff = 0;
  let top = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    top = Math.max(top, Math.abs(want[i]));
  }
  return diff / top;
}

const spec = (headDim: number, numHeads: number, numKvHeads: number, slidingWindow: number | null = null): AttentionSpec => ({
  headDim,
  numHeads,
  numKvHeads,
  slidingWindow,
});

const CASES: [string, Case][] = [
  ['head 64, group 4 (Llama-3.2-1B), decode', { spec: spec(64, 32, 8), past: 300, tokens: 1, chunks: 3, kvF16: true }],
  ['head 64, group 4, prompt slice of 11 (two query tiles)', { spec: spec(64, 32, 8), past: 300, tokens: 11, chunks: 3, kvF16: true }],
  ['head 128, group 4 (Llama-3.1-8B), decode', { spec: spec(128, 32, 8), past: 200, tokens: 1, chunks: 2, kvF16: true }],
  ['head 128, group 4, prompt slice of 9', { spec: spec(128, 32, 8), past: 200, tokens: 9, chunks: 2, kvF16: true }],
  ['head 64, group 1 (MHA), prompt slice of 40, f32 pool', { spec: spec(64, 8, 8), past: 90, tokens: 40, chunks: 2, kvF16: false }],
  ['head 64, group 7 (Qwen2.5-0.5B), sliding window 100', { spec: spec(64, 14, 2, 100), past: 250, tokens: 6, chunks: 2, kvF16: true }],
  ['head 128, group 4, keys with outliers of ~300', { spec: spec(128, 32, 8), past: 200, tokens: 3, chunks: 2, kvF16: true, outliers: true }],
];

describe('attention-flash against an f64 softmax attention', () => {
  // Scores of a few hundred carry f32 rounding of a few 1e-5 into the softmax.
  it.each(CASES)('%s: f32 within 1e-5 (outliers 1e-4)', async (_, c) => {
    const x = inputs(c);
    const err = relError(await gpuAttention(c, x, false), cpuAttention(c, x));
    expect(err).toBeLessThan(c.outliers ? 1e-4 : 1e-5);
  });

  // With the outliers, rounding q to f16 moves scores of hundreds by a few hundredths: 3.7e-3 measured; f16 q·k
  // dots (which this kernel once had) gave 5.9e-2.
  it.each(CASES)('%s: f16-staged queries within 1e-3 (outliers 1e-2) where the device has shader-f16', async (_, c) => {
    const { acquired } = await device();
    if (!acquired.features.shaderF16) return;
    const x = inputs(c);
    const want = cpuAttention(c, x);
    const [err16, err32] = [relError(await gpuAttention(c, x, true), want), relError(await gpuAttention(c, x, false), want)];
    console.log(`f16 ${err16.toExponential(2)}, f32 ${err32.toExponential(2)}`);
    expect(err16).toBeLessThan(c.outliers ? 1e-2 : 1e-3);
    expect(err16).toBeGreaterThan(10 * err32);
  });

  it('f16-staged queries fit more query rows into 16 KiB (the flash tile is bounded by its queries and scores)', () => {
    const s = spec(128, 32, 8);
    expect(flashQueryTokens(s, 16384, false, false)).toBe(5); // 20 rows of 780 bytes
    expect(flashQueryTokens(s, 16384, false, true)).toBe(7); // 28 rows of 524 bytes
  });

  it('Qwen2.5-7B (head 128, group 7) at 16 KiB: the tile fits as WebGPU counts it (each array rounded to 16 bytes)', async () => {
    const c: Case = { spec: spec(128, 28, 4), past: 100, tokens: 5, chunks: 1, kvF16: true };
    // 3 tokens (21 rows) take 16,380 bytes summed but 16,416 as Dawn counts them; 2 tokens fit.
    expect(flashQueryTokens(c.spec, 16384)).toBe(2);
    expect(flashAttentionBytes(c.spec, 3)).toBe(16416);
    const x = inputs(c);
    expect(relError(await gpuAttention(c, x, false, 16384), cpuAttention(c, x))).toBeLessThan(1e-5);
  });
});
