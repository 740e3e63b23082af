// The WebGPU decoder (dawn.node on SwiftShader) against the reference decoder on the shared real models
// and on synthetic models that exercise what those lack (q/k/v biases, sliding window, llama3 RoPE,
// row-split matrices).

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { cacheBytesPerToken } from '../cache/cache-bytes';
import { evaluatePerplexity } from '../eval/perplexity';
import { DeviceLostError, GpuError, GpuOutOfMemoryError, InvalidArgumentError } from '../errors';
import { acquireDevice } from './device';
import type { KernelChoice } from './kernel-family';
import { nodeGpu, nodeShaders } from './node-gpu';
import { loadModel, type LoadedModel } from '../model/load-model';
import { kvDim } from '../model/model-spec';
import { MemoryFileSource } from '../model/file-source';
import { GgufModelSource } from '../model/gguf-model';
import { NodeFolderSource } from '../model/node-file-source';
import { loadModelAs } from '../quant/pack-checkpoint';
import { packModelWeights, withWeightFormat } from '../quant/packed-weights';
import { loadPreparedModel } from '../storage/model-loader';
import { hfToGguf } from '../test-support/gguf-writer';
import { packedBytes, PACK_FORMATS, type PackFormat } from '../quant/weight-format';
import { sharedModel, sharedText, type SharedModel } from '../test-support/shared-models';
import { syntheticConfig, syntheticSource, type SyntheticShape } from '../test-support/synthetic-model';
import { ReferenceBackend } from '../reference/backend';
import type { Backend } from '../engine/backend';
import { generateIds } from '../engine/generate';
import { GREEDY, Sampler } from '../engine/sampling';
import { WebGpuBackend } from './backend';
import { maxAbsDiff } from '../test-support/compare';
import { scarceDevice } from '../test-support/scarce-device';
import { countingDevice } from '../test-support/counting-device';

const F32 = parseCacheMode('f32');
const FP16 = parseCacheMode('fp16');
const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));

async function gpuBackend(
  m: LoadedModel,
  weights: PackFormat = 'f32',
  maxBatch = 128,
  kernels: KernelChoice = 'auto',
  subgroups = true,
): Promise<WebGpuBackend> {
  const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights, maxBatch, kernels, subgroups });
  opened.push(b);
  return b;
}

/** Prefill `prompt`, then decode `steps` tokens (the reference's greedy picks); worst logit difference. */
async function worstDiff(gpu: Backend, cpu: Backend, cache = F32, prompt: number[], steps: number): Promise<number> {
  const g = gpu.createSession(cache);
  const c = cpu.createSession(cache);
  let want = await c.forward(prompt, 'last');
  let worst = maxAbsDiff(await g.forward(prompt, 'last'), want);
  for (let s = 0; s < steps; s++) {
    let id = 0;
    for (let i = 1; i < want.length; i++) if (want[i] > want[id]) id = i;
    want = await c.forward([id], 'last');
    worst = Math.max(worst, maxAbsDiff(await g.forward([id], 'last'), want));
  }
  g.close();
  return worst;
}

function promptOf(vocab: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : (i * 37 + 5) % vocab));
}

const ORACLES: Record<SharedModel, string> = {
  stories260K: '403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385',
  'tinystories-656k': '147 201 282 215 286 598 1662 356 499 826 1363 1145',
  aidreams260K: '319 459 355 260 275 429 339 315',
};

describe.each(Object.keys(ORACLES) as SharedModel[])('%s on WebGPU, f32 weights', (name) => {
  it('logits match the reference within 2e-3 over a 64-token prefill and 64 decode steps (f32 KV cache)', async () => {
    const m = await sharedModel(name);
    expect(await worstDiff(await gpuBackend(m), new ReferenceBackend(m), F32, promptOf(m.spec.vocabSize, 64), 64)).toBeLessThan(2e-3);
  });

  it('fp16 KV cache: logits match the reference fp16 cache within 5e-2 (f16 rounding of nearly equal K/V can differ by one ulp)', async () => {
    const m = await sharedModel(name);
    expect(await worstDiff(await gpuBackend(m), new ReferenceBackend(m), FP16, promptOf(m.spec.vocabSize, 64), 64)).toBeLessThan(5e-2);
  });

  it('reproduces the greedy oracle ids exactly (argmax on the GPU)', async () => {
    const m = await sharedModel(name);
    const n = ORACLES[name].split(' ').length;
    const ids = await generateIds(await gpuBackend(m), [1], { maxTokens: n, cache: FP16, sampling: GREEDY, stopIds: [] });
    expect(ids.join(' ')).toBe(ORACLES[name]);
  });
});

describe('sampling on the GPU', () => {
  // rowwise samples in one workgroup (sample.wgsl), tiled over many (sample-split.wgsl; one slice at this vocabulary,
  // many in src/webgpu/ops/sample.gpu.test.ts).
  it.each([
    { kernels: 'rowwise', sampling: { temperature: 0.8, topK: 40, topP: 0.95, seed: 3 } },
    { kernels: 'rowwise', sampling: { temperature: 1.2, topK: 0, topP: 0.7, seed: 11 } },
    { kernels: 'rowwise', sampling: { temperature: 1, topK: 5, topP: 1, seed: 5 } },
    { kernels: 'tiled', sampling: { temperature: 0.8, topK: 40, topP: 0.95, seed: 3 } },
    { kernels: 'tiled', sampling: { temperature: 1.2, topK: 0, topP: 0.7, seed: 11 } },
  ] as const)('$kernels: generates what the CPU sampler picks from the reference logits ($sampling)', async ({ kernels, sampling }) => {
    const m = await sharedModel('stories260K');
    const o = { maxTokens: 48, cache: F32, sampling, stopIds: [] };
    const gpu = await generateIds(await gpuBackend(m, 'f32', 128, kernels), [1, 403], o);
    const cpu = await generateIds(new ReferenceBackend(m), [1, 403], o);
    expect(gpu.join(' ')).toBe(cpu.join(' '));
    expect(new Set(gpu).size).toBeGreaterThan(10);
  });

  const none = { frequency: 0, presence: 0, repetition: 1, bias: new Map<number, number>() };
  it.each([
    { temperature: 0, topK: 0, topP: 1, seed: 0, penalties: { ...none, frequency: 0.7 } },
    { temperature: 0, topK: 0, topP: 1, seed: 0, penalties: { ...none, repetition: 1.3 } },
    {
      temperature: 0.9,
      topK: 40,
      topP: 1,
      minP: 0.05,
      seed: 5,
      penalties: {
        ...none,
        presence: 0.5,
        bias: new Map([
          [261, -100],
          [298, 4],
        ]),
      },
    },
  ])(
    'penalties and logit_bias: the GPU (adjusting logits and counting tokens on the device, run ahead) picks what the reference picks (%o)',
    async (sampling) => {
      const m = await sharedModel('stories260K');
      const o = { maxTokens: 40, cache: F32, sampling, stopIds: [] };
      const gpu = await generateIds(await gpuBackend(m), [1, 403, 407], o);
      const cpu = await generateIds(new ReferenceBackend(m), [1, 403, 407], o);
      expect(gpu.join(' ')).toBe(cpu.join(' '));
      // They act: the same request without them gives another reply.
      const plain = await generateIds(new ReferenceBackend(m), [1, 403, 407], { ...o, sampling: { ...sampling, penalties: undefined } });
      expect(cpu.join(' ')).not.toBe(plain.join(' '));
      if (sampling.penalties.bias.size) expect(cpu).not.toContain(261);
    },
  );
});

describe('run-ahead decode (decodeIds)', () => {
  it.each(['fp16', 'xquant-4'])('%s: stopping early drops the steps run past it; decoding on gives the ids of an uninterrupted run', async (mode) => {
    const m = await sharedModel('stories260K');
    const b = await gpuBackend(m);
    const cache = parseCacheMode(mode);
    const whole = b.createSession(cache);
    const want = [await whole.next([1, 403], new Sampler(GREEDY))];
    for await (const id of whole.decodeIds(want[0], new Sampler(GREEDY), 24)) want.push(id);
    expect(whole.length).toBe(2 + 24);
    whole.close();
    const parts = b.createSession(cache);
    const got = [await parts.next([1, 403], new Sampler(GREEDY))];
    for await (const id of parts.decodeIds(got[0], new Sampler(GREEDY), 24)) {
      got.push(id);
      if (got.length === 6) break; // 3 steps are in flight with fp16: 2 of them ran past this point
    }
    expect(parts.length).toBe(2 + 5);
    for await (const id of parts.decodeIds(got[5], new Sampler(GREEDY), 19)) got.push(id);
    expect(got).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(5);
    parts.close();
  });
});

describe('run-ahead decode in the quantized modes: the overshoot is dropped without a trace', () => {
  // Stop with 2 steps in flight, then feed other tokens at their positions. The residual ring must still
  // hold the window (its spare slots took the overshoot), and with R = 0 kivi's first K block, committed
  // early with the overshoot's rows, is committed again from the new ones. In the tiered cache (hot 128) the
  // stop falls at 254: a ring of exactly 128 would have let the overshoot (254, 255) overwrite tokens 126
  // and 127, still in the hot window after the stop; its spare page keeps them. The same steps run one at a
  // time, never overshooting, must give the same logits.
  it.each([
    ['xquant-4', 8, 0, 120],
    ['xquant-cl-4', 8, 0, 120],
    ['kivi-4', 0, 0, 120],
    ['xquant-gqa-4', 2, 0, 120],
    ['xquant-2', 8, 128, 248],
  ] as const)(
    '%s, residual %i, hot %i: after a stop mid-flight at prompt %i + 6, other tokens get the logits of a run that never ran ahead',
    async (mode, residual, hot, promptLength) => {
      const m = await sharedModel('stories260K');
      const b = await gpuBackend(m);
      const cache = parseCacheMode(mode, { residual, hot });
      const prompt = promptOf(m.spec.vocabSize, promptLength);
      const other = [7, 300, 41, 99, 12];
      const ahead = b.createSession(cache);
      const inputs = [await ahead.next(prompt, new Sampler(GREEDY))];
      for await (const id of ahead.decodeIds(inputs[0], new Sampler(GREEDY), 20)) {
        if (inputs.length === 6) break; // the 6th id: 6 steps ran, and the next 2 positions are in flight
        inputs.push(id);
      }
      expect(ahead.length).toBe(promptLength + 6);
      expect(inputs.length).toBe(6);
      const steady = b.createSession(cache);
      await steady.forward(prompt, 'last');
      for (const id of inputs) await steady.forward([id], 'last');
      for (const id of other) expect(maxAbsDiff(await ahead.forward([id], 'last'), await steady.forward([id], 'last'))).toBeLessThan(1e-5);
      ahead.close();
      steady.close();
    },
  );
});

describe('kernel family tiled (coalesced decode GEMV, fused norms) on the same adapter', () => {
  it('auto picks the rowwise family on this CPU-emulated adapter', async () => {
    expect((await gpuBackend(await sharedModel('stories260K'))).kernels).toBe('rowwise');
  });

  it('this adapter has subgroups, and they can be turned off', async () => {
    const m = await sharedModel('stories260K');
    expect((await gpuBackend(m, 'f32', 128, 'tiled')).gpu.features.subgroups).toBe(true);
    expect((await gpuBackend(m, 'f32', 128, 'tiled', false)).gpu.features.subgroups).toBe(false);
  });

  const formats = [
    ['f32', true],
    ['f16', true],
    ['q8', true],
    ['q4', true],
    ['q8', false],
    ['q4', false],
  ] as const;
  it.each(formats)(
    '%s weights, subgroups %s: logits equal the reference on the same weights (64-token prefill, 32 decode steps)',
    async (format, subgroups) => {
      const m = await sharedModel('stories260K');
      const gpu = await gpuBackend(m, format, 128, 'tiled', subgroups);
      expect(gpu.kernels).toBe('tiled');
      expect(await worstDiff(gpu, new ReferenceBackend(withWeightFormat(m, format)), F32, promptOf(512, 64), 32)).toBeLessThan(2e-3);
    },
  );

  it('f16Math: the prefill GEMMs and decode GEMVs run in f16, attention stages queries in f16, where the device has shader-f16 (lavapipe), within the fp16 bound of the reference; refused without it (SwiftShader)', async () => {
    const m = await sharedModel('stories260K');
    const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'q8', kernels: 'tiled', f16Math: true });
    opened.push(b);
    if (!b.gpu.features.shaderF16) {
      expect(b.f16Math).toBe(false);
      return;
    }
    expect(b.f16Math).toBe(true);
    const f32Backend = await gpuBackend(m, 'q8', 128, 'tiled');
    const prompt = promptOf(512, 64);
    const steps = [5, 77, 301, 12, 450, 9, 260, 33];
    /** All logits of the prompt (GEMMs), then the logits of one-token steps (GEMVs). */
    const trace = async (backend: Backend) => {
      const s = backend.createSession(F32);
      const out = { prefill: await s.forward(prompt, 'all'), decode: [] as Float32Array[] };
      for (const id of steps) out.decode.push(await s.forward([id], 'last'));
      s.close();
      return out;
    };
    const want = await trace(new ReferenceBackend(withWeightFormat(m, 'q8')));
    const [f16, f32] = [await trace(b), await trace(f32Backend)];
    const decodeGap = (t: typeof want) => Math.max(...t.decode.map((x, i) => maxAbsDiff(x, want.decode[i])));
    const gaps = {
      prefill16: maxAbsDiff(f16.prefill, want.prefill),
      prefill32: maxAbsDiff(f32.prefill, want.prefill),
      decode16: decodeGap(f16),
      decode32: decodeGap(f32),
    };
    console.log(
      `64-token prefill, all logits: f16 ${gaps.prefill16.toExponential(2)}, f32 ${gaps.prefill32.toExponential(2)}; 8 decode steps: f16 ${gaps.decode16.toExponential(2)}, f32 ${gaps.decode32.toExponential(2)} from the reference`,
    );
    expect(gaps.prefill16).toBeLessThan(5e-2);
    expect(gaps.decode16).toBeLessThan(5e-2);
    // The f16 paths really ran: each moves the logits well past the f32 kernels' rounding.
    expect(gaps.prefill16).toBeGreaterThan(2 * gaps.prefill32);
    expect(gaps.decode16).toBeGreaterThan(2 * gaps.decode32);
    // Greedy decode in f16 after the oracle's first 8 ids continues it.
    const oracle = ORACLES.stories260K.split(' ').map(Number);
    const ids = await generateIds(b, [1, ...oracle.slice(0, 8)], { maxTokens: 8, cache: FP16, sampling: GREEDY, stopIds: [] });
    expect(ids).toEqual(oracle.slice(8, 16));
  });

  it.each(
    (Object.keys(ORACLES) as SharedModel[]).flatMap(
      (name) =>
        [
          [name, true],
          [name, false],
        ] as const,
    ),
  )('%s, subgroups %s: the greedy oracle ids (fp16 cache)', async (name, subgroups) => {
    const m = await sharedModel(name);
    const ids = await generateIds(await gpuBackend(m, 'f32', 128, 'tiled', subgroups), [1], {
      maxTokens: ORACLES[name].split(' ').length,
      cache: FP16,
      sampling: GREEDY,
      stopIds: [],
    });
    expect(ids.join(' ')).toBe(ORACLES[name]);
  });

  it("'all' logits of a one-token slice (the decode list fuses the final norm) equal the reference", async () => {
    const m = await sharedModel('stories260K');
    const gpu = (await gpuBackend(m, 'f32', 128, 'tiled')).createSession(F32);
    const cpu = new ReferenceBackend(m).createSession(F32);
    for (const ids of [[1, 403, 407], [261], [378, 432], [383]]) {
      expect(maxAbsDiff(await gpu.forward(ids, 'all'), await cpu.forward(ids, 'all'))).toBeLessThan(2e-3);
    }
    gpu.close();
  });

  it('Qwen2 biases, row-split matrices (4 KiB bindings), fused residual adds, q4 (synthetic)', async () => {
    const shape: SyntheticShape = {
      hidden: 48,
      layers: 2,
      heads: 6,
      kvHeads: 2,
      headDim: 8,
      ffn: 80,
      vocab: 300,
      architecture: 'Qwen2ForCausalLM',
      bias: true,
    };
    const m = await loadModel(syntheticSource(shape));
    const acquired = await acquireDevice(nodeGpu());
    const b = await WebGpuBackend.fromPacked({ ...acquired, maxStorageBindingBytes: 4096 }, nodeShaders(), m.spec, packModelWeights(m.spec, m.weights, 'q4'), {
      kernels: 'tiled',
    });
    opened.push(b);
    expect(b.weights.lmHead.parts.length).toBeGreaterThan(1);
    expect(await worstDiff(b, new ReferenceBackend(withWeightFormat(m, 'q4')), F32, promptOf(300, 20), 8)).toBeLessThan(2e-3);
  });
});

describe('weight formats', () => {
  it.each(['f16', 'q8', 'q4'] as const)('%s: GPU logits equal the reference run on the same quantized weights', async (format) => {
    const m = await sharedModel('stories260K');
    const diff = await worstDiff(await gpuBackend(m, format), new ReferenceBackend(withWeightFormat(m, format)), F32, promptOf(512, 24), 8);
    expect(diff).toBeLessThan(2e-3);
  });

  it('reported weight bytes equal the packed tensor sizes; KV bytes per token equal the formula', async () => {
    const m = await sharedModel('tinystories-656k'); // tied: only lm_head.weight is stored
    const s = m.spec;
    const q = s.numHeads * s.headDim;
    const kv = kvDim(s);
    for (const format of PACK_FORMATS) {
      const b = await gpuBackend(m, format);
      const perLayer =
        packedBytes(format, q, s.hiddenSize) +
        2 * packedBytes(format, kv, s.hiddenSize) +
        packedBytes(format, s.hiddenSize, q) +
        2 * packedBytes(format, s.intermediateSize, s.hiddenSize) +
        packedBytes(format, s.hiddenSize, s.intermediateSize) +
        2 * s.hiddenSize * 4;
      const expected = packedBytes(format, s.vocabSize, s.hiddenSize) + s.numLayers * perLayer + s.hiddenSize * 4;
      expect(b.memoryReport().weights, format).toBe(expected);
      b.destroy();
      opened.pop();
    }
    const b = await gpuBackend(m);
    const session = b.createSession(FP16);
    await session.forward([1, 2, 3], 'last');
    expect(session.bytesPerToken()).toBe(s.numLayers * 2 * kv * 2);
    expect(session.bytesPerToken()).toBe(cacheBytesPerToken(s, FP16));
    expect(session.cache.storedBytes()).toBe(3 * s.numLayers * 2 * kv * 2);
    expect(b.memoryReport().cache).toBeGreaterThanOrEqual(128 * s.numLayers * 2 * kv * 2);
  });

  it('q8 perplexity is within 1% of f32 and GPU equals CPU on the same q8 weights within 0.2% (stories260K, ctx 512, 4 windows)', async () => {
    const m = await sharedModel('stories260K');
    const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
    const o = { ctx: 512, windows: 4, bos: 1, cache: F32 };
    const f32 = (await evaluatePerplexity(await gpuBackend(m), ids, o)).ppl;
    const q8 = (await evaluatePerplexity(await gpuBackend(m, 'q8'), ids, o)).ppl;
    const q8cpu = (await evaluatePerplexity(new ReferenceBackend(withWeightFormat(m, 'q8')), ids, o)).ppl;
    expect(Math.abs(q8 / f32 - 1)).toBeLessThan(0.01);
    expect(Math.abs(q8 / q8cpu - 1)).toBeLessThan(0.002);
  });
});

describe('teacher-forced decode steps (forwardEach, used by perplexity)', () => {
  it('equal one forward per token exactly, across several staging-buffer fills, in a quantized mode', async () => {
    const m = await sharedModel('stories260K');
    const gpu = await gpuBackend(m, 'f32', 8); // 8 logit rows: 21 steps take 3 readbacks
    const cache = parseCacheMode('kivi-2');
    const ids = promptOf(512, 21);
    const each = await gpu.createSession(cache).forwardEach(ids);
    const one = gpu.createSession(cache);
    for (const [t, id] of ids.entries()) expect(await one.forward([id], 'last')).toEqual(each.subarray(t * 512, (t + 1) * 512));
    const cpu = await new ReferenceBackend(m).createSession(cache).forwardEach(ids);
    expect(maxAbsDiff(each, cpu)).toBeLessThan(2e-3);
  });
});

describe('failures', () => {
  it('a lost device turns into DeviceLostError; a bad token id into InvalidArgumentError', async () => {
    const m = await sharedModel('stories260K');
    const b = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32' });
    const s = b.createSession(F32);
    await expect(s.forward([1, 600], 'last')).rejects.toThrow(InvalidArgumentError);
    await expect(s.forward([1, 600], 'last')).rejects.toThrow(/ids\[1\]: token id out of range; expected 0 <= id < 512; got 600/);
    b.gpu.device.destroy();
    await b.gpu.lost;
    await expect(s.forward([1, 2], 'last')).rejects.toThrow(DeviceLostError);
    expect(() => b.createSession(F32)).toThrow(/device was lost/);
  });

  it('logits that are all NaN (an overflow upstream): a GpuError that says so, from next() and from run-ahead decode', async () => {
    const m = await sharedModel('stories260K');
    const packed = packModelWeights(m.spec, m.weights, 'f32');
    const b = await WebGpuBackend.fromPacked(await acquireDevice(nodeGpu()), nodeShaders(), m.spec, {
      ...packed,
      finalNorm: packed.finalNorm.map(() => Number.NaN),
    });
    opened.push(b);
    await expect(b.createSession(F32).next([1, 403], new Sampler(GREEDY))).rejects.toThrow(/^the GPU chose no token \(id 4294967295\): its logits were NaN/);
    const steps = b.createSession(F32).decodeIds(1, new Sampler(GREEDY), 4);
    await expect(steps.next()).rejects.toThrow(GpuError);
  });

  it('weights that do not fit GPU memory: GpuOutOfMemoryError with their bytes, and the device is released', async () => {
    const m = await sharedModel('stories260K');
    const packed = packModelWeights(m.spec, m.weights, 'f32');
    const bytes = (await gpuBackend(m)).memoryReport().weights;
    const gpu = scarceDevice(await acquireDevice(nodeGpu()));
    gpu.allowMore(bytes / 2);
    const err = await WebGpuBackend.fromPacked(gpu, nodeShaders(), m.spec, packed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err).toMatchObject({ requested: bytes, expected: `${bytes} bytes of GPU memory for the weights` });
    expect((err as Error).message).toMatch(/^uploading the weights failed \(out of memory: \d+ bytes for /);
    expect((await gpu.lost).reason).toBe('destroyed');
    expect(gpu.unscopedFailures).toEqual([]);
  });

  it('a cache or session that does not fit: GpuOutOfMemoryError before anything runs; the backend stays usable with the same logits', async () => {
    const m = await sharedModel('stories260K');
    const gpu = scarceDevice(await acquireDevice(nodeGpu()));
    const b = await WebGpuBackend.fromPacked(gpu, nodeShaders(), m.spec, packModelWeights(m.spec, m.weights, 'f32'));
    opened.push(b);
    const ids = promptOf(512, 200);
    const want = await b.createSession(FP16).forward(ids.slice(0, 8), 'last');

    const s = b.createSession(FP16); // room for 128 tokens
    await s.forward(ids.slice(0, 8), 'last');
    gpu.allowMore(0);
    const grow = await s.forward(ids.slice(8), 'last').catch((e: unknown) => e);
    expect(grow).toBeInstanceOf(GpuOutOfMemoryError);
    expect((grow as Error).message).toMatch(/^growing the cache to 256 tokens failed \(out of memory/);
    expect(grow).toMatchObject({ requested: 256 * 640 }); // fp16 K and V: 640 bytes per token
    await expect(s.forward([1], 'last')).rejects.toBe(grow); // its buffers are invalid now
    s.close();

    const fresh = b.createSession(FP16); // its activations cannot be allocated
    const denied = await fresh.forward([1], 'last').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(GpuOutOfMemoryError);
    expect((denied as Error).message).toMatch(/^allocating the session's buffers failed \(out of memory/);
    expect((denied as GpuOutOfMemoryError).requested).toBeGreaterThan(128 * 640); // its activations and its first 128 tokens of cache
    fresh.close();

    gpu.allowMore(Infinity);
    const again = b.createSession(FP16);
    expect(await again.forward(ids.slice(0, 8), 'last')).toEqual(want);
    again.close();
    expect(() => b.checkAlive()).not.toThrow(); // no validation error escaped a scope
    expect(gpu.unscopedFailures).toEqual([]);
  });
});

describe('synthetic models', () => {
  const shape: SyntheticShape = { hidden: 48, layers: 2, heads: 6, kvHeads: 2, headDim: 8, ffn: 80, vocab: 300 };
  const run = async (m: LoadedModel, steps = 40, maxBatch = 128, kernels: KernelChoice = 'auto', cache = F32) =>
    worstDiff(await gpuBackend(m, 'f32', maxBatch, kernels), new ReferenceBackend(m), cache, promptOf(m.spec.vocabSize, 150), steps);

  it('Qwen2 with q/k/v biases and llama3 RoPE scaling, prompt longer than one batch', async () => {
    const s: SyntheticShape = {
      ...shape,
      architecture: 'Qwen2ForCausalLM',
      bias: true,
      ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    };
    expect(await run(await loadModel(syntheticSource(s)), 40, 64)).toBeLessThan(2e-3);
  });

  it.each(['auto', 'tiled'] as const)('Mistral sliding window shorter than the context (kernels %s)', async (kernels) => {
    const config = { ...syntheticConfig(shape), architectures: ['MistralForCausalLM'], sliding_window: 40 };
    const m = await loadModel(syntheticSource(shape, { files: { 'config.json': JSON.stringify(config) } }));
    expect(m.spec.slidingWindow).toBe(40);
    expect(await run(m, 40, 128, kernels)).toBeLessThan(2e-3);
  });

  it('tiled family decode attention (a workgroup per kv head and chunk) over several 64-key tiles and chunks, f32 and fp16 pools', async () => {
    const m = await loadModel(syntheticSource({ ...shape, heads: 8, kvHeads: 2, headDim: 16, hidden: 64 }));
    expect(await run(m, 60, 128, 'tiled')).toBeLessThan(2e-3);
    expect(await run(m, 60, 128, 'tiled', FP16)).toBeLessThan(5e-2);
  });

  it('tiled family decode attention splits a long context over more than MAX_CHUNKS key chunks per kv head', async () => {
    const m = await loadModel(syntheticSource({ ...shape, heads: 8, kvHeads: 2, headDim: 16, hidden: 64 }));
    const dev = countingDevice(await acquireDevice(nodeGpu()));
    const b = await WebGpuBackend.fromPacked(dev, nodeShaders(), m.spec, packModelWeights(m.spec, m.weights, 'f32'), { kernels: 'tiled' });
    opened.push(b);
    const prompt = promptOf(300, 1300);
    const g = b.createSession(F32);
    const c = new ReferenceBackend(m).createSession(F32);
    let want = await c.forward(prompt, 'last');
    let worst = maxAbsDiff(await g.forward(prompt, 'last'), want);
    dev.reset();
    for (let step = 0; step < 4; step++) {
      const id = want.indexOf(Math.max(...want));
      want = await c.forward([id], 'last');
      worst = Math.max(worst, maxAbsDiff(await g.forward([id], 'last'), want));
    }
    g.close();
    // 1,301-1,304 keys in chunks of at least 64: 20 per kv head (the rowwise family would stop at MAX_CHUNKS).
    expect(dev.largestGrid.get('attention-flash')).toBe(2 * 20);
    expect(worst).toBeLessThan(2e-3);
  });

  it('matrices split into row parts when a binding limit is small', async () => {
    const m = await loadModel(syntheticSource(shape));
    const acquired = await acquireDevice(nodeGpu());
    // 4 KiB bindings: the 300-row LM head (48 f32 columns padded to 64) needs 19 parts.
    const b = await WebGpuBackend.fromPacked({ ...acquired, maxStorageBindingBytes: 4096 }, nodeShaders(), m.spec, packModelWeights(m.spec, m.weights, 'f32'));
    opened.push(b);
    expect(b.weights.lmHead.parts.length).toBe(19);
    expect(await worstDiff(b, new ReferenceBackend(m), F32, promptOf(300, 20), 5)).toBeLessThan(2e-3);
  });
});

describe('GGUF models on WebGPU (streamed, as the browser loads them)', () => {
  const DEFAULT_MODEL = new URL('../../public/models/austen-3m', import.meta.url).pathname;
  it.each([
    ['Q4_0', 'q4'],
    ['Q4_K', 'q8'],
  ] as const)('austen-3m written as %s, run as %s: GPU logits equal the reference on the same weights', async (enc, format) => {
    const bytes = await hfToGguf(new NodeFolderSource(DEFAULT_MODEL), { encoding: enc });
    const source = new GgufModelSource(new MemoryFileSource('written', new Map([['m.gguf', bytes.buffer as ArrayBuffer]])), 'm.gguf');
    const { model } = await loadPreparedModel({ resolved: { id: 'gguf-test', revision: '', name: 'm.gguf', source }, format, cache: null });
    const gpu = await WebGpuBackend.fromStream(await acquireDevice(nodeGpu()), nodeShaders(), model.spec, model.weights, { latents: model.latents });
    opened.push(gpu);
    const cpu = new ReferenceBackend(await loadModelAs(source, format));
    expect(await worstDiff(gpu, cpu, F32, promptOf(cpu.spec.vocabSize, 24), 8)).toBeLessThan(2e-3);
  });
});
