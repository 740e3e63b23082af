// The helpers every kernel shares (common.wgsl, quantize.wgsl): the f16 helpers against the reference's TypeScript
// (src/quant/f16.ts), bit for bit. They are integer code because WGSL leaves pack2x16float's rounding to
// the implementation and Mesa's llvmpipe folds unpack2x16float(pack2x16float(v)) to v: with the built-ins,
// f16_floor / f16_ceil were wrong for half of all inputs there, and every xquant mode drifted from the
// reference from its first token.
// And chunk_keys, the attention kernels' split of a query's keys over chunks.

import { expect, it } from 'vitest';
import { f16BitsToF32, f16CeilBits, f16FloorBits, f32ToF16Bits } from '../quant/f16';
import { acquireDevice } from './device';
import { nodeGpu, nodeShaders } from './node-gpu';
import { composeKernel } from './shader-library';

/** A kernel over `inp`, `stride` u32 inputs and four u32 outputs an invocation, running `body` for invocation i. */
const probeKernel = (stride: number, body: string) => `
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>; // quantize.wgsl's code writer names it
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (${stride}u * i >= arrayLength(&inp)) { return; }
${body}
}`;

const PROBE = probeKernel(
  1,
  `  let v = bitcast<f32>(inp[i]);
  out[4u * i] = f16_bits(v);
  out[4u * i + 1u] = f16_floor(v);
  out[4u * i + 2u] = f16_ceil(v);
  out[4u * i + 3u] = bitcast<u32>(f16_value(inp[i] & 0xffffu));`,
);

/**
 * Inputs: every third f16 value, the midpoints between neighbours (ties), values a hair around them,
 * overflow. Not f32 subnormals: drivers may flush them to zero (SwiftShader does), as WGSL allows.
 */
function inputs(): Uint32Array<ArrayBuffer> {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out: number[] = [];
  for (let h = 0; h < 0x10000; h += 3) {
    const v = f16BitsToF32(h);
    if (!Number.isFinite(v)) continue;
    const next = f16BitsToF32(h + 1 < 0x10000 && (h & 0x7fff) < 0x7bff ? h + 1 : h);
    for (const x of [v, (v + next) / 2]) {
      f[0] = x;
      out.push(u[0], u[0] + 1, u[0] - 1);
    }
  }
  out.push(0x477fe000, 0x477ff000, 0x47800000, 0xc7800000, 0x7f7fffff, 0x33000000, 0x33000001, 0xb3000000);
  const exp = (x: number) => (x >>> 23) & 0xff;
  return Uint32Array.from(out.filter((x) => x >= 0 && x <= 0xffffffff && exp(x) !== 0xff && (exp(x) !== 0 || (x & 0x7fffff) === 0)));
}

/** Run `probe` (a kernel over `inp`, four u32 outputs per input) with the quantize prefix. */
async function runProbe(probe: string, inp: Uint32Array<ArrayBuffer>): Promise<Uint32Array> {
  const { device } = await acquireDevice(nodeGpu());
  const code = composeKernel({ ...nodeShaders(), 'f16-probe': probe }, { op: 'f16-probe', prefixes: ['quantize'], consts: {} });
  const n = inp.length;
  const buffer = (size: number, usage: number) => device.createBuffer({ size, usage });
  const ib = buffer(n * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(ib, 0, inp);
  const ob = buffer(n * 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const rb = buffer(n * 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 1, resource: { buffer: ib } },
      { binding: 2, resource: { buffer: ob } },
    ],
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  enc.copyBufferToBuffer(ob, 0, rb, 0, n * 16);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const got = new Uint32Array(rb.getMappedRange().slice(0));
  device.destroy();
  return got;
}

it('f16_bits, f16_floor, f16_ceil and f16_value equal the reference bit for bit', async () => {
  const inp = inputs();
  const n = inp.length;
  const got = await runProbe(PROBE, inp);
  const f = new Float32Array(inp.buffer);
  const wrong: string[] = [];
  for (let i = 0; i < n && wrong.length < 5; i++) {
    const v = f[i];
    const want = [f32ToF16Bits(v), f16FloorBits(v), f16CeilBits(v)];
    const value = f16BitsToF32(inp[i] & 0xffff);
    const gotValue = new Float32Array(Uint32Array.of(got[4 * i + 3]).buffer)[0];
    if (want.some((w, j) => got[4 * i + j] !== w) || !(Object.is(gotValue, value) || (Number.isNaN(value) && Number.isNaN(gotValue)))) {
      wrong.push(`${v}: got ${[...got.subarray(4 * i, 4 * i + 3)].map((x) => x.toString(16))} ${gotValue}, want ${want.map((x) => x.toString(16))} ${value}`);
    }
  }
  expect(n).toBeGreaterThan(100_000);
  expect(wrong).toEqual([]);
});

it("group_scale gives the reference quantizer's f16 scale and zero for every bit width, division rounding or not", async () => {
  // Groups (lo, hi) whose scale quotient lands within a few f32 ulps of an f16 value, where a GPU's
  // inexact division (WGSL allows 2.5 ulp) would pick the neighbouring f16, plus random groups.
  const pairs: number[] = [];
  const f = new Float32Array(2);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 4096; i++) {
    const bits = [2, 3, 4, 8][i % 4];
    const levels = (1 << bits) - 1;
    f[0] = -4 * rand();
    const zero = f16BitsToF32(f16FloorBits(f[0]));
    const grid = f16BitsToF32(0x2000 + Math.floor(rand() * 0x4000)); // a positive f16 scale
    const target = zero + grid * levels;
    f[1] = i % 8 < 6 ? target * (1 + (Math.floor(rand() * 7) - 3) * 2 ** -24) : zero + 8 * rand();
    pairs.push(f[0], f[1], bits);
  }
  const inp = new Uint32Array(pairs.length);
  const view = new Float32Array(inp.buffer);
  pairs.forEach((v, i) => (i % 3 === 2 ? (inp[i] = v) : (view[i] = v)));
  const probe = probeKernel(3, `  out[4u * i] = group_scale(bitcast<f32>(inp[3u * i]), bitcast<f32>(inp[3u * i + 1u]), inp[3u * i + 2u]).packed;`);
  const got = await runProbe(probe, inp);
  const wrong: string[] = [];
  for (let i = 0; i < pairs.length / 3 && wrong.length < 5; i++) {
    const [lo, hi, bits] = [view[3 * i], view[3 * i + 1], inp[3 * i + 2]];
    const zeroBits = f16FloorBits(lo);
    const want = ((zeroBits << 16) | f16CeilBits((hi - f16BitsToF32(zeroBits)) / ((1 << bits) - 1))) >>> 0;
    if (got[4 * i] !== want) wrong.push(`[${lo}, ${hi}] ${bits} bits: got ${got[4 * i].toString(16)}, want ${want.toString(16)}`);
  }
  expect(wrong).toEqual([]);
});

it("chunk_keys covers each query's keys once; under a sliding window its chunks split the window itself", async () => {
  // (chunks, len, start, end, qpos, window): the forward's split, the range a query sees, its window.
  const cases = [
    [64, 512, 0, 32768, 32767, 512], // Gemma 3's local layer at 32K, decode: the window over every chunk
    [64, 512, 0, 32768, 32767, 0], // a global layer: the forward's split
    [16, 57, 0, 900, 899, 128], // the ring tests' shape
    [16, 57, 700, 901, 900, 128], // OWN_ONLY: keys from first_key on, the window starting after it
    [16, 57, 0, 901, 900, 1024], // a window longer than the context
    [5, 3, 0, 10, 9, 4], // fewer keys than chunks' lengths would cover
    [7, 1, 0, 3, 2, 8], // more chunks than keys
    [8, 64, 0, 300, 299, 0],
  ];
  const inp = new Uint32Array(cases.reduce((n, k) => n + k[0], 0) * 8);
  let i = 0;
  for (const k of cases) for (let c = 0; c < k[0]; c++, i++) inp.set([c, ...k], 8 * i);
  const probe = probeKernel(
    8,
    `  let a = 8u * i;
  let r = chunk_keys(inp[a], inp[a + 1u], inp[a + 2u], inp[a + 3u], inp[a + 4u], inp[a + 5u], inp[a + 6u]);
  out[4u * i] = r.x;
  out[4u * i + 1u] = r.y;`,
  );
  const got = await runProbe(probe, inp);
  i = 0;
  for (const [chunks, len, start, end, qpos, window] of cases) {
    const first = window > 0 ? Math.max(start, qpos + 1 - window) : start;
    const seen: number[] = [];
    let longest = 0;
    for (let c = 0; c < chunks; c++, i++) {
      const [lo, hi] = [got[4 * i], got[4 * i + 1]];
      if (window === 0) expect([lo, hi]).toEqual([start + c * len, Math.min(start + (c + 1) * len, end)]);
      for (let t = lo; t < hi; t++) seen.push(t);
      longest = Math.max(longest, hi - lo);
    }
    // Every key the query sees, once, in order.
    expect(seen).toEqual(Array.from({ length: Math.max(0, end - first) }, (_, t) => first + t));
    if (window > 0) expect(longest).toBe(Math.max(1, Math.ceil((end - first) / chunks)));
  }
  // At 32K a local layer's 512 keys go 8 to each of the 64 chunks (the forward's 512-key split gave them to one).
  expect([got[0], got[1], got[4 * 63], got[4 * 63 + 1]]).toEqual([32256, 32264, 32760, 32768]);
});
