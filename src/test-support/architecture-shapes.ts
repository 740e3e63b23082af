// Small random-weight shapes of the architectures beyond Llama, shared by the reference, GGUF and WebGPU tests.

import type { SyntheticShape } from './synthetic-model';

const LONGROPE = { type: 'longrope', short_factor: [1, 1.5, 2, 3], long_factor: [1, 2, 4, 8] };
/** Phi-3.5-mini's kind: MHA, whole-head RoPE, longrope, untied. */
export const PHI35_SHAPE: SyntheticShape = {
  hidden: 32,
  layers: 2,
  heads: 4,
  kvHeads: 4,
  headDim: 8,
  ffn: 48,
  vocab: 40,
  architecture: 'Phi3ForCausalLM',
  ropeScaling: LONGROPE,
  config: { original_max_position_embeddings: 64 },
};
/** Phi-4-mini's kind: GQA, 3/4 of each head turned, tied embeddings. */
export const PHI4_SHAPE: SyntheticShape = {
  hidden: 32,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  ffn: 48,
  vocab: 40,
  tied: true,
  architecture: 'Phi3ForCausalLM',
  ropeScaling: { type: 'longrope', short_factor: [1, 1.2, 1.5, 2, 2.5, 4], long_factor: [1, 2, 3, 4, 5, 6] },
  config: { original_max_position_embeddings: 64, partial_rotary_factor: 0.75 },
};

/** SmolLM3's kind: Llama with every 4th layer unturned (layer 3 of 4), GQA, tied. */
export const SMOLLM3_SHAPE: SyntheticShape = {
  hidden: 32,
  layers: 4,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  ffn: 48,
  vocab: 40,
  tied: true,
  architecture: 'SmolLM3ForCausalLM',
  config: { no_rope_layers: [1, 1, 1, 0] },
};

/**
 * Gemma 3's kind: q/k norms, head_dim 16 apart from hidden / heads, 1 kv head, tied; layers 0-4 slide over 6 tokens
 * with RoPE base 10K, layer 5 attends over everything with base 1M; query_pre_attn_scalar 12 (not head_dim), so the
 * softmax scale is tested.
 */
export const GEMMA3_SHAPE: SyntheticShape = {
  hidden: 32,
  layers: 6,
  heads: 2,
  kvHeads: 1,
  headDim: 16,
  ffn: 48,
  vocab: 40,
  tied: true,
  architecture: 'Gemma3ForCausalLM',
  config: { sliding_window: 6, sliding_window_pattern: 6, rope_local_base_freq: 10000, rope_theta: 1000000, query_pre_attn_scalar: 12 },
};

/**
 * The sliding-window ring tests' Gemma 3 kind (src/webgpu/caches/*-ring.gpu.test.ts): layers 0 and 1 slide over 8
 * tokens (a ring of 8 + 512 tokens, 640 in whole pages), layer 2 sees everything.
 */
export const GEMMA3_RING_SHAPE: SyntheticShape = {
  hidden: 64,
  layers: 3,
  heads: 4,
  kvHeads: 2,
  headDim: 32,
  ffn: 96,
  vocab: 64,
  tied: true,
  architecture: 'Gemma3ForCausalLM',
  config: { sliding_window: 8, sliding_window_pattern: 3, rope_local_base_freq: 10000, rope_theta: 1000000, query_pre_attn_scalar: 24 },
};

/** Every layer slides over 40 tokens: the whole cache is rings. */
export const MISTRAL_RING_SHAPE: SyntheticShape = { ...GEMMA3_RING_SHAPE, tied: false, architecture: 'MistralForCausalLM', config: { sliding_window: 40 } };
