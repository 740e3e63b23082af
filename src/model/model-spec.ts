// config.json of a Hugging Face Llama-family checkpoint -> a typed ModelSpec.

import { InvalidArgumentError, ModelFormatError, UnsupportedModelError } from '../errors';
import { isPlainObject } from './safetensors';

import { ARCHITECTURES, isArchitecture, MULTIMODAL_TEXT_MODELS, type Architecture } from './architectures';

export type { Architecture } from './architectures';

export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** `linear` (position interpolation; Gemma 3 4B+ on its global layers): every frequency divided by `factor`. */
export interface LinearRopeScaling {
  type: 'linear';
  factor: number;
}

/**
 * Phi-3's `longrope`: one divisor per rotary frequency for contexts up to the trained one (short) and beyond it
 * (long), and an amplitude on cos and sin (attention_factor). A model is read with the short factors and its context
 * capped at originalMaxPositionEmbeddings, which is what transformers computes for every sequence that long;
 * withContextLength turns a longer context on with the long factors at every position, as llama.cpp does for a
 * context (n_ctx) past the trained one. transformers switches per forward by the sequence's length, so a KV cache
 * would hold keys turned both ways; one choice per load keeps every cache mode's K the same.
 */
export interface LongRopeScaling {
  type: 'longrope';
  shortFactor: number[];
  longFactor: number[];
  /** Which factors turn q and k: 'long' only where the model was loaded for a context past the trained one. */
  factors: 'short' | 'long';
  originalMaxPositionEmbeddings: number;
  /** config.json's max_position_embeddings: the longest context with the long factors. */
  extendedMaxPositionEmbeddings: number;
  attentionFactor: number;
}

export type RopeScaling = Llama3RopeScaling | LinearRopeScaling | LongRopeScaling;

export interface ModelSpec {
  architecture: Architecture;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Leading dims of each head that RoPE turns (head_dim × partial_rotary_factor; Phi-4-mini turns 96 of 128). */
  rotaryDim: number;
  /**
   * One divisor per rotary frequency (headDim / 2 of them), as GGUF files store llama3 scaling
   * (`rope_freqs.weight`); config.json key `rope_freq_factors`, written by src/model/gguf-model.ts.
   */
  ropeFreqFactors: number[] | null;
  /** q/k/v projections carry a bias (Qwen2 always; Llama when attention_bias is true). */
  attentionBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE, with weights [headDim] (Qwen3). */
  qkNorm: boolean;
  /** Layers whose q and k RoPE leaves alone (SmolLM3: 3, 7, 11, ...); empty for most models. */
  noRopeLayers: number[];
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  /** The sliding attention window in tokens (Mistral, Gemma 3), or null for full attention. */
  slidingWindow: number | null;
  /** Layers that attend over everything although slidingWindow is set (Gemma 3: every 6th); use layerWindow(). */
  fullAttentionLayers: number[];
  /** RoPE base of the windowed layers where it differs from ropeTheta (Gemma 3: 10,000 beside 1,000,000). */
  localRopeTheta: number | null;
  /** Gemma: the loader stores each RMSNorm weight w as 1 + w (0 elsewhere; GGUF files hold 1 + w already). */
  normOffset: number;
  /** Embeddings times this before the first layer (Gemma: √hidden; 1 elsewhere). */
  embeddingScale: number;
  /** Gemma: an RMSNorm on the attention output and on the MLP output before each joins the residual stream. */
  sandwichNorms: boolean;
  /** The MLP's gate: silu (SwiGLU) or GELU with the tanh approximation (Gemma's GeGLU). */
  activation: 'silu' | 'gelu_tanh';
  /** Gemma's softmax scale is 1/√queryPreAttnScalar: the loader folds √(headDim / it) into q_norm's weights. */
  queryPreAttnScalar: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** Width of the K (or V) rows of one token: numKvHeads * headDim. */
export function kvDim(spec: ModelSpec): number {
  return spec.numKvHeads * spec.headDim;
}

export function parseModelConfig(text: string, file = 'config.json'): ModelSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`not valid JSON (${(e as Error).message})`, { file });
  }
  if (!isPlainObject(json)) throw new ModelFormatError('not a JSON object', { file });
  const c = textConfigOf(json, file);

  const archs = c.architectures;
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (typeof arch !== 'string') {
    throw new ModelFormatError('architectures is missing', { file, field: 'architectures', expected: 'an array of names' });
  }
  if (!isArchitecture(arch)) {
    throw new UnsupportedModelError('unsupported architecture', { file, field: 'architectures', expected: Object.keys(ARCHITECTURES).join(', '), got: arch });
  }
  const architecture: Architecture = arch;
  const info = ARCHITECTURES[architecture];

  const int = (field: string, fallback?: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new ModelFormatError('must be a positive integer', { file, field, got: JSON.stringify(c[field]) });
    }
    return v;
  };
  const num = (field: string, fallback?: number): number => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ModelFormatError('must be a positive number', { file, field, got: JSON.stringify(c[field]) });
    }
    return v;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    const v = c[field] ?? fallback;
    if (typeof v !== 'boolean') throw new ModelFormatError('must be a boolean', { file, field, got: JSON.stringify(v) });
    return v;
  };

  const hiddenSize = int('hidden_size');
  const numLayers = int('num_hidden_layers');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelFormatError('num_attention_heads must be a multiple of num_key_value_heads', {
      file,
      field: 'num_key_value_heads',
      got: `${numKvHeads} kv heads for ${numHeads} heads`,
    });
  }
  const defaultHeadDim = hiddenSize % numHeads === 0 ? hiddenSize / numHeads : undefined;
  const headDim = int('head_dim', defaultHeadDim);
  if (headDim % 2 !== 0) throw new ModelFormatError('head_dim must be even for RoPE', { file, field: 'head_dim', got: String(headDim) });

  const partial = c.partial_rotary_factor ?? 1;
  const rotaryDim = typeof partial === 'number' && partial > 0 && partial <= 1 ? Math.round(headDim * partial) : NaN;
  if (!(rotaryDim % 2 === 0 && rotaryDim > 0)) {
    throw new ModelFormatError('must be a number in (0, 1] that leaves an even number of rotary dims per head', {
      file,
      field: 'partial_rotary_factor',
      got: JSON.stringify(c.partial_rotary_factor),
    });
  }
  const maxPositions = int('max_position_embeddings', 2048);
  const ropeScaling = parseRopeScaling(c, rotaryDim, maxPositions, file);

  // Gemma names it hidden_activation; transformers' gelu_pytorch_tanh is GELU's tanh approximation.
  const actField = info.gemma ? 'hidden_activation' : 'hidden_act';
  const act = c[actField] ?? (info.gemma ? 'gelu_pytorch_tanh' : 'silu');
  const activation = act === 'silu' ? 'silu' : act === 'gelu_pytorch_tanh' ? 'gelu_tanh' : null;
  if (!activation) {
    throw new UnsupportedModelError('unsupported activation', { file, field: actField, expected: 'silu or gelu_pytorch_tanh', got: String(act) });
  }
  for (const cap of ['attn_logit_softcapping', 'final_logit_softcapping']) {
    if (c[cap] !== undefined && c[cap] !== null) throw new UnsupportedModelError('logit soft-capping is not supported', { file, field: cap, expected: 'null' });
  }
  if (c.mlp_bias === true) throw new UnsupportedModelError('MLP biases are not supported', { file, field: 'mlp_bias', expected: 'false' });
  for (const flag of info.unsupportedFlags) {
    if (c[flag] === true) throw new UnsupportedModelError(`${flag} is not supported for ${architecture}`, { file, field: flag, expected: 'false' });
  }

  const sliding = info.slidingWindow !== 'none' ? c.sliding_window : null;
  if (sliding !== null && sliding !== undefined && !(Number.isSafeInteger(sliding) && (sliding as number) > 0)) {
    throw new ModelFormatError('must be null or a positive integer', { file, field: 'sliding_window', got: JSON.stringify(sliding) });
  }
  const windowed = sliding !== null && sliding !== undefined;
  const fullAttentionLayers = windowed && info.slidingWindow === 'layer-types' ? parseFullLayers(c, numLayers, file) : [];
  const qpas = info.gemma ? num('query_pre_attn_scalar', headDim) : null;

  const eos = c.eos_token_id;
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every((t) => Number.isSafeInteger(t) && t >= 0)) {
    throw new ModelFormatError('must be a token id or an array of ids', { file, field: 'eos_token_id', got: JSON.stringify(eos) });
  }
  const bos = c.bos_token_id ?? null;
  if (bos !== null && !(Number.isSafeInteger(bos) && (bos as number) >= 0)) {
    throw new ModelFormatError('must be a token id', { file, field: 'bos_token_id', got: JSON.stringify(bos) });
  }

  return {
    architecture,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling,
    rotaryDim,
    ropeFreqFactors: parseFreqFactors(c.rope_freq_factors, headDim, file),
    attentionBias: info.attentionBias === 'always' ? true : bool('attention_bias', false),
    qkNorm: info.qkNorm,
    noRopeLayers: info.noRopeLayers ? parseNoRopeLayers(c, numLayers, file) : [],
    tieWordEmbeddings: bool('tie_word_embeddings', info.tiedByDefault),
    // longrope: the short factors hold up to the trained context; withContextLength turns the long ones on.
    maxPositionEmbeddings: ropeScaling?.type === 'longrope' ? Math.min(maxPositions, ropeScaling.originalMaxPositionEmbeddings) : maxPositions,
    slidingWindow: (sliding as number | null | undefined) ?? null,
    fullAttentionLayers,
    localRopeTheta: windowed && info.slidingWindow === 'layer-types' ? num('rope_local_base_freq', 10000) : null,
    normOffset: info.gemma ? 1 : 0,
    // √hidden in f32, as llama.cpp and transformers in f32 (transformers in bf16 rounds it first: 34 for hidden 1152).
    embeddingScale: info.gemma ? Math.sqrt(hiddenSize) : 1,
    sandwichNorms: info.gemma,
    activation,
    queryPreAttnScalar: qpas,
    bosTokenId: bos as number | null,
    eosTokenIds: eosTokenIds as number[],
  };
}

/**
 * The config of the text model a multimodal class wraps (MULTIMODAL_TEXT_MODELS): its `text_config` over the text
 * class's defaults, with the outer config's token ids where text_config omits them (gemma-3-4b-it's eos [1, 106]).
 * Any other config is returned as it is.
 */
function textConfigOf(c: Record<string, unknown>, file: string): Record<string, unknown> {
  const arch = Array.isArray(c.architectures) ? c.architectures[0] : undefined;
  const wrapper = typeof arch === 'string' && Object.hasOwn(MULTIMODAL_TEXT_MODELS, arch) ? MULTIMODAL_TEXT_MODELS[arch] : null;
  if (!wrapper) return c;
  const text = c.text_config ?? {};
  if (!isPlainObject(text)) throw new ModelFormatError('must be an object', { file, field: 'text_config', got: JSON.stringify(text) });
  const outer = Object.fromEntries(['eos_token_id', 'bos_token_id'].filter((k) => c[k] !== undefined).map((k) => [k, c[k]]));
  return { ...wrapper.defaults, ...outer, ...text, architectures: [wrapper.text] };
}

function parseFreqFactors(raw: unknown, headDim: number, file: string): number[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length !== headDim / 2 || !raw.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
    throw new ModelFormatError('must be an array of positive numbers, one per rotary frequency', {
      file,
      field: 'rope_freq_factors',
      expected: `${headDim / 2} numbers`,
    });
  }
  return raw as number[];
}

function parseRopeScaling(c: Record<string, unknown>, rotaryDim: number, maxPositions: number, file: string): RopeScaling | null {
  const raw = c.rope_scaling;
  if (raw === null || raw === undefined) return null;
  const field = 'rope_scaling';
  if (!isPlainObject(raw)) throw new ModelFormatError('must be null or an object', { file, field });
  const type = raw.rope_type ?? raw.type;
  if (type === 'default') return null;
  if (type === 'longrope') return parseLongRope(raw, c.original_max_position_embeddings, rotaryDim, maxPositions, file);
  if (type !== 'llama3' && type !== 'linear') {
    throw new UnsupportedModelError('unsupported rope_scaling type', {
      file,
      field: `${field}.rope_type`,
      expected: 'llama3, linear, longrope or default',
      got: String(type),
    });
  }
  const get = (k: string): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ModelFormatError('must be a positive number', { file, field: `${field}.${k}`, got: JSON.stringify(v) });
    }
    return v;
  };
  if (type === 'linear') return { type: 'linear', factor: get('factor') };
  const s: Llama3RopeScaling = {
    type: 'llama3',
    factor: get('factor'),
    lowFreqFactor: get('low_freq_factor'),
    highFreqFactor: get('high_freq_factor'),
    originalMaxPositionEmbeddings: get('original_max_position_embeddings'),
  };
  if (s.highFreqFactor <= s.lowFreqFactor) {
    throw new ModelFormatError('high_freq_factor must exceed low_freq_factor', { file, field: `${field}.high_freq_factor` });
  }
  return s;
}

/** transformers' `_compute_longrope_parameters`, with the short factors. */
function parseLongRope(raw: Record<string, unknown>, original: unknown, rotaryDim: number, maxPositions: number, file: string): LongRopeScaling {
  const factors = (k: string): number[] => {
    const v = raw[k];
    if (!Array.isArray(v) || v.length !== rotaryDim / 2 || !v.every((f) => typeof f === 'number' && Number.isFinite(f) && f > 0)) {
      throw new ModelFormatError('must be an array of positive numbers, one per rotary frequency', {
        file,
        field: `rope_scaling.${k}`,
        expected: `${rotaryDim / 2} numbers`,
      });
    }
    return v as number[];
  };
  if (!(typeof original === 'number' && Number.isSafeInteger(original) && original > 0)) {
    throw new ModelFormatError('longrope needs the trained context', {
      file,
      field: 'original_max_position_embeddings',
      expected: 'a positive integer',
      got: JSON.stringify(original),
    });
  }
  // Phi-3 states the extension as max / original positions; attention_factor defaults to sqrt(1 + ln s / ln original).
  const scale = maxPositions / original;
  const given = raw.attention_factor;
  if (given !== undefined && given !== null && !(typeof given === 'number' && Number.isFinite(given) && given > 0)) {
    throw new ModelFormatError('must be a positive number', { file, field: 'rope_scaling.attention_factor', got: JSON.stringify(given) });
  }
  const attentionFactor = typeof given === 'number' ? given : scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(original));
  return {
    type: 'longrope',
    shortFactor: factors('short_factor'),
    longFactor: factors('long_factor'),
    factors: 'short',
    originalMaxPositionEmbeddings: original,
    extendedMaxPositionEmbeddings: maxPositions,
    attentionFactor,
  };
}

/** SmolLM3: `no_rope_layers` (1 = RoPE, 0 = none, one per layer), or every `no_rope_layer_interval`-th layer without (default 4). */
function parseNoRopeLayers(c: Record<string, unknown>, layers: number, file: string): number[] {
  const listed = c.no_rope_layers;
  if (listed !== undefined && listed !== null) {
    if (!Array.isArray(listed) || listed.length !== layers || !listed.every((v) => v === 0 || v === 1)) {
      throw new ModelFormatError('must list 1 (RoPE) or 0 (none) for every layer', { file, field: 'no_rope_layers', expected: `${layers} entries of 0 or 1` });
    }
    return listed.flatMap((v, i) => (v === 0 ? [i] : []));
  }
  const step = c.no_rope_layer_interval ?? 4;
  if (!(typeof step === 'number' && Number.isSafeInteger(step) && step > 0)) {
    throw new ModelFormatError('must be a positive integer', { file, field: 'no_rope_layer_interval', got: JSON.stringify(step) });
  }
  return everyNthLayer(layers, step);
}

/** Gemma 3: the layers of full attention, from `layer_types` or every `sliding_window_pattern`-th layer (default 6). */
function parseFullLayers(c: Record<string, unknown>, layers: number, file: string): number[] {
  const types = c.layer_types;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || types.length !== layers || !types.every((t) => t === 'sliding_attention' || t === 'full_attention')) {
      throw new ModelFormatError("must name every layer 'sliding_attention' or 'full_attention'", {
        file,
        field: 'layer_types',
        expected: `${layers} entries`,
      });
    }
    return types.flatMap((t, i) => (t === 'full_attention' ? [i] : []));
  }
  const step = c.sliding_window_pattern ?? 6;
  if (!(typeof step === 'number' && Number.isSafeInteger(step) && step > 0)) {
    throw new ModelFormatError('must be a positive integer', { file, field: 'sliding_window_pattern', got: JSON.stringify(step) });
  }
  return everyNthLayer(layers, step);
}

/** Every `step`-th layer (the last of each group of `step`): Gemma 3's full-attention layers, SmolLM3's unturned ones. */
export function everyNthLayer(layers: number, step: number): number[] {
  return Array.from({ length: layers }, (_, i) => i).filter((i) => (i + 1) % step === 0);
}

/** The attention window of one layer: the model's sliding window, or null where the layer sees everything. */
export function layerWindow(spec: ModelSpec, layer: number): number | null {
  return spec.slidingWindow !== null && !spec.fullAttentionLayers.includes(layer) ? spec.slidingWindow : null;
}

/**
 * The spec for a load that runs at most `tokens` of context (llama.cpp's n_ctx): the context is capped there, and a
 * longrope model (Phi-3.5, Phi-4-mini) asked for more than its trained context runs its long factors at every
 * position, up to max_position_embeddings. More than the model's longest context is refused.
 */
export function withContextLength(spec: ModelSpec, tokens: number): ModelSpec {
  const s = spec.ropeScaling;
  const longest = s?.type === 'longrope' ? s.extendedMaxPositionEmbeddings : spec.maxPositionEmbeddings;
  if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > longest) {
    throw new InvalidArgumentError("must be a whole number of tokens within the model's context", {
      field: 'contextLength',
      expected: `1 to ${longest}`,
      got: String(tokens),
    });
  }
  if (s?.type === 'longrope' && tokens > s.originalMaxPositionEmbeddings) {
    return { ...spec, maxPositionEmbeddings: tokens, ropeScaling: { ...s, factors: 'long' } };
  }
  return tokens === spec.maxPositionEmbeddings ? spec : { ...spec, maxPositionEmbeddings: tokens };
}
