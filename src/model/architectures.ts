// The model architectures the engine runs, one row each: what config.json's `architectures` names, what
// llama.cpp calls it in a GGUF file, and how the architecture differs from plain Llama. Everything
// architecture-specific on the loading side reads this table (model-spec.ts, gguf-model.ts); adding an
// architecture starts here (docs/architecture.md, "Adding a model architecture", lists the other files).

export type Architecture =
  | 'LlamaForCausalLM'
  | 'MistralForCausalLM'
  | 'Qwen2ForCausalLM'
  | 'Qwen3ForCausalLM'
  | 'Phi3ForCausalLM'
  | 'SmolLM3ForCausalLM'
  | 'Gemma3ForCausalLM';

export interface ArchitectureInfo {
  /** Hugging Face class name (config.json `architectures[0]`). */
  name: Architecture;
  /** llama.cpp's `general.architecture` for this family, when a GGUF file of it converts to this class. */
  gguf: string | null;
  /** q/k/v projections carry biases: always, or as config.json's `attention_bias` says. */
  attentionBias: 'always' | 'config';
  /**
   * config.json's `sliding_window`: ignored ('none'), for every layer (Mistral), or for the layers `layer_types` (or
   * `sliding_window_pattern`) marks sliding, the others full, with their own RoPE base `rope_local_base_freq` (Gemma 3).
   */
  slidingWindow: 'none' | 'every-layer' | 'layer-types';
  /** llama.cpp stores q/k rows in the interleaved-pair RoPE order (its NORM rope): put back when read. */
  ggufRopeInterleaved: boolean;
  /** config.json fields this architecture does not support when true (read as booleans). */
  unsupportedFlags: readonly string[];
  /** Per-head RMSNorm of q and k before RoPE (Qwen3's q_norm / k_norm). */
  qkNorm: boolean;
  /** Some layers leave q and k unturned (SmolLM3's `no_rope_layers`; llama.cpp: every 4th layer, no metadata). */
  noRopeLayers: boolean;
  /**
   * Gemma's differences, each folded where it is cheapest: RMSNorm weights stored as w for (1 + w) (the loader adds
   * the 1; llama.cpp's files hold 1 + w already), embeddings times √hidden, a norm after attention and after the MLP
   * (`sandwich`), GELU (tanh) gating, and `query_pre_attn_scalar` in place of head_dim in the softmax scale.
   */
  gemma: boolean;
  /** config.json's `tie_word_embeddings` when it is left out (transformers' config class default: Gemma's is true). */
  tiedByDefault: boolean;
}

export const ARCHITECTURES: Readonly<Record<Architecture, ArchitectureInfo>> = {
  LlamaForCausalLM: {
    name: 'LlamaForCausalLM',
    gguf: 'llama',
    attentionBias: 'config',
    slidingWindow: 'none',
    ggufRopeInterleaved: true,
    unsupportedFlags: [],
    qkNorm: false,
    noRopeLayers: false,
    gemma: false,
    tiedByDefault: false,
  },
  // llama.cpp converts Mistral as `llama`, so a GGUF file never names this class.
  MistralForCausalLM: {
    name: 'MistralForCausalLM',
    gguf: null,
    attentionBias: 'config',
    slidingWindow: 'every-layer',
    ggufRopeInterleaved: true,
    unsupportedFlags: [],
    qkNorm: false,
    noRopeLayers: false,
    gemma: false,
    tiedByDefault: false,
  },
  // Qwen2's per-layer sliding window (use_sliding_window) is off in every released model.
  Qwen2ForCausalLM: {
    name: 'Qwen2ForCausalLM',
    gguf: 'qwen2',
    attentionBias: 'always',
    slidingWindow: 'none',
    ggufRopeInterleaved: false,
    unsupportedFlags: ['use_sliding_window'],
    qkNorm: false,
    noRopeLayers: false,
    gemma: false,
    tiedByDefault: false,
  },
  // Qwen3: Qwen2 without the q/k/v biases (attention_bias, false in released models), with q_norm and k_norm, and
  // head_dim independent of hidden / heads (128 on the 0.6B, hidden 1024 with 16 heads; GGUF: attention.key_length).
  Qwen3ForCausalLM: {
    name: 'Qwen3ForCausalLM',
    gguf: 'qwen3',
    attentionBias: 'config',
    slidingWindow: 'none',
    ggufRopeInterleaved: false,
    unsupportedFlags: ['use_sliding_window'],
    qkNorm: true,
    noRopeLayers: false,
    gemma: false,
    tiedByDefault: false,
  },
  // Phi-3.5-mini and Phi-4-mini: Llama with q/k/v in one qkv_proj and gate/up in one gate_up_proj (split as read:
  // src/model/tensors.ts FUSED_TENSORS), `longrope` scaling and, on Phi-4-mini, partial rotary (model-spec.ts).
  // Their sliding_window (262,144) exceeds every context they run, so it is not read.
  Phi3ForCausalLM: {
    name: 'Phi3ForCausalLM',
    gguf: 'phi3',
    attentionBias: 'config',
    slidingWindow: 'none',
    ggufRopeInterleaved: false,
    unsupportedFlags: [],
    qkNorm: false,
    noRopeLayers: false,
    gemma: false,
    tiedByDefault: false,
  },
  // SmolLM3: Llama with RoPE left out of every 4th layer (config.json `no_rope_layers`, 1 = turned). llama.cpp
  // converts it as llama (interleaved q/k rows) under its own name and fixes the step at 4.
  SmolLM3ForCausalLM: {
    name: 'SmolLM3ForCausalLM',
    gguf: 'smollm3',
    attentionBias: 'config',
    slidingWindow: 'none',
    ggufRopeInterleaved: true,
    unsupportedFlags: ['use_sliding_window'],
    qkNorm: false,
    noRopeLayers: true,
    gemma: false,
    tiedByDefault: false,
  },
  // Gemma 3 (text; Gemma3ForCausalLM: 270M, 1B): q/k norms as Qwen3, five of every six layers attend over a window
  // of 512 tokens with RoPE base 10K, the sixth over everything with base 1M; see `gemma` above.
  Gemma3ForCausalLM: {
    name: 'Gemma3ForCausalLM',
    gguf: 'gemma3',
    attentionBias: 'config',
    slidingWindow: 'layer-types',
    ggufRopeInterleaved: false,
    unsupportedFlags: [],
    qkNorm: true,
    noRopeLayers: false,
    gemma: true,
    tiedByDefault: true,
  },
};

/**
 * A multimodal class whose text model the engine runs: its config.json keeps the text model's values in
 * `text_config`, where transformers fills what is omitted from the text config class's defaults (google/gemma-3-4b-it
 * names five fields), and its checkpoint holds the text model's tensors under a prefix (tensors.ts textModelName)
 * beside a vision tower that is not read.
 */
export interface TextModelOf {
  text: Architecture;
  /** The text config class's defaults, as transformers declares them. */
  defaults: Readonly<Record<string, unknown>>;
}

export const MULTIMODAL_TEXT_MODELS: Readonly<Record<string, TextModelOf>> = {
  // Gemma 3 4B, 12B, 27B. Defaults: transformers' Gemma3TextConfig (models/gemma3/configuration_gemma3.py).
  Gemma3ForConditionalGeneration: {
    text: 'Gemma3ForCausalLM',
    defaults: {
      vocab_size: 262208,
      hidden_size: 2304,
      intermediate_size: 9216,
      num_hidden_layers: 26,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-6,
      eos_token_id: 1,
      bos_token_id: 2,
      tie_word_embeddings: true,
      rope_theta: 1000000,
      attention_bias: false,
      query_pre_attn_scalar: 256,
      sliding_window: 4096,
      final_logit_softcapping: null,
      attn_logit_softcapping: null,
      rope_scaling: null,
      rope_local_base_freq: 10000,
      sliding_window_pattern: 6,
    },
  },
};

export function isArchitecture(name: string): name is Architecture {
  return Object.hasOwn(ARCHITECTURES, name);
}

/** The architecture a GGUF file's `general.architecture` converts to, or undefined. */
export function ggufArchitecture(ggufName: string): ArchitectureInfo | undefined {
  return Object.values(ARCHITECTURES).find((a) => a.gguf === ggufName);
}

export const GGUF_ARCHITECTURES: readonly string[] = Object.values(ARCHITECTURES).flatMap((a) => (a.gguf ? [a.gguf] : []));
