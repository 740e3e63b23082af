// The curated model list: small models people put in web pages, with the config.json values their Hugging Face
// repos publish (kept here as data, each with its source), so what a model needs (weights, cache per token, the
// longest context a budget holds) is known before anything is downloaded (src/engine/model-list.ts computes it).
// A family the engine does not run is listed with the reason (`unsupported`), not hidden; every family listed now runs.

import type { Architecture } from './architectures';

export interface CatalogEntry {
  /** The Hub repo of the safetensors folder (the instruct variant where there is one). */
  repo: string;
  name: string;
  /** An official or widely used GGUF conversion's repo, where one is known. */
  ggufRepo?: string;
  /** The repo needs an accepted licence on the Hub (a token) before it downloads. */
  gated?: boolean;
  /** config.json values that decide the sizes, as the repo publishes them. */
  config: {
    architectures: [Architecture | string];
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    num_key_value_heads: number;
    head_dim?: number;
    vocab_size: number;
    max_position_embeddings: number;
    /** The trained context of a longrope model (Phi): the engine runs up to it unless a load asks for more (contextLength). */
    original_max_position_embeddings?: number;
    tie_word_embeddings: boolean;
    /** Gemma 3: the window of its sliding layers, one layer in `sliding_window_pattern` attending over everything. */
    sliding_window?: number;
    sliding_window_pattern?: number;
  };
  /** Why the engine cannot run it yet (absent: it runs). */
  unsupported?: string;
}

/** Source of every config below: the repo's config.json on the Hugging Face Hub (main branch, as of 2026). */
export const CATALOG: readonly CatalogEntry[] = [
  {
    repo: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    name: 'SmolLM2-135M',
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    name: 'SmolLM2-360M',
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 960,
      intermediate_size: 2560,
      num_hidden_layers: 32,
      num_attention_heads: 15,
      num_key_value_heads: 5,
      head_dim: 64,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-1.7B-Instruct',
    name: 'SmolLM2-1.7B',
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 24,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      head_dim: 64,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    name: 'Qwen2.5-0.5B',
    ggufRepo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'Qwen/Qwen2.5-1.5B-Instruct',
    name: 'Qwen2.5-1.5B',
    ggufRepo: 'Qwen/Qwen2.5-1.5B-Instruct-GGUF',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    name: 'Qwen3-0.6B',
    ggufRepo: 'Qwen/Qwen3-0.6B-GGUF',
    config: {
      architectures: ['Qwen3ForCausalLM'],
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      vocab_size: 151936,
      max_position_embeddings: 40960,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'Qwen/Qwen3-1.7B',
    name: 'Qwen3-1.7B',
    ggufRepo: 'Qwen/Qwen3-1.7B-GGUF',
    config: {
      architectures: ['Qwen3ForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 6144,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      vocab_size: 151936,
      max_position_embeddings: 40960,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'Qwen/Qwen3-4B',
    name: 'Qwen3-4B',
    ggufRepo: 'Qwen/Qwen3-4B-GGUF',
    config: {
      architectures: ['Qwen3ForCausalLM'],
      hidden_size: 2560,
      intermediate_size: 9728,
      num_hidden_layers: 36,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 128,
      vocab_size: 151936,
      max_position_embeddings: 40960,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'meta-llama/Llama-3.2-1B-Instruct',
    name: 'Llama-3.2-1B',
    ggufRepo: 'bartowski/Llama-3.2-1B-Instruct-GGUF',
    gated: true,
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'meta-llama/Llama-3.2-3B-Instruct',
    name: 'Llama-3.2-3B',
    ggufRepo: 'bartowski/Llama-3.2-3B-Instruct-GGUF',
    gated: true,
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 3072,
      intermediate_size: 8192,
      num_hidden_layers: 28,
      num_attention_heads: 24,
      num_key_value_heads: 8,
      head_dim: 128,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'google/gemma-3-270m-it',
    name: 'Gemma-3-270M',
    gated: true,
    config: {
      architectures: ['Gemma3ForCausalLM'],
      hidden_size: 640,
      intermediate_size: 2048,
      num_hidden_layers: 18,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      vocab_size: 262144,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
      sliding_window: 512,
      sliding_window_pattern: 6,
    },
  },
  {
    repo: 'google/gemma-3-1b-it',
    name: 'Gemma-3-1B',
    gated: true,
    config: {
      architectures: ['Gemma3ForCausalLM'],
      hidden_size: 1152,
      intermediate_size: 6912,
      num_hidden_layers: 26,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      vocab_size: 262144,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
      sliding_window: 512,
      sliding_window_pattern: 6,
    },
  },
  {
    repo: 'microsoft/Phi-3.5-mini-instruct',
    name: 'Phi-3.5-mini',
    config: {
      architectures: ['Phi3ForCausalLM'],
      hidden_size: 3072,
      intermediate_size: 8192,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      vocab_size: 32064,
      max_position_embeddings: 131072,
      original_max_position_embeddings: 4096,
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'microsoft/Phi-4-mini-instruct',
    name: 'Phi-4-mini',
    config: {
      architectures: ['Phi3ForCausalLM'],
      hidden_size: 3072,
      intermediate_size: 8192,
      num_hidden_layers: 32,
      num_attention_heads: 24,
      num_key_value_heads: 8,
      vocab_size: 200064,
      max_position_embeddings: 131072,
      original_max_position_embeddings: 4096,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM3-3B',
    name: 'SmolLM3-3B',
    config: {
      architectures: ['SmolLM3ForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 11008,
      num_hidden_layers: 36,
      num_attention_heads: 16,
      num_key_value_heads: 4,
      vocab_size: 128256,
      max_position_embeddings: 65536,
      tie_word_embeddings: true,
    },
  },
];
