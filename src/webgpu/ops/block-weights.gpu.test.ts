// GGUF block formats read as stored (shaders/include/weights-<format>.wgsl) by every kernel that reads weights
// as a matrix: the rowwise linear (w8, 4-token tiles), the tiled GEMV (w_dot), the tiled GEMM (w8 into tiles),
// the embedding gather and the gate/up pair with two different formats. Each against an f64 product on the
// CPU decoder's values of the same bytes (src/model/tensor-encoding.ts, checked against ggml's definitions).
// Rows of an odd number of blocks put blocks on unaligned bytes (Q6_K, Q3_K: 2 mod 4) and pad rows.

import { afterAll, describe, expect, it } from 'vitest';
import { blockEncoding, blockRows, BLOCK_FORMATS, type BlockFormat } from '../../quant/block-format';
import { matrixShape, unpackMatrix, type PackedMatrix } from '../../quant/weight-format';
import { blockValues } from '../../model/tensor-encoding';
import { geluTanh } from '../../reference/ops';
import { quantizeGgml } from '../../test-support/ggml-quantize';
import { acquireDevice, type AcquiredDevice } from '../device';
import { uploadMatrix } from '../gpu-matrix';
import { GpuMemory } from '../memory';
import { nodeGpu, nodeShaders } from '../node-gpu';
import { PipelineCache } from '../pipelines';
import { encodeDispatches, STEP_BYTES, type OpContext } from './dispatch';
import { embedOps } from './embed';
import { gateUpOps } from './gate-up';
import { linearOps, SHORT_GEMM_TILE } from './linear';

let acquired: AcquiredDevice | undefined;
afterAll(() => acquired?.device.destroy());

const ROWS = 37;
const TOKENS = 5;

function rand(n: number, seed: number): Float32Array<ArrayBuffer> {
  let s = seed;
  // Gaussian-ish with a few outliers, as real weights have (they set the block scales).
  return Float32Array.from({ length: n }, (_, i) => (((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1) * (i % 61 === 0 ? 6 : 1));
}

/** A [rows, cols] matrix written by the GGUF test quantizer and kept in its block format. */
function blockMatrix(format: BlockFormat, rows: number, cols: number, seed: number): PackedMatrix {
  const bytes = quantizeGgml(blockEncoding(format), rand(rows * cols, seed));
  return { ...matrixShape(format, rows, cols), data: blockRows(format, bytes, rows, cols), scales: null };
}

/** Three blocks per row for the 256-weight types, 25 for the 32-weight ones: both odd. */
const colsOf = (f: BlockFormat) => (blockValues(blockEncoding(f)) === 256 ? 768 : 800);

async function context(kernels: 'rowwise' | 'tiled') {
  acquired ??= await acquireDevice(nodeGpu());
  const { device } = acquired;
  const mem = new GpuMemory(device);
  const step = mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(step, 0, new Uint32Array([TOKENS, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]));
  const ctx: OpContext = {
    device,
    pipelines: new PipelineCache(device, nodeShaders()),
    step,
    empty: mem.create('activations', 'empty', 16, GPUBufferUsage.STORAGE),
    workgroupBytes: device.limits.maxComputeWorkgroupStorageSize,
    kernels,
    subgroups: false,
  };
  return { ctx, mem, device };
}

async function run(device: GPUDevice, mem: GpuMemory, ops: ReturnType<typeof linearOps>, y: GPUBuffer, floats: number): Promise<Float32Array> {
  const read = mem.create('staging', 'r', floats * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, ops, TOKENS);
  pass.end();
  enc.copyBufferToBuffer(y, 0, read, 0, floats * 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  mem.releaseAll();
  return got;
}

/** x: TOKENS rows of `cols` values; y = W x per token in f64. */
function cpuProduct(w: Float32Array, rows: number, cols: number, x: Float32Array): Float64Array {
  const y = new Float64Array(TOKENS * rows);
  for (let t = 0; t < TOKENS; t++) for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) y[t * rows + r] += w[r * cols + k] * x[t * cols + k];
  return y;
}

function relativeError(got: Float32Array, want: Float64Array | Float32Array): number {
  const scale = Math.max(...Array.from(want, Math.abs));
  expect(scale).toBeGreaterThan(0.1);
  return Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]))) / scale;
}

/** Relative error of W x on the GPU (one kernel variant) against the CPU product, W a random [rows, cols] block matrix. */
type Variant = readonly ['rowwise' | 'tiled', number, number | undefined];

async function linearError(format: BlockFormat, rows: number, cols: number, [kernels, tileM, gemmTokens]: Variant, seed: number) {
  const { ctx, mem, device } = await context(kernels);
  const packed = blockMatrix(format, rows, cols, seed);
  const x = rand(TOKENS * cols, seed + 4);
  const y = mem.create('activations', 'y', TOKENS * rows * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const ops = linearOps(ctx, 'w', uploadMatrix(mem, 'w', packed, 1 << 30), {
    x: mem.upload('activations', 'x', x),
    y,
    bias: null,
    xStride: cols,
    yStride: rows,
    tileM,
    accumulate: false,
    lastOnly: false,
    gemmTokens,
  });
  const got = await run(device, mem, ops, y, TOKENS * rows);
  return relativeError(got, cpuProduct(unpackMatrix(packed), rows, cols, x));
}

const VARIANTS: Variant[] = [
  ['rowwise', 4, undefined],
  ['tiled', 1, undefined], // the decode GEMV
  ['tiled', 4, SHORT_GEMM_TILE], // the prefill GEMM
];

describe.each(BLOCK_FORMATS)('%s weights as stored', (format) => {
  const cols = colsOf(format);

  it.each(VARIANTS)('%s kernels, %i tokens per tile: W x equals the CPU product on the decoded values', async (...variant) => {
    expect(await linearError(format, ROWS, cols, variant, 7)).toBeLessThan(1e-5);
  });

  it('the embedding gather returns the decoded rows exactly', async () => {
    const { ctx, mem, device } = await context('rowwise');
    const packed = blockMatrix(format, ROWS, cols, 5);
    const ids = [3, 36, 0, 17, 3];
    const h = mem.create('activations', 'h', TOKENS * cols * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const ops = embedOps(ctx, uploadMatrix(mem, 'e', packed, 1 << 30), mem.upload('activations', 'ids', new Uint32Array(ids)), h, cols);
    const got = await run(device, mem, ops, h, TOKENS * cols);
    const w = unpackMatrix(packed);
    expect([...got]).toEqual(ids.flatMap((id) => [...w.subarray(id * cols, (id + 1) * cols)]));
  });
});

describe('real widths: rows of 8,192 and 14,336 weights (Llama-3-8B: hidden, and FFN width for ffn_down)', () => {
  it.each([
    ['q4_k', 8192],
    ['q6_k', 14336], // 56 super-blocks: 11,760 bytes a row, blocks on every even byte
    ['q3_k', 8192],
    ['iq4_xs', 8192],
  ] as const)('%s, %i columns: every kernel family equals the CPU product', async (format, cols) => {
    for (const variant of VARIANTS) expect(await linearError(format, 24, cols, variant, 31), `${variant[0]} ${variant[1]}`).toBeLessThan(1e-5);
  });
});

/**
 * act(g) * u on the GPU against the CPU, in every kernel family, for a gate and an up in block formats `gf` / `uf`
 * and inputs scaled by `xScale`; `check` sees the CPU gate values first.
 */
async function expectGateUp(gf: BlockFormat, uf: BlockFormat, gelu: boolean, xScale: number, check: (g: Float64Array) => void = () => {}) {
  const cols = 768;
  for (const [kernels, tileM, gemmTokens] of VARIANTS) {
    const { ctx, mem, device } = await context(kernels);
    const gate = blockMatrix(gf, ROWS, cols, 21);
    const up = blockMatrix(uf, ROWS, cols, 23);
    const x = rand(TOKENS * cols, 29).map((v) => v * xScale);
    const y = mem.create('activations', 'y', TOKENS * ROWS * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const ops = gateUpOps(ctx, 'gu', uploadMatrix(mem, 'g', gate, 1 << 30), uploadMatrix(mem, 'u', up, 1 << 30), {
      x: mem.upload('activations', 'x', x),
      y,
      xStride: cols,
      yStride: ROWS,
      tileM,
      gemmTokens,
      gelu,
    });
    const got = await run(device, mem, ops, y, TOKENS * ROWS);
    const g = cpuProduct(unpackMatrix(gate), ROWS, cols, x);
    const u = cpuProduct(unpackMatrix(up), ROWS, cols, x);
    check(g);
    const want = g.map((v, i) => (gelu ? geluTanh(v) : v / (1 + Math.exp(-v))) * u[i]);
    expect(relativeError(got, want), `${kernels} ${tileM}`).toBeLessThan(1e-5);
  }
}

describe('gate and up stored in two formats (a file may mix them)', () => {
  it.each([
    ['q4_k', 'q6_k'],
    ['q3_k', 'iq4_xs'],
  ] as const)('%s gate, %s up: silu(g) * u equals the CPU values in every kernel family', async (gf, uf) => {
    await expectGateUp(gf, uf, false, 1);
  });
});

describe("Gemma's GeGLU where the gate is large", () => {
  // The tanh argument passes 44 once |g| reaches about 10, where an exp-based tanh (SwiftShader's) overflows to
  // inf / inf = NaN. Real Gemma activations reach such gates; random Gemma-3-4B-shaped weights in q4 did.
  it("gelu_tanh(g) * u stays finite and equals the CPU values in every kernel family, with gates past ±12 (tanh's argument past 44)", async () => {
    await expectGateUp('q4_k', 'q4_k', true, 4, (g) => expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(12));
  });
});
