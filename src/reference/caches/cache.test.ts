import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../errors';
import { ReferenceBackend } from '../backend';
import { evaluatePerplexity } from '../../eval/perplexity';
import { loadModel, type LoadedModel } from '../../model/load-model';
import { kvDim, type ModelSpec } from '../../model/model-spec';
import { ReferenceDecoder } from '../decoder';
import { sharedModel, sharedText } from '../../test-support/shared-models';
import { syntheticSource, TINY } from '../../test-support/synthetic-model';
import { cacheBytesPerToken, fp16KvBytesPerToken } from '../../cache/cache-bytes';
import { cacheModeName, clBaseLayers, parseCacheMode, type CacheConfig } from '../../cache/cache-config';
import { createReferenceCache } from './create-cache';

// §5 of docs/xquant.md, written out independently of the implementation:
// q(n, b) = n·(b/8) + 4 bytes of f16 scale+zero per group of up to 128 along the row;
// per-channel groups run over 128 tokens, so their metadata costs 4/128 bytes per channel per token.
const q = (n: number, b: number) => (n * b) / 8 + Math.ceil(n / 128) * 4;
const qc = (n: number, b: number) => n * (b / 8 + 4 / 128);

function formula(s: ModelSpec, mode: string, b: number, pin = 0): number {
  const L = s.numLayers;
  const dkv = kvDim(s);
  const bits = (l: number) => (l < pin ? Math.max(4, b) : b);
  let sum = 0;
  for (let l = 0; l < L; l++) {
    if (mode === 'fp16') sum += 2 * dkv * 2;
    if (mode === 'kivi' || mode === 'xquant-gqa') sum += qc(dkv, bits(l)) + q(dkv, bits(l));
    if (mode === 'xquant') sum += q(s.hiddenSize, bits(l));
    if (mode === 'xquant-cl') sum += q(s.hiddenSize, l < clBaseLayers(s) ? Math.max(4, bits(l)) : bits(l));
  }
  return sum;
}

const wide = { ...TINY, hidden: 256, heads: 8, kvHeads: 2, headDim: 32, layers: 6 };

describe('cache bytes per token', () => {
  it('matches the §5 formulas for every mode, bit width and pinning', async () => {
    const specs = [
      (await sharedModel('stories260K')).spec,
      (await sharedModel('aidreams260K')).spec,
      (await sharedModel('tinystories-656k')).spec,
      (await loadModel(syntheticSource(wide))).spec,
    ];
    for (const s of specs) {
      expect(cacheBytesPerToken(s, parseCacheMode('fp16'))).toBe(fp16KvBytesPerToken(s));
      expect(fp16KvBytesPerToken(s)).toBe(formula(s, 'fp16', 16));
      for (const mode of ['kivi', 'xquant', 'xquant-cl', 'xquant-gqa']) {
        for (const b of [2, 3, 4, 8]) {
          for (const pin of [0, 2]) {
            const c = parseCacheMode(`${mode}-${b}`, { pinLayers: pin });
            expect(cacheBytesPerToken(s, c), `${mode}-${b} pin ${pin}`).toBeCloseTo(formula(s, mode, b, pin), 9);
          }
        }
      }
    }
  });

  it('gives the paper ratios on a Llama-2-7B shape', () => {
    const s = { numLayers: 32, hiddenSize: 4096, numKvHeads: 32, headDim: 128, slidingWindow: null, fullAttentionLayers: [] } as unknown as ModelSpec;
    const ratio = (name: string) => cacheBytesPerToken(s, parseCacheMode(name)) / fp16KvBytesPerToken(s);
    expect(ratio('xquant-4')).toBeCloseTo(4.25 / 32, 9); // 0.133, "0.13" in Table 1
    expect(ratio('kivi-4')).toBeCloseTo(4.25 / 16, 9); // 0.266, "0.27"
    expect(ratio('xquant-3')).toBeCloseTo(3.25 / 32, 9);
  });

  it('storedBytes measures exactly n × bytesPerToken once blocks are full', async () => {
    const m = await loadModel(syntheticSource(wide));
    const dec = new ReferenceDecoder(m);
    const ids = Array.from({ length: 256 }, (_, i) => 3 + ((i * 7) % 30));
    for (const name of ['fp16', 'kivi-2', 'kivi-3', 'xquant-4', 'xquant-3', 'xquant-cl-2', 'xquant-gqa-3', 'xquant-gqa-8']) {
      const cache = createReferenceCache(m, parseCacheMode(name));
      dec.forward(ids, cache);
      expect(cache.storedBytes(), name).toBe(256 * cache.bytesPerToken());
    }
    // A residual window of R tokens costs R fp16 rows of X per layer on top.
    const cache = createReferenceCache(m, parseCacheMode('xquant-4', { residual: 16 }));
    dec.forward(ids, cache);
    expect(cache.storedBytes()).toBe(240 * cache.bytesPerToken() + 16 * wide.layers * wide.hidden * 2);
  });
});

/** Decode `steps` tokens one at a time and return every step's logits. */
function decodeLogits(m: LoadedModel, config: CacheConfig, ids: number[]): Float32Array[] {
  const dec = new ReferenceDecoder(m);
  const cache = createReferenceCache(m, config);
  return ids.map((id) => dec.forward([id], cache));
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((row, t) => row.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - b[t][i]))), (scale = Math.max(scale, Math.abs(b[t][i]))))));
  return diff / scale;
}

describe('rematerialization without quantization is exact', () => {
  const ids = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267];
  const cases: Array<[string, () => Promise<LoadedModel>, string[]]> = [
    ['stories260K (GQA)', () => sharedModel('stories260K'), ['kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4']],
    ['aidreams260K (MHA)', () => sharedModel('aidreams260K'), ['kivi-4', 'xquant-4', 'xquant-cl-4']],
    [
      'synthetic Qwen2 with q/k/v biases',
      () => loadModel(syntheticSource({ ...wide, architecture: 'Qwen2ForCausalLM', bias: true })),
      ['xquant-4', 'xquant-cl-4', 'xquant-gqa-4'],
    ],
    [
      // A K rebuilt from X (or from latents) must pass the k-norm before RoPE, as the forward's K does.
      'synthetic Qwen3 (q/k norms, head_dim 64 with hidden 256 and 8 heads)',
      () => loadModel(syntheticSource({ ...wide, architecture: 'Qwen3ForCausalLM', headDim: 64 })),
      ['kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4'],
    ],
  ];
  for (const [label, load, modes] of cases) {
    it(`${label}: logits equal the plain forward (relative 1e-5)`, async () => {
      const m = await load();
      const tokens = ids.map((t) => t % m.spec.vocabSize);
      const plain = decodeLogits(m, parseCacheMode('f32'), tokens);
      for (const mode of modes) {
        const exact = decodeLogits(m, { ...parseCacheMode(mode), exact: true }, tokens);
        expect(maxRelDiff(exact, plain), mode).toBeLessThan(1e-5);
        // ...and quantizing really changes them, so the comparison above is not vacuous.
        const quantized = decodeLogits(m, parseCacheMode(mode.replace(/-4$/, '-2')), tokens);
        expect(maxRelDiff(quantized, plain), mode).toBeGreaterThan(1e-4);
      }
    });
  }
});

describe('accuracy of the quantized modes (stories260K, ctx 512, 4 windows)', () => {
  const run = async (name: string, residual = 0) => {
    const m = await sharedModel('stories260K');
    const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
    return (await evaluatePerplexity(new ReferenceBackend(m), ids, { ctx: 512, windows: 4, bos: 1, cache: parseCacheMode(name, { residual }) })).ppl;
  };

  it('fp16 and xquant-8 are within 0.1% of f32; lower bits degrade in order', async () => {
    const base = await run('f32');
    expect(Math.abs((await run('fp16')) / base - 1)).toBeLessThan(0.001);
    expect(Math.abs((await run('xquant-8')) / base - 1)).toBeLessThan(0.001);
    const x4 = await run('xquant-4');
    const x2 = await run('xquant-2');
    expect(x4).toBeGreaterThan(base);
    expect(x2).toBeGreaterThan(x4);
    // A residual window longer than the window keeps every token in fp16: back to (almost) f32.
    expect(Math.abs((await run('xquant-2', 512)) / base - 1)).toBeLessThan(0.001);
  });
});

describe('cache mode names', () => {
  it('parses modes and rejects bad ones with typed errors', () => {
    expect(parseCacheMode('xquant-cl-3')).toEqual({ mode: 'xquant-cl', bits: 3, residual: 0, pinLayers: 0 });
    expect(parseCacheMode('kivi-2', { residual: 32, pinLayers: 3 })).toMatchObject({ residual: 32, pinLayers: 3 });
    for (const bad of ['xquant', 'xquant-5', 'fp16-4', 'kv-4', '']) expect(() => parseCacheMode(bad)).toThrow(InvalidArgumentError);
    expect(() => parseCacheMode('xquant-4', { residual: -1 })).toThrow(/residual/);
  });

  it('options after a colon: parsed, written back by cacheModeName, and rejected when malformed or set twice', () => {
    expect(parseCacheMode('xquant-cl-4:hot=256')).toEqual({ mode: 'xquant-cl', bits: 4, residual: 0, pinLayers: 0, hot: 256 });
    expect(parseCacheMode('xquant-2:residual=32,pin-layers=2')).toEqual({ mode: 'xquant', bits: 2, residual: 32, pinLayers: 2 });
    for (const name of ['xquant-2:hot=128,residual=16,pin-layers=1', 'kivi-4:residual=8', 'fp16', 'xquant-gqa-3']) {
      expect(cacheModeName(parseCacheMode(name))).toBe(name);
    }
    expect(cacheModeName(parseCacheMode('xquant-4', { residual: 16 }))).toBe('xquant-4:residual=16');
    const bad = [
      'xquant-4:',
      'xquant-4:hot',
      'xquant-4:hot=-128',
      'xquant-4:hot=1e3',
      'xquant-4:warm=128',
      'xquant-4:hot=128,hot=256',
      'xquant:hot=128',
      'xquant-4:hot=128:x',
    ];
    for (const name of bad) expect(() => parseCacheMode(name), name).toThrow(InvalidArgumentError);
    expect(() => parseCacheMode('xquant-4:hot=100')).toThrow(/multiple of 128/);
    expect(() => parseCacheMode('fp16:hot=128')).toThrow(/quantized modes/);
    expect(() => parseCacheMode('xquant-4:residual=16', { residual: 16 })).toThrow(/residual is set twice/);
  });

  it('xquant-gqa refuses MHA models; CL base layers follow the documented rule', async () => {
    const mha = await sharedModel('aidreams260K');
    expect(() => createReferenceCache(mha, parseCacheMode('xquant-gqa-4'))).toThrow(/fewer kv heads/);
    expect(clBaseLayers((await sharedModel('stories260K')).spec)).toBe(3);
    expect(clBaseLayers(mha.spec)).toBe(2);
    expect(clBaseLayers((await sharedModel('tinystories-656k')).spec)).toBe(1);
  });
});
