// The architectures beyond Llama on WebGPU, in both kernel families and every cache mode, against the reference
// decoder (itself checked against float64 computations from each definition: src/reference/qwen3.test.ts, phi3.test.ts).
// - Qwen3: q_norm / k_norm per head before RoPE (shaders/head-norm.wgsl), and in the quantized modes that rebuild K
//   from X or from latents, k_norm on every rebuilt K before RoPE (remat-tile.wgsl knorm_tile). head_dim is 32 with
//   hidden 64 and 4 heads, as Qwen3 sets it apart from hidden / heads.
// - Gemma 3's kind: √hidden in the embedding gather, post-norms added to the residual stream (rmsnorm ACCUMULATE),
//   the GELU gate in the gate/up kernels, a window and a RoPE table per layer; norm offsets and the softmax scale are
//   folded into the weights as read.
// - SmolLM3's kind: a layer without RoPE reads a table of cos 1, sin 0 in every kernel that would turn.
// - Phi-4-mini's kind: fused projections split as read, 24 of 32 dims turned (the loader's row order and the RoPE
//   table's zero frequencies), longrope's amplitude in the table, so every kernel that rotates (RoPE, the GEMV's
//   fused RoPE, the K rebuild, kivi's K) takes it without a change.

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode, type CacheConfig } from '../cache/cache-config';
import type { Backend, BackendFactory } from '../engine/backend';
import { Engine } from '../engine/engine';
import { referenceBackends } from '../reference/engine-backend';
import { loadPreparedModel } from '../storage/model-loader';
import { loadModel, type LoadedModel } from '../model/load-model';
import { withContextLength } from '../model/model-spec';
import { ReferenceBackend } from '../reference/backend';
import { maxAbsDiff } from '../test-support/compare';
import { syntheticSource, type SyntheticShape } from '../test-support/synthetic-model';
import { WebGpuBackend, webGpuBackends } from './backend';
import type { KernelFamily } from './kernel-family';
import { nodeGpu, nodeShaders } from './node-gpu';

const QWEN3: SyntheticShape = { hidden: 64, layers: 3, heads: 4, kvHeads: 2, headDim: 32, ffn: 96, vocab: 64, tied: true, architecture: 'Qwen3ForCausalLM' };
const PHI4: SyntheticShape = {
  ...QWEN3,
  architecture: 'Phi3ForCausalLM',
  ropeScaling: { type: 'longrope', short_factor: Array.from({ length: 12 }, (_, i) => 1 + i / 4), long_factor: Array(12).fill(8) },
  config: { original_max_position_embeddings: 64, partial_rotary_factor: 0.75 },
};

const SMOLLM3: SyntheticShape = { ...QWEN3, architecture: 'SmolLM3ForCausalLM', config: { no_rope_layers: [1, 1, 0] } };
// Layers 0 and 1 slide over 8 tokens at RoPE base 10K, layer 2 sees everything at base 1M; softmax scale 1/√24.
const GEMMA3: SyntheticShape = {
  ...QWEN3,
  architecture: 'Gemma3ForCausalLM',
  config: { sliding_window: 8, sliding_window_pattern: 3, rope_local_base_freq: 10000, rope_theta: 1000000, query_pre_attn_scalar: 24 },
};

const PHI35: SyntheticShape = {
  ...QWEN3,
  kvHeads: 4,
  tied: false,
  architecture: 'Phi3ForCausalLM',
  ropeScaling: { type: 'longrope', short_factor: Array.from({ length: 16 }, (_, i) => 1 + i / 8), long_factor: Array(16).fill(4) },
  config: { original_max_position_embeddings: 64 },
};

const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));
const backends = new Map<string, Promise<WebGpuBackend>>();
const models = new Map<SyntheticShape, Promise<LoadedModel>>();
const load = (shape: SyntheticShape) => models.get(shape) ?? models.set(shape, loadModel(syntheticSource(shape))).get(shape)!;

function gpu(shape: SyntheticShape, kernels: KernelFamily): Promise<WebGpuBackend> {
  // Two shapes may share an architecture (Phi-3.5's and Phi-4-mini's kinds): the key is the whole shape.
  const key = `${JSON.stringify(shape)}/${kernels}`;
  let b = backends.get(key);
  if (!b) {
    backends.set(key, (b = load(shape).then((m) => WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', kernels }))));
    void b.then((x) => opened.push(x));
  }
  return b;
}

/** Logits of a 3-slice prefill (30 tokens: the later slices read the first from rebuilt rows) and 20 decode steps. */
async function trace(backend: Backend, cache: CacheConfig): Promise<Float32Array[]> {
  const s = backend.createSession(cache);
  const ids = Array.from({ length: 50 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % QWEN3.vocab));
  const out = [await s.forward(ids.slice(0, 20), 'last'), await s.forward(ids.slice(20, 23), 'last'), await s.forward(ids.slice(23, 30), 'last')];
  for (const id of ids.slice(30)) out.push(await s.forward([id], 'last'));
  s.close();
  return out;
}

describe.each([
  ['Qwen3 (q/k norms)', QWEN3],
  ['Phi-4-mini kind (fused projections, partial rotary, longrope)', PHI4],
  ['Phi-3.5 kind (MHA, whole heads turned, longrope)', PHI35],
  ['SmolLM3 kind (layer 2 unturned: an identity RoPE table, no shift turn)', SMOLLM3],
  ['Gemma 3 kind (sliding and full layers, post-norms, GeGLU, embedding scale)', GEMMA3],
])('%s on WebGPU', (_, shape) => {
  // The project's bounds per mode (src/webgpu/xquant.gpu.test.ts): fp16 5e-2, 1e-3 for the others.
  // A hot tier (GPU only) holding all 50 tokens equals the reference's fp16.
  const cases: [string, string, number][] = [
    ['f32', 'f32', 1e-3],
    ['fp16', 'fp16', 5e-2],
    ['kivi-4', 'kivi-4', 1e-3],
    ['xquant-4', 'xquant-4', 1e-3],
    ['xquant-cl-4', 'xquant-cl-4', 1e-3],
    ['xquant-4:hot=128', 'fp16', 5e-2],
  ];
  for (const kernels of ['rowwise', 'tiled'] as const) {
    it.each(cases)(`${kernels}: %s logits equal the reference's %s within %s`, async (mode, reference, bound) => {
      const m = await load(shape);
      const g = await trace(await gpu(shape, kernels), parseCacheMode(mode));
      const c = await trace(new ReferenceBackend(m), parseCacheMode(reference));
      expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(bound);
    });
  }

  // xquant-gqa is for GQA models only (an MHA model is refused with a typed error elsewhere).
  it.skipIf(shape.kvHeads === shape.heads)('xquant-gqa-8: K rebuilt from the latents (k-normed, turned as the architecture says)', async () => {
    const m = await load(shape);
    const mode = parseCacheMode('xquant-gqa-8');
    await (await gpu(shape, 'rowwise')).prepare(mode);
    await (await gpu(shape, 'tiled')).prepare(mode);
    for (const kernels of ['rowwise', 'tiled'] as const) {
      const g = await trace(await gpu(shape, kernels), mode);
      const c = await trace(new ReferenceBackend(m), mode);
      expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i]))), kernels).toBeLessThan(1e-2);
    }
  });

  it("the engine loads it on WebGPU: greedy replies equal the reference engine's (fp16, xquant-cl-4)", async () => {
    const reply = async (backends: BackendFactory, cache: string) => {
      const { model } = await loadPreparedModel({
        resolved: { id: `synthetic:${shape.architecture}`, revision: '', name: shape.architecture!, source: syntheticSource(shape) },
        format: 'f32',
        cache: null,
      });
      const engine = new Engine(backends);
      await engine.load(model);
      const it = engine.stream({ prompt: [1, 9, 17, 33, 4, 50, 21], maxTokens: 12, cache });
      let step = await it.next();
      while (!step.done) step = await it.next();
      engine.unload();
      return step.value.ids;
    };
    for (const cache of ['fp16', 'xquant-cl-4']) {
      const ids = await reply(webGpuBackends(nodeGpu(), nodeShaders()), cache);
      expect(ids, cache).toEqual(await reply(referenceBackends, cache));
      expect(ids.length).toBe(12);
    }
  });
});

describe.each([
  ['SmolLM3 (an unturned layer: nothing to turn back)', SMOLLM3],
  ['Gemma 3 (local layers turn back with their own base)', GEMMA3],
])('%s on WebGPU: a context shift', (_, shape) => {
  it("f32: each layer's K turned back by its own RoPE; the next logits equal the reference shift", async () => {
    const m = await load(shape);
    const config = parseCacheMode('f32');
    const g = (await gpu(shape, 'tiled')).createSession(config);
    const r = new ReferenceBackend(m).createSession(config);
    const ids = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % 60));
    await g.forward(ids, 'last');
    await r.forward(ids, 'last');
    expect(g.shift(5, 20)).toBe(true);
    expect(r.shift(5, 20)).toBe(true);
    const tail = [17, 26, 41];
    const [a, b] = [await g.forward(tail, 'all'), await r.forward(tail, 'all')];
    g.close();
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-3);
  });
});

describe('Phi-4-mini kind loaded for a context past its trained one (longrope long factors at every position)', () => {
  it.each([
    ['rowwise', 'f32'],
    ['rowwise', 'xquant-4'],
    ['tiled', 'kivi-4'],
    ['tiled', 'xquant-cl-4'],
  ] as const)('%s %s: logits equal the reference on the same spec within 1e-3, and differ from the short factors', async (kernels, mode) => {
    const m = await load(PHI4);
    const long = { ...m, spec: withContextLength(m.spec, 128) };
    const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), long, { weights: 'f32', kernels });
    opened.push(b);
    const g = await trace(b, parseCacheMode(mode));
    const c = await trace(new ReferenceBackend(long), parseCacheMode(mode));
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(1e-3);
    const short = await trace(new ReferenceBackend(m), parseCacheMode(mode));
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, short[i])))).toBeGreaterThan(1e-2);
  });
});

describe('the test shapes are not vacuous', () => {
  it("Qwen3: the same weights read as Llama (no norms) give logits far from Qwen3's", async () => {
    const m = await load(QWEN3);
    const llama = await loadModel(syntheticSource({ ...QWEN3, architecture: 'LlamaForCausalLM' }));
    const a = await trace(new ReferenceBackend(m), parseCacheMode('f32'));
    const b = await trace(new ReferenceBackend(llama), parseCacheMode('f32'));
    expect(Math.max(...a.map((x, i) => maxAbsDiff(x, b[i])))).toBeGreaterThan(1e-2);
  });
});
