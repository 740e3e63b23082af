import { describe, expect, it } from 'vitest';
import { MissingFileError, ModelFormatError, UnsupportedModelError } from '../errors';
import { buildSafetensors, syntheticConfig, syntheticSource, syntheticTensors, TINY, type SyntheticShape } from '../test-support/synthetic-model';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { loadModel } from './load-model';
import { parseModelConfig } from './model-spec';
import { decodeToF32, dtypeBytes, parseSafetensorsHeader, type SafetensorsHeader, type TensorEntry } from './safetensors';

/** The header of a whole file in memory, and a tensor of it widened to f32. */
const parseSafetensors = (b: ArrayBuffer, file: string) => ({ ...parseSafetensorsHeader(new Uint8Array(b), b.byteLength, file), buffer: b });
function readTensorF32(st: SafetensorsHeader & { buffer: ArrayBuffer }, e: TensorEntry): Float32Array {
  const out = new Float32Array((e.end - e.begin) / dtypeBytes(e.dtype));
  decodeToF32(e.dtype, new Uint8Array(st.buffer, st.dataOffset + e.begin, e.end - e.begin), out);
  return out;
}

const config = (edit: Record<string, unknown> = {}) => JSON.stringify({ ...syntheticConfig(TINY), ...edit });

describe('config.json -> ModelSpec', () => {
  it('parses Llama, Mistral and Qwen2 configs', () => {
    const llama = parseModelConfig(config());
    expect(llama).toMatchObject({
      architecture: 'LlamaForCausalLM',
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 8,
      attentionBias: false,
    });
    const mistral = parseModelConfig(config({ architectures: ['MistralForCausalLM'], sliding_window: 4096 }));
    expect(mistral.slidingWindow).toBe(4096);
    const qwen = parseModelConfig(config({ architectures: ['Qwen2ForCausalLM'], attention_bias: undefined, eos_token_id: [151643, 151645] }));
    expect(qwen.attentionBias).toBe(true); // Qwen2 always has q/k/v biases
    expect(qwen.eosTokenIds).toEqual([151643, 151645]);
  });

  it('defaults head_dim and kv heads like transformers', () => {
    const s = parseModelConfig(config({ head_dim: undefined, num_key_value_heads: undefined }));
    expect(s.headDim).toBe(8);
    expect(s.numKvHeads).toBe(4);
  });

  it('reads llama3 rope scaling', () => {
    const s = parseModelConfig(
      config({ rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }),
    );
    expect(s.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });

  it('malformed config.json is a ModelFormatError naming the file', () => {
    expect(() => parseModelConfig('{"hidden_size": 3', 'm/config.json')).toThrow(/m\/config.json: not valid JSON/);
    expect(() => parseModelConfig('{"hidden_size": 3', 'm/config.json')).toThrow(ModelFormatError);
    expect(() => parseModelConfig(config({ hidden_size: -4 }))).toThrow(/hidden_size: must be a positive integer/);
    expect(() => parseModelConfig(config({ num_key_value_heads: 3 }))).toThrow(/multiple of num_key_value_heads/);
  });

  it('unsupported architecture is an UnsupportedModelError', () => {
    const e = (() => {
      try {
        parseModelConfig(config({ architectures: ['GPT2LMHeadModel'] }));
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e).toMatchObject({ code: 'UNSUPPORTED_MODEL', field: 'architectures', got: 'GPT2LMHeadModel' });
  });

  it("an architecture's unsupported option is refused (Qwen2's per-layer sliding window); Mistral's window is read, Llama's ignored", () => {
    expect(() => parseModelConfig(config({ architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }))).toThrow(
      /use_sliding_window: use_sliding_window is not supported for Qwen2ForCausalLM; expected false/,
    );
    expect(parseModelConfig(config({ architectures: ['Qwen2ForCausalLM'], use_sliding_window: false })).slidingWindow).toBeNull();
    expect(parseModelConfig(config({ sliding_window: 4096 })).slidingWindow).toBeNull();
  });
});

describe('safetensors reader', () => {
  const good = () => buildSafetensors([{ name: 'a', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }]);

  it('reads F32, F16 and BF16 tensors', () => {
    const vals = Float32Array.from([0.5, -2, 3.25, 1024]);
    const buf = buildSafetensors([
      { name: 'f32', shape: [4], data: vals },
      { name: 'f16', shape: [2, 2], data: vals, dtype: 'F16' },
      { name: 'bf16', shape: [4], data: vals, dtype: 'BF16' },
    ]);
    const st = parseSafetensors(buf, 'x.safetensors');
    for (const name of ['f32', 'f16', 'bf16']) expect(Array.from(readTensorF32(st, st.tensors.get(name)!))).toEqual(Array.from(vals));
  });

  it('truncated file', () => {
    expect(() => parseSafetensors(new ArrayBuffer(5), 'x.safetensors')).toThrow(/x.safetensors: file is truncated/);
    const cut = good().slice(0, 30);
    expect(() => parseSafetensors(cut, 'x.safetensors')).toThrow(ModelFormatError);
  });

  it('header length past the end of the file', () => {
    const b = good();
    new DataView(b).setBigUint64(0, 10n ** 12n, true);
    expect(() => parseSafetensors(b, 'x.safetensors')).toThrow(/header length runs past the end/);
  });

  it('header that is not JSON', () => {
    const b = new Uint8Array(good());
    b[8] = 0x7a; // '{' -> 'z'
    expect(() => parseSafetensors(b.buffer, 'x.safetensors')).toThrow(/header is not valid JSON/);
  });

  it('unknown and unsupported dtypes', () => {
    const b = buildSafetensors([{ name: 'a', shape: [1], data: new Float32Array(1) }], { editHeader: (h) => ((h.a as { dtype: string }).dtype = 'Q4_K') });
    expect(() => parseSafetensors(b, 'x.safetensors')).toThrow(/tensor a.dtype: unknown dtype; expected F32, F16 or BF16; got Q4_K/);
    const c = buildSafetensors([{ name: 'a', shape: [1], data: new Float32Array(1) }], { editHeader: (h) => ((h.a as { dtype: string }).dtype = 'I64') });
    expect(() => parseSafetensors(c, 'x.safetensors')).toThrow(UnsupportedModelError);
  });

  it('tensor offsets out of range', () => {
    const b = buildSafetensors([{ name: 'a', shape: [2], data: new Float32Array(2) }], {
      editHeader: (h) => ((h.a as { data_offsets: number[] }).data_offsets = [4, 12]),
    });
    expect(() => parseSafetensors(b, 'x.safetensors')).toThrow(/tensor a.data_offsets: data_offsets out of range/);
    const neg = buildSafetensors([{ name: 'a', shape: [2], data: new Float32Array(2) }], {
      editHeader: (h) => ((h.a as { data_offsets: number[] }).data_offsets = [-8, 0]),
    });
    expect(() => parseSafetensors(neg, 'x.safetensors')).toThrow(ModelFormatError);
  });

  it('overlapping tensors', () => {
    const b = buildSafetensors(
      [
        { name: 'a', shape: [2], data: new Float32Array(2) },
        { name: 'b', shape: [2], data: new Float32Array(2) },
      ],
      { editHeader: (h) => ((h.b as { data_offsets: number[] }).data_offsets = [4, 12]) },
    );
    expect(() => parseSafetensors(b, 'x.safetensors')).toThrow(/tensors overlap/);
  });

  it('byte length that disagrees with the shape', () => {
    const b = buildSafetensors([{ name: 'a', shape: [2], data: new Float32Array(2) }], { editHeader: (h) => ((h.a as { shape: number[] }).shape = [3]) });
    expect(() => parseSafetensors(b, 'x.safetensors')).toThrow(/byte length disagrees with shape/);
  });
});

describe('loadModel', () => {
  it('loads a synthetic model and its tokenizer', async () => {
    const m = await loadModel(syntheticSource());
    expect(m.weights.layers).toHaveLength(2);
    expect(m.weights.lmHead).not.toBe(m.weights.embed);
    expect(m.tokenizer.encode('w5 w7 w12')).toEqual([5, 7, 12]);
  });

  it('aliases tied embeddings in both directions', async () => {
    const shape = { ...TINY, tied: true };
    const withEmbed = syntheticTensors(shape);
    const a = await loadModel(syntheticSource(shape, { tensors: withEmbed }));
    expect(a.weights.lmHead).toBe(a.weights.embed);
    // Only lm_head.weight stored (like tinystories-656k).
    const onlyHead = withEmbed.map((t) => (t.name === 'model.embed_tokens.weight' ? { ...t, name: 'lm_head.weight' } : t));
    const b = await loadModel(syntheticSource(shape, { tensors: onlyHead }));
    expect(b.weights.embed).toBe(b.weights.lmHead);
    expect(Array.from(b.weights.embed.slice(0, 4))).toEqual(Array.from(withEmbed[0].data.slice(0, 4)));
  });

  it('loads sharded checkpoints through model.safetensors.index.json', async () => {
    const tensors = syntheticTensors(TINY);
    const half = Math.floor(tensors.length / 2);
    const shards = { 'model-00001-of-00002.safetensors': tensors.slice(0, half), 'model-00002-of-00002.safetensors': tensors.slice(half) };
    const weightMap = Object.fromEntries(Object.entries(shards).flatMap(([f, ts]) => ts.map((t) => [t.name, f])));
    const single = await loadModel(syntheticSource(TINY));
    const sharded = await loadModel(
      syntheticSource(TINY, {
        files: {
          'model.safetensors': undefined,
          'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
          'model-00001-of-00002.safetensors': buildSafetensors(shards['model-00001-of-00002.safetensors']),
          'model-00002-of-00002.safetensors': buildSafetensors(shards['model-00002-of-00002.safetensors']),
        },
      }),
    );
    expect(sharded.weights).toEqual(single.weights);
  });

  it('missing tensor', async () => {
    const tensors = syntheticTensors(TINY).filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight');
    await expect(loadModel(syntheticSource(TINY, { tensors }))).rejects.toThrow(/model.layers.1.mlp.up_proj.weight: missing tensor; expected shape \[48, 32\]/);
  });

  it('shape that disagrees with config.json', async () => {
    await expect(loadModel(syntheticSource(TINY, { files: { 'config.json': config({ intermediate_size: 50 }) } }))).rejects.toThrow(
      /synthetic\/model.safetensors: model.layers.0.mlp.gate_proj.weight: shape disagrees with config.json; expected \[50, 32\]; got \[48, 32\]/,
    );
  });

  it('unsupported architecture', async () => {
    await expect(loadModel(syntheticSource(TINY, { files: { 'config.json': config({ architectures: ['FalconForCausalLM'] }) } }))).rejects.toBeInstanceOf(
      UnsupportedModelError,
    );
  });

  it('malformed config.json', async () => {
    await expect(loadModel(syntheticSource(TINY, { files: { 'config.json': '[1,2' } }))).rejects.toThrow(/synthetic\/config.json: not valid JSON/);
  });

  it('tokenizer.json missing', async () => {
    const p = loadModel(syntheticSource(TINY, { files: { 'tokenizer.json': undefined } }));
    await expect(p).rejects.toBeInstanceOf(MissingFileError);
    await expect(p).rejects.toThrow(/synthetic\/tokenizer.json/);
  });

  it('weights file missing', async () => {
    await expect(loadModel(syntheticSource(TINY, { files: { 'model.safetensors': undefined } }))).rejects.toThrow(/neither model.safetensors nor/);
  });

  it('q/k/v biases are required when attention_bias is set', async () => {
    const biased = { ...TINY, bias: true };
    const m = await loadModel(syntheticSource(biased));
    expect(m.weights.layers[0].bk).toHaveLength(16);
    const noBias = syntheticTensors(biased).filter((t) => !t.name.endsWith('k_proj.bias'));
    await expect(loadModel(syntheticSource(biased, { tensors: noBias }))).rejects.toThrow(/k_proj.bias: missing tensor/);
  });
});

describe('Gemma 3 multimodal folders (Gemma3ForConditionalGeneration: 4B, 12B, 27B): the text model is run', () => {
  const GEMMA3: SyntheticShape = {
    ...TINY,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    tied: true,
    architecture: 'Gemma3ForCausalLM',
    config: { sliding_window: 4, sliding_window_pattern: 2, rope_local_base_freq: 10000, rope_theta: 1000000, query_pre_attn_scalar: 12 },
  };
  const VISION = { model_type: 'siglip_vision_model', hidden_size: 1152, image_size: 896, num_hidden_layers: 27, patch_size: 14 };

  it("google/gemma-3-4b-it's config.json (five text fields) reads as transformers fills it from Gemma3TextConfig's defaults", () => {
    const spec = parseModelConfig(JSON.stringify(REAL_CONFIGS.gemma3_4b));
    expect(spec).toMatchObject({
      architecture: 'Gemma3ForCausalLM',
      hiddenSize: 2560,
      intermediateSize: 10240,
      numLayers: 34,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 256,
      vocabSize: 262208,
      maxPositionEmbeddings: 131072,
      slidingWindow: 1024,
      ropeTheta: 1000000,
      localRopeTheta: 10000,
      queryPreAttnScalar: 256,
      tieWordEmbeddings: true,
      activation: 'gelu_tanh',
      eosTokenIds: [1, 106],
      bosTokenId: 2,
    });
    expect(spec.ropeScaling).toMatchObject({ type: 'linear', factor: 8 });
    expect(spec.fullAttentionLayers).toEqual([5, 11, 17, 23, 29]);
  });

  it.each(['language_model.', 'model.language_model.'])(
    'a checkpoint with the text model under "%s…" and a vision tower loads as the text-only folder',
    async (prefix) => {
      const text = await loadModel(syntheticSource(GEMMA3));
      const { architectures: _, ...textConfig } = syntheticConfig(GEMMA3);
      const config = { architectures: ['Gemma3ForConditionalGeneration'], text_config: textConfig, vision_config: VISION };
      const renamed = (name: string) => (prefix === 'language_model.' ? prefix + name : name.replace(/^model\./, prefix));
      const tensors = [
        ...syntheticTensors(GEMMA3).map((t) => ({ ...t, name: renamed(t.name) })),
        { name: 'vision_tower.vision_model.embeddings.patch_embedding.weight', shape: [4, 3], data: new Float32Array(12).fill(9) },
        { name: 'multi_modal_projector.mm_input_projection_weight', shape: [3, 4], data: new Float32Array(12).fill(9) },
      ];
      expect(tensors[0].name).toBe(prefix === 'language_model.' ? 'language_model.model.embed_tokens.weight' : 'model.language_model.embed_tokens.weight');
      const wrapped = await loadModel(syntheticSource(GEMMA3, { files: { 'config.json': JSON.stringify(config) }, tensors }));
      expect(wrapped.spec).toEqual(text.spec);
      expect(wrapped.weights).toEqual(text.weights);
    },
  );

  it("google/gemma-3-1b-it's config.json leaves tie_word_embeddings out: tied, as transformers' Gemma3TextConfig defaults it", async () => {
    expect(parseModelConfig(JSON.stringify(REAL_CONFIGS.gemma3_1b)).tieWordEmbeddings).toBe(true);
    const { tie_word_embeddings: _, ...config } = syntheticConfig(GEMMA3);
    // The checkpoint has no lm_head.weight, as the real one: it loads with the embeddings as the LM head.
    const m = await loadModel(syntheticSource(GEMMA3, { files: { 'config.json': JSON.stringify(config) } }));
    expect(m.spec.tieWordEmbeddings).toBe(true);
    // A Llama config that leaves it out stays untied (LlamaConfig's default).
    const { tie_word_embeddings: __, ...llama } = syntheticConfig(TINY);
    expect(parseModelConfig(JSON.stringify(llama)).tieWordEmbeddings).toBe(false);
  });

  it('a text_config that is not an object, or text tensors missing, are typed errors naming what is wrong', async () => {
    const bad = JSON.stringify({ architectures: ['Gemma3ForConditionalGeneration'], text_config: 'gemma' });
    expect(() => parseModelConfig(bad)).toThrow(ModelFormatError);
    expect(() => parseModelConfig(bad)).toThrow(/text_config/);
    const { architectures: _, ...textConfig } = syntheticConfig(GEMMA3);
    const config = JSON.stringify({ architectures: ['Gemma3ForConditionalGeneration'], text_config: textConfig });
    const visionOnly = [{ name: 'vision_tower.vision_model.embeddings.patch_embedding.weight', shape: [4, 3], data: new Float32Array(12) }];
    await expect(loadModel(syntheticSource(GEMMA3, { files: { 'config.json': config }, tensors: visionOnly }))).rejects.toThrow(
      /model\.embed_tokens\.weight: missing tensor/,
    );
  });
});
