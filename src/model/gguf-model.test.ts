// GGUF models against their Hugging Face folders: llama.cpp's own stories260K.gguf, and GGUF files this
// test writes from the shared models and the default model (src/test-support/gguf-writer.ts).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { createReferenceCache } from '../reference/caches/create-cache';
import { ReferenceBackend } from '../reference/backend';
import { generateIds } from '../engine/generate';
import { GREEDY } from '../engine/sampling';
import { evaluatePerplexity } from '../eval/perplexity';
import { ReferenceDecoder } from '../reference/decoder';
import { loadModelAs } from '../quant/pack-checkpoint';
import type { WeightFormat } from '../quant/weight-format';
import { hfToGguf } from '../test-support/gguf-writer';
import { maxAbsDiff } from '../test-support/compare';
import { sharedModel, sharedPath, sharedText } from '../test-support/shared-models';
import { syntheticSource } from '../test-support/synthetic-model';
import { GEMMA3_SHAPE, PHI35_SHAPE, PHI4_SHAPE, SMOLLM3_SHAPE } from '../test-support/architecture-shapes';
import { MemoryFileSource } from './file-source';
import { GgufModelSource } from './gguf-model';
import { loadModel, type LoadedModel } from './load-model';
import { NodeFolderSource, nodeModelSource } from './node-file-source';
import type { TensorEncoding } from './tensor-encoding';

const F32 = parseCacheMode('f32');
const ORACLE_PROMPT = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426];
const DEFAULT_MODEL = resolve(import.meta.dirname, '../../public/models/austen-3m');

const logitsOf = (m: LoadedModel, ids: number[]) => new ReferenceDecoder(m).forward(ids, createReferenceCache(m, F32));

function ggufSource(name: string, bytes: Uint8Array): GgufModelSource {
  return new GgufModelSource(new MemoryFileSource('written', new Map([[name, bytes.buffer as ArrayBuffer]])), name);
}

describe("llama.cpp's stories260K.gguf", () => {
  const load = () => loadModel(nodeModelSource(sharedPath('models/stories260K/original/stories260K.gguf')));

  it('has the spec of its Hugging Face folder', async () => {
    const [g, hf] = await Promise.all([load(), sharedModel('stories260K')]);
    const { tieWordEmbeddings: _t, maxPositionEmbeddings: ctx, ...rest } = g.spec;
    const { tieWordEmbeddings: _h, maxPositionEmbeddings: _c, ...hfRest } = hf.spec;
    expect(rest).toEqual(hfRest);
    expect(ctx).toBe(2048); // llama.cpp wrote its training context; the HF folder says 512
  });

  it("holds the HF folder's weights exactly once q/k rows are put back in rotate-half order", async () => {
    const [g, hf] = await Promise.all([load(), sharedModel('stories260K')]);
    expect(g.weights.embed).toEqual(hf.weights.embed);
    expect(g.weights.lmHead).toEqual(hf.weights.embed); // the GGUF stores output.weight; the HF folder ties it
    g.weights.layers.forEach((l, i) => {
      for (const k of ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown', 'attnNorm', 'mlpNorm'] as const)
        expect(l[k], `layer ${i} ${k}`).toEqual(hf.weights.layers[i][k]);
    });
  });

  it('reproduces the greedy oracle and the top logits of the oracle prompt', async () => {
    const g = await load();
    const ids = await generateIds(new ReferenceBackend(g), [1], { maxTokens: 32, cache: F32, sampling: GREEDY, stopIds: [] });
    expect(ids.join(' ')).toBe(
      '403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385',
    );
    const logits = logitsOf(g, ORACLE_PROMPT);
    expect(logits[338]).toBeCloseTo(17.4565, 2);
    expect([...logits]).toEqual([...logitsOf(await sharedModel('stories260K'), ORACLE_PROMPT)]);
  });

  it("its embedded tokenizer encodes and decodes as the HF folder's", async () => {
    const [g, hf] = await Promise.all([load(), sharedModel('stories260K')]);
    const text = sharedText('tinystories-valid-head.txt').slice(0, 5000);
    expect(g.tokenizer.encode(text)).toEqual(hf.tokenizer.encode(text));
    expect(g.tokenizer.decode(ORACLE_PROMPT)).toBe('Once upon a time, there was a little girl named Lily.');
  });
});

describe('GGUF files written from Hugging Face folders load as the folder', () => {
  // Perplexity over the first windows of TinyStories: F32 is the folder's exactly; the quantized types cost
  // what their bits cost (bounds from the measured values, BENCHMARKS.md "GGUF").
  const cases: { model: string; dir: () => string; ctx: number; windows: number }[] = [
    { model: 'stories260K', dir: () => sharedPath('models/stories260K'), ctx: 128, windows: 8 },
    { model: 'aidreams260K (MHA)', dir: () => sharedPath('models/aidreams260K'), ctx: 128, windows: 8 },
    { model: 'tinystories-656k (only lm_head stored)', dir: () => sharedPath('models/tinystories-656k'), ctx: 128, windows: 8 },
    { model: 'austen-3m (default)', dir: () => DEFAULT_MODEL, ctx: 128, windows: 2 },
  ];
  for (const c of cases) {
    describe(c.model, () => {
      const hf = () => new NodeFolderSource(c.dir());
      const ppl = async (m: LoadedModel) => {
        const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt').slice(0, 40_000));
        return (await evaluatePerplexity(new ReferenceBackend(m), ids, { ctx: c.ctx, windows: c.windows, bos: m.spec.bosTokenId ?? 1, cache: F32 })).ppl;
      };
      let base: number;
      let q4: number;

      it('F32: identical logits; F16 equals the folder in f16 weights', async () => {
        const folder = await loadModel(hf());
        base = await ppl(folder);
        q4 = await ppl(await loadModelAs(hf(), 'q4'));
        const prompt = folder.tokenizer.encode('It was a truth universally acknowledged, that a little girl named Lily');
        const f32 = await loadModel(ggufSource('m-f32.gguf', await hfToGguf(hf(), { encoding: 'F32' })));
        expect(f32.tokenizer.encode('Hello there, Lily!')).toEqual(folder.tokenizer.encode('Hello there, Lily!'));
        expect([...logitsOf(f32, prompt)]).toEqual([...logitsOf(folder, prompt)]);
        const f16 = await loadModelAs(ggufSource('m-f16.gguf', await hfToGguf(hf(), { encoding: 'F16' })), 'f16');
        expect([...logitsOf(f16, prompt)]).toEqual([...logitsOf(await loadModelAs(hf(), 'f16'), prompt)]);
      });

      // 8- and 6-bit types and Q4_K kept in q8 stay within 1-3% of f32, 5-bit ones within 5%; Q4_0 in q4 costs what the
      // engine's own q4 costs; Q4_K requantized to q4 (rounded twice) a little more.
      // (K-quant rows must be whole 256-blocks: narrower matrices fall back as llama.cpp does, to Q5_0 / Q8_0.)
      const quantized: [TensorEncoding, WeightFormat, 'f32' | 'q4', number][] = [
        ['Q8_0', 'q8', 'f32', 1.01],
        ['Q6_K', 'q8', 'f32', 1.01],
        ['Q5_K', 'q8', 'f32', 1.05],
        ['Q4_0', 'q4', 'q4', 1.05],
        ['Q4_K', 'q8', 'f32', 1.03],
        ['Q4_K', 'q4', 'q4', 1.1],
      ];
      for (const [enc, format, against, bound] of quantized) {
        it(`${enc} run as ${format}: perplexity within ${bound}x of the folder's in ${against}`, async () => {
          const g = await loadModelAs(ggufSource(`m-${enc}.gguf`, await hfToGguf(hf(), { encoding: enc })), format);
          const p = await ppl(g);
          const ref = against === 'f32' ? base : q4;
          console.log(`${c.model} ${enc} as ${format}: ppl ${p.toFixed(4)}; folder f32 ${base.toFixed(4)}, folder q4 ${q4.toFixed(4)}`);
          expect(p / ref).toBeLessThan(bound);
          expect(p / base).toBeGreaterThan(0.9); // 4-bit noise can lower a tiny model's perplexity a little, not much
        });
      }
    });
  }

  it('Q4_0 run as q4 uses the stored values exactly (no second rounding)', async () => {
    const bytes = await hfToGguf(new NodeFolderSource(sharedPath('models/stories260K')), { encoding: 'Q4_0' });
    const asF32 = await loadModel(ggufSource('a.gguf', bytes)); // every tensor decoded to f32
    const asQ4 = await loadModelAs(ggufSource('b.gguf', bytes), 'q4'); // Q4_0 repacked into q4
    expect(asQ4.weights.layers[0].wq).toEqual(asF32.weights.layers[0].wq);
    expect(asQ4.weights.embed).toEqual(asF32.weights.embed);
  });
});

describe('GGUF errors name the file and the field', () => {
  const stories = () => new NodeFolderSource(sharedPath('models/stories260K'));
  const broken = async (edit: Parameters<typeof hfToGguf>[1]['edit']) => loadModel(ggufSource('x.gguf', await hfToGguf(stories(), { encoding: 'F32', edit })));

  it('an architecture the engine does not run', async () => {
    await expect(broken((m) => m.set('general.architecture', 'gemma'))).rejects.toMatchObject({
      code: 'UNSUPPORTED_MODEL',
      field: 'general.architecture',
      got: 'gemma',
      file: 'written/x.gguf',
    });
  });

  it('a missing hyper-parameter', async () => {
    await expect(broken((m) => m.delete('llama.embedding_length'))).rejects.toMatchObject({ code: 'MODEL_FORMAT', field: 'llama.embedding_length' });
  });

  it('a rotary part wider than a head', async () => {
    await expect(broken((m) => m.set('llama.rope.dimension_count', 10))).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      field: 'llama.rope.dimension_count',
      expected: 'even, at most 8',
    });
  });

  it('a tensor type the loader does not read (IQ2_XXS)', async () => {
    const edit = (_m: unknown, t: { name: string; dims: number[]; type: unknown; data: Uint8Array }[]) => {
      const i = t.findIndex((x) => x.name === 'blk.0.ffn_up.weight');
      t[i] = { name: 'blk.0.ffn_up.weight', dims: [256, 1], type: 16, data: new Uint8Array(66) };
    };
    await expect(broken(edit as never)).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL', field: 'blk.0.ffn_up.weight', got: 'IQ2_XXS' });
  });

  it('a tensor whose shape disagrees with the metadata', async () => {
    await expect(broken((m) => m.set('llama.feed_forward_length', 96))).rejects.toMatchObject({ code: 'MODEL_FORMAT', field: 'blk.0.ffn_gate.weight' });
  });
});

describe('Qwen3 as llama.cpp converts it (`qwen3`: q/k norms, attention.key_length)', () => {
  it("a GGUF file in llama.cpp's layout has the folder's spec, q/k norm weights and logits", async () => {
    const files = {
      'tokenizer.json': readFileSync(sharedPath('models/stories260K/tokenizer.json'), 'utf8'),
      'tokenizer_config.json': readFileSync(sharedPath('models/stories260K/tokenizer_config.json'), 'utf8'),
    };
    const shape = { hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 32, ffn: 96, vocab: 512, architecture: 'Qwen3ForCausalLM' };
    const folder = syntheticSource(shape, { files });
    const hf = await loadModel(folder);
    const g = await loadModel(ggufSource('qwen3.gguf', await hfToGguf(syntheticSource(shape, { files }), { encoding: 'F32' })));
    expect(g.spec).toMatchObject({ architecture: 'Qwen3ForCausalLM', qkNorm: true, headDim: 32, hiddenSize: 64, numHeads: 4, attentionBias: false });
    expect(g.spec).toEqual(hf.spec);
    expect(g.weights.layers[1].kNorm).toEqual(hf.weights.layers[1].kNorm);
    const ids = [1, 400, 33, 261, 90, 7];
    expect(maxAbsDiff(logitsOf(g, ids), logitsOf(hf, ids))).toBe(0);
  });
});

describe('Phi-3 (`phi3`: attn_qkv, double-height ffn_up, rope_factors_*), SmolLM3 (`smollm3`) and Gemma 3 (`gemma3`) as llama.cpp converts them', () => {
  it.each([
    ['Phi-3.5 kind', PHI35_SHAPE, ['blk.0.attn_qkv.weight', 'blk.0.ffn_up.weight', 'rope_factors_short.weight'], 'blk.0.ffn_gate.weight'],
    ['Phi-4-mini kind (partial rotary)', PHI4_SHAPE, ['blk.0.attn_qkv.weight', 'rope_factors_long.weight'], 'blk.0.attn_q.weight'],
    [
      'SmolLM3 kind (every 4th layer unturned, q/k rows interleaved)',
      SMOLLM3_SHAPE,
      ['blk.3.attn_q.weight', 'blk.0.ffn_gate.weight'],
      'rope_factors_short.weight',
    ],
    // llama.cpp's gemma3 takes query_pre_attn_scalar as head_dim; its norms are stored as 1 + w.
    [
      'Gemma 3 kind (four norms a layer, sliding layers)',
      { ...GEMMA3_SHAPE, config: { ...GEMMA3_SHAPE.config, query_pre_attn_scalar: GEMMA3_SHAPE.headDim } },
      ['blk.0.post_attention_norm.weight', 'blk.0.ffn_norm.weight', 'blk.0.post_ffw_norm.weight', 'blk.0.attn_q_norm.weight'],
      'output.weight',
    ],
    // Gemma-3-4B and up: linear RoPE scaling on the global layers (rope.scaling.type / factor in the file).
    [
      'Gemma 3 4B kind (linear RoPE scaling, factor 8)',
      { ...GEMMA3_SHAPE, config: { ...GEMMA3_SHAPE.config, query_pre_attn_scalar: GEMMA3_SHAPE.headDim, rope_scaling: { rope_type: 'linear', factor: 8 } } },
      ['blk.0.attn_k_norm.weight'],
      'output.weight',
    ],
    // Gemma-3-27B (62 layers, llama.cpp's only way to tell it): the softmax scale of hidden / heads (168 there), not head_dim.
    [
      'Gemma 3 27B kind (query_pre_attn_scalar = hidden / heads)',
      { ...GEMMA3_SHAPE, layers: 62, heads: 4, kvHeads: 2, config: { ...GEMMA3_SHAPE.config, query_pre_attn_scalar: GEMMA3_SHAPE.hidden / 4 } },
      ['blk.61.attn_k_norm.weight'],
      'output.weight',
    ],
  ])("%s: a GGUF file in llama.cpp's layout has the folder's spec and logits", async (_, shape, present, absent) => {
    const files = {
      'tokenizer.json': readFileSync(sharedPath('models/stories260K/tokenizer.json'), 'utf8'),
      'tokenizer_config.json': readFileSync(sharedPath('models/stories260K/tokenizer_config.json'), 'utf8'),
    };
    const big = { ...shape, vocab: 512 };
    const hf = await loadModel(syntheticSource(big, { files }));
    const bytes = await hfToGguf(syntheticSource(big, { files }), { encoding: 'F32' });
    const file = ggufSource('model.gguf', bytes);
    const g = await loadModel(file);
    // GGUF holds longrope's factors and amplitude in f32, as llama.cpp writes them: the rest of the spec is equal.
    const f32 = (s: typeof hf.spec) => JSON.parse(JSON.stringify(s, (_, v) => (typeof v === 'number' ? Math.fround(v) : v)));
    expect(f32(g.spec)).toEqual(f32(hf.spec));
    expect(g.spec.architecture).toBe(shape.architecture);
    const ids = [1, 400, 33, 261, 90, 7];
    expect(maxAbsDiff(logitsOf(g, ids), logitsOf(hf, ids))).toBeLessThan(1e-5);
    // The file holds the tensors as llama.cpp writes them (fused for phi3), not the engine's parts.
    const names = [...(await file.ggufHeader()).tensors.keys()];
    expect(names).toEqual(expect.arrayContaining(present));
    expect(names).not.toContain(absent);
  });
});
