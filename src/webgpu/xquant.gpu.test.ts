// The xquant cache modes on the GPU against the same modes of the reference decoder.

import { afterAll, describe, expect, it } from 'vitest';
import { PAGE_TOKENS, parseCacheMode, type CacheConfig } from '../cache/cache-config';
import { cacheBytesPerToken } from '../cache/cache-bytes';
import { evaluatePerplexity } from '../eval/perplexity';
import { nodeGpu, nodeShaders } from './node-gpu';
import type { LoadedModel } from '../model/load-model';
import { sharedModel, sharedText } from '../test-support/shared-models';
import { ReferenceBackend } from '../reference/backend';
import type { Backend } from '../engine/backend';
import { WebGpuBackend } from './backend';
import type { PromptOrder } from './caches/gpu-cache';
import type { GpuDecodeSession } from './session';
import { acquireDevice } from './device';
import type { KernelFamily } from './kernel-family';
import { loadModel } from '../model/load-model';
import { limitedGpu } from '../test-support/limited-gpu';
import { syntheticSource } from '../test-support/synthetic-model';
import { packModelWeights } from '../quant/packed-weights';
import { packedBytes } from '../quant/weight-format';
import { maxAbsDiff } from '../test-support/compare';
import { GpuOutOfMemoryError } from '../errors';
import { GREEDY, Sampler, type SamplingOptions } from '../engine/sampling';

const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));
const backends = new Map<string, Promise<WebGpuBackend>>();
function gpuFor(m: LoadedModel, kernels: KernelFamily = 'rowwise'): Promise<WebGpuBackend> {
  const key = `${m.spec.hiddenSize}/${m.spec.vocabSize}/${m.spec.numLayers}/${kernels}`;
  let b = backends.get(key);
  if (!b) {
    backends.set(key, (b = WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', kernels })));
    void b.then((x) => opened.push(x));
  }
  return b;
}

/** Logits of a 3-slice prefill (30 tokens) and 30 decode steps of fixed ids. */
async function trace(backend: Backend, cache: CacheConfig, vocab: number): Promise<Float32Array[]> {
  const s = backend.createSession(cache);
  const ids = Array.from({ length: 60 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % vocab));
  const out = [await s.forward(ids.slice(0, 20), 'last'), await s.forward(ids.slice(20, 23), 'last'), await s.forward(ids.slice(23, 30), 'last')];
  for (const id of ids.slice(30)) out.push(await s.forward([id], 'last'));
  s.close();
  return out;
}

async function worst(m: LoadedModel, cache: CacheConfig, kernels: KernelFamily = 'rowwise'): Promise<number> {
  const g = await trace(await gpuFor(m, kernels), cache, m.spec.vocabSize);
  const c = await trace(new ReferenceBackend(m), cache, m.spec.vocabSize);
  return Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])));
}

describe('the tiled kernel family (fused norms where the mode allows, subgroup sums) in every cache mode', () => {
  // The project's bounds per mode: fp16 5e-2 (f16 rounding of nearly equal K/V can differ by one ulp), 1e-3 for the others.
  it.each([
    ['fp16', 5e-2],
    ['kivi-4', 1e-3],
    ['xquant-4', 1e-3],
    ['xquant-cl-4', 1e-3],
  ] as const)('stories260K %s: logits within %s of the reference mode', async (mode, bound) => {
    const m = await sharedModel('stories260K');
    expect((await gpuFor(m, 'tiled')).kernels).toBe('tiled');
    expect(await worst(m, parseCacheMode(mode), 'tiled')).toBeLessThan(bound);
  });

  it('stories260K xquant-gqa-4: perplexity within 0.5 percent of the reference over 160 tokens (latent codes flip, as in the rowwise family)', async () => {
    const m = await sharedModel('stories260K');
    const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
    const o = { ctx: 161, windows: 1, bos: 1, cache: parseCacheMode('xquant-gqa-4') };
    const gpu = (await evaluatePerplexity(await gpuFor(m, 'tiled'), ids, o)).ppl;
    const cpu = (await evaluatePerplexity(new ReferenceBackend(m), ids, o)).ppl;
    expect(Math.abs(gpu / cpu - 1)).toBeLessThan(0.005);
  });
});

describe('xquant modes on the GPU equal the reference modes', () => {
  it("xquant-gqa holds its SVD factors in q8 (the reference's storedLatents): the weights grow by exactly their q8 bytes", async () => {
    const m = await sharedModel('stories260K');
    const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32' });
    opened.push(b);
    const before = b.memoryReport().weights;
    const s = b.createSession(parseCacheMode('xquant-gqa-4'));
    await s.forward([1, 2, 3], 'last');
    s.close();
    const kv = m.spec.numKvHeads * m.spec.headDim;
    const perSide = packedBytes('q8', kv, m.spec.hiddenSize) + packedBytes('q8', kv, kv);
    expect(b.memoryReport().weights - before).toBe(m.spec.numLayers * 2 * perSide);
  });

  it.each(['xquant-4', 'xquant-3', 'xquant-2', 'xquant-cl-4', 'xquant-cl-3', 'xquant-cl-2'])('stories260K (GQA) %s: logits within 1e-3', async (mode) => {
    expect(await worst(await sharedModel('stories260K'), parseCacheMode(mode))).toBeLessThan(1e-3);
  });

  it.each(['xquant-3', 'xquant-cl-2'])('aidreams260K (MHA, 4 layers) %s with 2 pinned layers: logits within 1e-3', async (mode) => {
    expect(await worst(await sharedModel('aidreams260K'), parseCacheMode(mode, { pinLayers: 2 }))).toBeLessThan(1e-3);
  });

  it.each(['xquant-4', 'xquant-cl-2'])(
    'residual window of 8 tokens (%s): perplexity within 0.5 percent of the reference (its f16 window makes single codes flip, so logits are not compared)',
    async (mode) => {
      const m = await sharedModel('stories260K');
      const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
      const o = { ctx: 96, windows: 2, bos: 1, cache: parseCacheMode(mode, { residual: 8 }) };
      const gpu = (await evaluatePerplexity(await gpuFor(m), ids, o)).ppl;
      const cpu = (await evaluatePerplexity(new ReferenceBackend(m), ids, o)).ppl;
      expect(Math.abs(gpu / cpu - 1)).toBeLessThan(0.005);
    },
  );

  it.each(['kivi-4', 'kivi-2', 'xquant-gqa-4', 'xquant-gqa-2'])(
    '%s: perplexity within 0.5 percent of the reference over 160 tokens (a K block is committed at 128)',
    async (mode) => {
      const m = await sharedModel('stories260K');
      const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
      const o = { ctx: 161, windows: 1, bos: 1, cache: parseCacheMode(mode) };
      const gpu = (await evaluatePerplexity(await gpuFor(m), ids, o)).ppl;
      const cpu = (await evaluatePerplexity(new ReferenceBackend(m), ids, o)).ppl;
      expect(Math.abs(gpu / cpu - 1)).toBeLessThan(0.005);
    },
  );

  it.each(['kivi-8', 'xquant-gqa-8'])('%s: logits within 2e-2 through a block commit (8-bit codes rarely flip)', async (mode) => {
    const m = await sharedModel('stories260K');
    const gpu = await gpuFor(m);
    const cpu = new ReferenceBackend(m);
    const run = async (b: Backend) => {
      const s = b.createSession(parseCacheMode(mode));
      const out = [
        await s.forward(
          Array.from({ length: 120 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 512)),
          'last',
        ),
      ];
      for (let i = 0; i < 16; i++) out.push(await s.forward([(i * 11 + 3) % 512], 'last'));
      s.close();
      return out;
    };
    const g = await run(gpu);
    const c = await run(cpu);
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(2e-2);
  });

  it('xquant-8 differs from fp16 on the GPU about as much as in the reference', async () => {
    const m = await sharedModel('tinystories-656k');
    const gpu = await gpuFor(m);
    const cpu = new ReferenceBackend(m);
    const pair = async (b: Backend) => {
      const x = await trace(b, parseCacheMode('xquant-8'), m.spec.vocabSize);
      const f = await trace(b, parseCacheMode('fp16'), m.spec.vocabSize);
      return Math.max(...x.map((v, i) => maxAbsDiff(v, f[i])));
    };
    const ref = await pair(cpu);
    expect(ref).toBeGreaterThan(0); // the pair really differs
    expect(await pair(gpu)).toBeLessThan(1.5 * ref + 1e-3);
  });
});

describe('prefill over the past (transient rows)', () => {
  const slices = async (b: Backend, mode: string) => {
    const s = b.createSession(parseCacheMode(mode));
    const ids = Array.from({ length: 220 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 512));
    const out = [await s.forward(ids.slice(0, 120), 'last'), await s.forward(ids.slice(120), 'last')];
    s.close();
    return out;
  };

  it('a second slice reads the first from rebuilt f32 rows: logits within 1e-3, rows freed after the prompt', async () => {
    const m = await sharedModel('stories260K');
    const gpu = await gpuFor(m);
    const before = gpu.memoryReport().transientPeak;
    const g = await slices(gpu, 'xquant-8');
    const c = await slices(new ReferenceBackend(m), 'xquant-8');
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(1e-3);
    const r = gpu.memoryReport();
    expect(r.transient).toBe(0);
    // One slice each: K and V rows shared by the layers, for the cache's 256-token capacity, f32, plus the 2-page
    // identity table (16 bytes at least).
    expect(Math.max(before, 2 * 256 * 32 * 4 + 16)).toBe(r.transientPeak);
  });

  // One 300-token forward runs as slices of 128, 128 and 44 that keep rows per layer and rebuild only the rows
  // settled since the slice before; three forwards of those sizes each rebuild their whole past into rows shared by
  // the layers. Where rows for every layer pass their cap (here 0 bytes), the 300 tokens run layer by layer with one
  // layer's rows (layer-major.ts): in one group, and in groups of one slice (a 128-token residual stream). The
  // numbers must be the same bits.
  // Rings (residual window), K blocks (kivi, xquant-gqa), xquant-cl's deltas and a hot tier move the settled mark.
  it.each(['xquant-4', 'xquant-cl-2:residual=16', 'kivi-2:residual=16', 'xquant-gqa-4', 'xquant-4:hot=128', 'kivi-4:hot=128,residual=16'])(
    '%s: a long prompt rebuilds only the rows new since its previous slice (per layer, or layer by layer), with bit-identical logits',
    async (mode) => {
      const m = await sharedModel('stories260K');
      const gpu = await gpuFor(m);
      const ids = Array.from({ length: 353 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 512));
      const orders: string[] = [];
      const rebuiltFrom = new Map<WebGpuBackend, number[]>(); // each prompt slice's first rebuilt row
      const run = async (parts: number[], backend: WebGpuBackend = gpu) => {
        const s = backend.createSession(parseCacheMode(mode)) as GpuDecodeSession;
        const reserve = s.cache.reservePrefill.bind(s.cache);
        s.cache.reservePrefill = (...a) => {
          orders.push(reserve(...a));
          return orders.at(-1) as PromptOrder;
        };
        const plan = s.cache.plan.bind(s.cache);
        s.cache.plan = (pos0, tokens, chunks) => {
          const p = plan(pos0, tokens, chunks);
          if (tokens > 1) rebuiltFrom.set(backend, [...(rebuiltFrom.get(backend) ?? []), p.rematFrom]);
          return p;
        };
        let at = 0;
        let last: Float32Array = new Float32Array();
        for (const n of [50, ...parts]) {
          last = await s.forward(ids.slice(at, at + n), 'last');
          at += n;
        }
        const out = [last];
        for (const id of ids.slice(at)) out.push(await s.forward([id], 'last'));
        s.close();
        return out;
      };
      const whole = await run([300]);
      const sliced = await run([128, 128, 44]);
      const capped = (bytes: object) => Object.create(gpu, Object.fromEntries(Object.entries(bytes).map(([k, value]) => [k, { value }]))) as WebGpuBackend;
      const layeredBackend = capped({ layerRowsBytes: 0 });
      const layered = await run([300], layeredBackend);
      const grouped = await run([300], capped({ layerRowsBytes: 0, promptStreamBytes: 128 * 64 * 4 }));
      expect(whole.map((x, i) => maxAbsDiff(x, sliced[i]))).toEqual([0, 0, 0, 0]);
      expect(layered.map((x, i) => maxAbsDiff(x, whole[i]))).toEqual([0, 0, 0, 0]);
      expect(grouped.map((x, i) => maxAbsDiff(x, whole[i]))).toEqual([0, 0, 0, 0]);
      // Every prompt runs slice by slice, but the 300 tokens whose rows for every layer pass the cap.
      expect(orders).toEqual(['slices', 'slices', 'slices', 'slices', 'slices', 'slices', 'slices', 'layers', 'slices', 'layers']);
      // Layer by layer, each slice rebuilds from where the slice before left off, as with rows per layer.
      expect(rebuiltFrom.get(layeredBackend)).toEqual(rebuiltFrom.get(gpu)!.slice(0, 4));
      expect(rebuiltFrom.get(layeredBackend)!.at(-1)).toBeGreaterThan(0);
    },
  );

  // 300 tokens: slices of 128, 128 and 44; 257: 128, 128 and one token, which both orders run as a decode step.
  it.each([300, 257])(
    'a %i-token prompt run layer by layer ends in the token choice as slice by slice does (greedy and sampled; logits the same bits), and decode goes on',
    async (n) => {
      const m = await sharedModel('stories260K');
      const gpu = await gpuFor(m);
      const layered = Object.create(gpu, { layerRowsBytes: { value: 0 } }) as WebGpuBackend;
      const ids = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : (i * 53 + 11) % 512));
      const pick = async (b: WebGpuBackend, sampling: SamplingOptions) => {
        const s = b.createSession(parseCacheMode('xquant-cl-3'));
        const first = await s.next(ids, new Sampler(sampling));
        const second = await s.next([first], new Sampler(GREEDY));
        s.close();
        return [first, second];
      };
      for (const o of [GREEDY, { temperature: 0.9, topK: 40, topP: 0.95, seed: 7 }]) expect(await pick(layered, o)).toEqual(await pick(gpu, o));
      const logits = async (b: WebGpuBackend) => {
        const s = b.createSession(parseCacheMode('kivi-2:residual=16'));
        const out = await s.forward(ids, 'last');
        s.close();
        return out;
      };
      expect(maxAbsDiff(await logits(layered), await logits(gpu))).toBe(0);
    },
  );

  it('past the binding limit the rows hold f16 pairs: logits within the fp16 bound (5e-2)', async () => {
    const m = await sharedModel('stories260K');
    // 20 KiB bindings: 219 past tokens of 32 f32 K values are 28 KiB, their f16 pairs 14 KiB (a layer's
    // xquant-8 pages for 256 tokens, 17 KiB, still fit).
    const b = await WebGpuBackend.fromPacked(
      { ...(await acquireDevice(nodeGpu())), maxStorageBindingBytes: 20480 },
      nodeShaders(),
      m.spec,
      packModelWeights(m.spec, m.weights, 'f32'),
    );
    opened.push(b);
    const g = await slices(b, 'xquant-8');
    const c = await slices(new ReferenceBackend(m), 'xquant-8');
    const f32Rows = await slices(await gpuFor(m), 'xquant-8');
    const diff = Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])));
    expect(diff).toBeLessThan(5e-2);
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, f32Rows[i])))).toBeGreaterThan(0); // f16 rows really were used
    expect(b.memoryReport().transientPeak).toBe(2 * 256 * 32 * 2 + 16);
  });
});

describe('the tiled family splits a long past into as many chunks as the standard attention', () => {
  // 1,400 past tokens in chunks of at least 64: 21 chunks, past the rowwise family's 16.
  it.each(['xquant-4', 'xquant-gqa-4', 'kivi-4'])('%s: decode over 21 past chunks equals the reference within 1e-3', async (mode) => {
    const m = await loadModel(
      syntheticSource({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, ffn: 64, vocab: 256, config: { max_position_embeddings: 2048 } }),
    );
    const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', kernels: 'tiled' });
    opened.push(gpu);
    const ids = Array.from({ length: 1404 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 251) + 3);
    const run = async (b: Backend) => {
      const s = b.createSession(parseCacheMode(mode));
      // Prompt slices of 128 on both backends, so each sees earlier slices as stored (the reference's one forward
      // would see the whole prompt's exact K/V).
      for (let at = 0; at < 1400; at += 128) await s.forward(ids.slice(at, Math.min(at + 128, 1400)), 'last');
      const out: Float32Array[] = [];
      for (const id of ids.slice(1400)) out.push(await s.forward([id], 'last'));
      s.close();
      return out;
    };
    const session = gpu.createSession(parseCacheMode(mode));
    expect(session.cache.plan(1400, 1).xChunks).toBe(21);
    session.close();
    const [g, c] = [await run(gpu), await run(new ReferenceBackend(m))];
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(1e-3);
  });
});

describe('head 128 at a 16 KiB workgroup limit (small d, so no quantization code flips)', () => {
  // The tiled family rebuilds K and V (prefill) and xquant-gqa's K (decode) with 4 columns per invocation.
  it.each([
    ['kivi-8', 'rowwise'],
    ['kivi-2', 'rowwise'],
    ['xquant-4', 'rowwise'],
    ['xquant-gqa-4', 'rowwise'],
    ['xquant-4', 'tiled'],
    ['xquant-gqa-4', 'tiled'],
  ] as const)('%s, %s family: 3 slices through two committed K blocks and decode steps, logits within 1e-3', async (mode, kernels) => {
    const m = await loadModel(syntheticSource({ hidden: 512, layers: 2, heads: 4, kvHeads: 2, headDim: 128, ffn: 128, vocab: 256 }));
    const gpu = await WebGpuBackend.create(limitedGpu(nodeGpu(), { maxComputeWorkgroupStorageSize: 16384 }), nodeShaders(), m, { weights: 'f32', kernels });
    opened.push(gpu);
    const ids = Array.from({ length: 306 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 251) + 3);
    const run = async (b: Backend, name: string) => {
      const s = b.createSession(parseCacheMode(name));
      await s.forward(ids.slice(0, 128), 'last');
      await s.forward(ids.slice(128, 256), 'last');
      const out = [await s.forward(ids.slice(256, 300), 'last')];
      for (const id of ids.slice(300)) out.push(await s.forward([id], 'last'));
      s.close();
      return out;
    };
    const cpu = new ReferenceBackend(m);
    const [g, c, f] = [await run(gpu, mode), await run(cpu, mode), await run(cpu, 'fp16')];
    expect(Math.max(...c.map((x, i) => maxAbsDiff(x, f[i])))).toBeGreaterThan(1e-2); // the mode really quantizes
    expect(Math.max(...g.map((x, i) => maxAbsDiff(x, c[i])))).toBeLessThan(1e-3);
  });
});

describe('xquant memory', () => {
  it('kivi: stored bytes count the f16 K rows of the unfinished block, as the reference does', async () => {
    const m = await sharedModel('stories260K');
    const cache = parseCacheMode('kivi-4');
    const gpu = (await gpuFor(m)).createSession(cache);
    const cpu = (await import('../reference/caches/create-cache')).createReferenceCache(m, cache);
    const ids = Array.from({ length: 130 }, (_, i) => 3 + (i % 200));
    await gpu.forward(ids, 'last');
    new (await import('../reference/decoder')).ReferenceDecoder(m).forward(ids, cpu);
    expect(gpu.cache.storedBytes()).toBe(cpu.storedBytes());
    gpu.close();
  });

  it('no past-token K/V buffer exists; cache bytes per token equal the formula', async () => {
    const m = await sharedModel('aidreams260K');
    const gpu = await gpuFor(m);
    for (const mode of ['xquant-4', 'xquant-cl-3', 'kivi-2']) {
      const cache = parseCacheMode(mode, { pinLayers: 1 });
      const s = gpu.createSession(cache);
      await s.forward(
        Array.from({ length: 100 }, (_, i) => 3 + i),
        'last',
      );
      await s.forward([7], 'last');
      const held = gpu.memory.buffers().filter((b) => b.category === 'cache');
      // A buffer per layer, except xquant-cl's, which all layers share (its rebuild reads earlier layers).
      const pools = mode.startsWith('xquant-cl') ? ['x.pool'] : Array.from({ length: m.spec.numLayers }, (_, l) => `x.pool[${l}]`);
      expect(held.map((b) => b.label).sort()).toEqual(['x.pages', ...pools]);
      expect(gpu.memory.buffers().some((b) => /^kv\./.test(b.label))).toBe(false);
      expect(s.bytesPerToken()).toBe(cacheBytesPerToken(m.spec, cache));
      if (mode !== 'kivi-2') {
        expect(s.cache.storedBytes()).toBe(101 * cacheBytesPerToken(m.spec, cache));
        // xquant on an MHA model: X is half of K + V before quantization
        expect(s.bytesPerToken()).toBeLessThan(cacheBytesPerToken(m.spec, parseCacheMode('fp16')) / 2);
      }
      s.close();
    }
  });
});

describe('tiered cache (hot fp16 K/V for the newest tokens)', () => {
  const run = async (gpu: WebGpuBackend, cache: CacheConfig, n: number) => {
    const s = gpu.createSession(cache);
    const out = [
      await s.forward(
        Array.from({ length: n }, (_, i) => (i * 37 + 5) % 512),
        'last',
      ),
    ];
    for (let i = 0; i < 12; i++) out.push(await s.forward([(i * 13 + 7) % 512], 'last'));
    const held = gpu.memory.buffers().filter((b) => b.category === 'cache');
    s.close();
    return { out, held };
  };

  it('holds H tokens of K/V plus a spare page (steps run past a stop land there); equals fp16 while the context fits in H, and sits between fp16 and pure XQuant beyond', async () => {
    const m = await sharedModel('stories260K');
    const gpu = await gpuFor(m);
    const fp16Short = await run(gpu, parseCacheMode('fp16'), 60);
    const hotShort = await run(gpu, parseCacheMode('xquant-2', { hot: 128 }), 60);
    expect(Math.max(...fp16Short.out.map((x, i) => maxAbsDiff(x, hotShort.out[i])))).toBeLessThan(1e-5);
    const kvBytes = hotShort.held.filter((b) => /^kv\.hot\.[kv]\[/.test(b.label)).reduce((a, b) => a + b.bytes, 0);
    expect(kvBytes).toBe((128 + PAGE_TOKENS) * cacheBytesPerToken(m.spec, parseCacheMode('fp16')));

    const fp16 = await run(gpu, parseCacheMode('fp16'), 200);
    const hot = await run(gpu, parseCacheMode('xquant-2', { hot: 128 }), 200);
    const pure = await run(gpu, parseCacheMode('xquant-2'), 200);
    const gap = (a: Float32Array[]) => Math.max(...fp16.out.map((x, i) => maxAbsDiff(x, a[i])));
    expect(gap(hot.out)).toBeGreaterThan(0);
    expect(gap(hot.out)).toBeLessThan(gap(pure.out));
    expect(hot.held.filter((b) => /^kv\.hot\.[kv]\[/.test(b.label)).reduce((a, b) => a + b.bytes, 0)).toBe(kvBytes); // still H + a page at 212
  });

  it.each(['kivi-4', 'xquant-cl-4', 'xquant-gqa-4'])(
    '%s:hot=128 equals fp16 while the context fits in H (the API reaches every quantized mode)',
    async (mode) => {
      const m = await sharedModel('stories260K');
      const gpu = await gpuFor(m);
      const fp16 = await run(gpu, parseCacheMode('fp16'), 60);
      await gpu.prepare(parseCacheMode(mode));
      const hot = await run(gpu, parseCacheMode(`${mode}:hot=128`), 60);
      expect(Math.max(...fp16.out.map((x, i) => maxAbsDiff(x, hot.out[i])))).toBeLessThan(1e-5);
      expect(hot.held.some((b) => b.label === 'kv.hot.k[0]')).toBe(true);
    },
  );

  it('a hot tier or residual window past one storage binding is a GpuOutOfMemoryError when the session is made, with nothing allocated', async () => {
    const m = await sharedModel('stories260K');
    // 20 KiB bindings: 32 kv values in f16 are 64 bytes per token, so a ring holds 320 tokens: H = 128 at most.
    const b = await WebGpuBackend.fromPacked(
      { ...(await acquireDevice(nodeGpu())), maxStorageBindingBytes: 20480 },
      nodeShaders(),
      m.spec,
      packModelWeights(m.spec, m.weights, 'f32'),
    );
    opened.push(b);
    const before = b.memory.buffers().length;
    expect(() => b.createSession(parseCacheMode('xquant-4:hot=256'))).toThrow(GpuOutOfMemoryError);
    expect(() => b.createSession(parseCacheMode('xquant-4:hot=256'))).toThrow(/at most 20480 bytes/);
    expect(() => b.createSession(parseCacheMode('xquant-4:residual=4096'))).toThrow(GpuOutOfMemoryError);
    expect(b.memory.buffers().length).toBe(before);
    const ok = b.createSession(parseCacheMode('xquant-4:hot=128'));
    await ok.forward([1, 403, 407], 'last');
    ok.close();
  });
});

describe("XQuant-CL's decode sums each layer's X̂ once per step (xquant-cl-rows.wgsl)", () => {
  // Eight layers: three base layers, then five of deltas, so the last sums six rows.
  const eight = () =>
    loadModel(syntheticSource({ hidden: 64, layers: 8, heads: 4, kvHeads: 2, headDim: 16, ffn: 64, vocab: 256, config: { max_position_embeddings: 1024 } }));
  const ids = Array.from({ length: 224 }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % 251) + 3);

  /** Logits of a 200-token prompt (two slices) then 24 decode steps; `open` is called before the session closes. */
  async function run(b: Backend, mode: string, open = () => {}): Promise<Float32Array[]> {
    const s = b.createSession(parseCacheMode(mode));
    const out = [await s.forward(ids.slice(0, 128), 'last'), await s.forward(ids.slice(128, 200), 'last')];
    for (const id of ids.slice(200)) out.push(await s.forward([id], 'last'));
    open();
    s.close();
    return out;
  }

  // The same sum in the same order as a read that sums the deltas itself (a host whose clRowsBytes is 0): the same bits.
  // The reference bounds are the tests above (stories260K, 1e-3), which run on the summed rows by default.
  it.each([
    ['xquant-cl-4', 'rowwise'],
    ['xquant-cl-2:residual=16', 'rowwise'],
    ['xquant-cl-4', 'tiled'],
    ['xquant-cl-3:hot=128,residual=16', 'tiled'],
  ] as const)('%s (%s): logits bit-identical to summing at every read', async (mode, kernels) => {
    const m = await eight();
    const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', kernels });
    opened.push(gpu);
    const summedBytes = () => gpu.memory.buffers().reduce((a, x) => a + (x.label === 'x.summed' ? x.bytes : 0), 0);
    const bytes: number[] = [];
    const summed = await run(gpu, mode, () => bytes.push(summedBytes()));
    const everyRead = await run(Object.create(gpu, { clRowsBytes: { value: 0 } }) as WebGpuBackend, mode, () => bytes.push(summedBytes()));
    expect(bytes).toEqual([256 * 64 * 4, 0]); // the cache's capacity (two pages) x hidden, f32; none when summing at every read
    expect(summed.map((x, i) => maxAbsDiff(x, everyRead[i]))).toEqual(summed.map(() => 0));
  });
});
