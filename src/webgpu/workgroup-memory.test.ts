// Workgroup memory by construction: every kernel of every cache mode and kernel family fits WebGPU's
// guaranteed 16 KiB and a 32 KiB adapter's limit for the published configs of the models this engine is for.

import { describe, expect, it } from 'vitest';
import { UnsupportedModelError } from '../errors';
import { parseModelConfig, type ModelSpec } from '../model/model-spec';
import { scoresTiling } from './ops/xquant-tiling';
import { rematShapes, workgroupUse } from './workgroup-memory';

/** config.json values as published on the Hugging Face Hub (the fields the engine reads). */
const CONFIGS: Record<string, Record<string, unknown>> = {
  'SmolLM2-135M': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 576,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    intermediate_size: 1536,
    vocab_size: 49152,
    rope_theta: 100000,
    tie_word_embeddings: true,
    max_position_embeddings: 8192,
  },
  'SmolLM2-360M': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 960,
    num_hidden_layers: 32,
    num_attention_heads: 15,
    num_key_value_heads: 5,
    intermediate_size: 2560,
    vocab_size: 49152,
    rope_theta: 100000,
    tie_word_embeddings: true,
    max_position_embeddings: 8192,
  },
  'SmolLM2-1.7B': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 2048,
    num_hidden_layers: 24,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    intermediate_size: 8192,
    vocab_size: 49152,
    rope_theta: 130000,
    tie_word_embeddings: true,
    max_position_embeddings: 8192,
  },
  'Qwen2.5-0.5B': {
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 896,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    intermediate_size: 4864,
    vocab_size: 151936,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    max_position_embeddings: 32768,
  },
  'Qwen2.5-1.5B': {
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 1536,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    intermediate_size: 8960,
    vocab_size: 151936,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    max_position_embeddings: 32768,
  },
  'Qwen2.5-7B': {
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 3584,
    num_hidden_layers: 28,
    num_attention_heads: 28,
    num_key_value_heads: 4,
    intermediate_size: 18944,
    vocab_size: 152064,
    rope_theta: 1000000,
    tie_word_embeddings: false,
    max_position_embeddings: 32768,
  },
  'Llama-3.2-1B': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 2048,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    intermediate_size: 8192,
    vocab_size: 128256,
    rope_theta: 500000,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
  },
  'Llama-3.2-3B': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 3072,
    num_hidden_layers: 28,
    num_attention_heads: 24,
    num_key_value_heads: 8,
    head_dim: 128,
    intermediate_size: 8192,
    vocab_size: 128256,
    rope_theta: 500000,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
  },
  'Llama-3.1-8B': {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 4096,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    intermediate_size: 14336,
    vocab_size: 128256,
    rope_theta: 500000,
    tie_word_embeddings: false,
    max_position_embeddings: 131072,
  },
  'Mistral-7B-v0.1': {
    architectures: ['MistralForCausalLM'],
    hidden_size: 4096,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    intermediate_size: 14336,
    vocab_size: 32000,
    rope_theta: 10000,
    sliding_window: 4096,
    tie_word_embeddings: false,
    max_position_embeddings: 32768,
  },
};

const SPECS: [string, ModelSpec][] = Object.entries(CONFIGS).map(([name, c]) => [
  name,
  parseModelConfig(JSON.stringify({ rms_norm_eps: 1e-5, hidden_act: 'silu', ...c }), `${name}/config.json`),
]);

describe('workgroup memory of every kernel at real model shapes', () => {
  it.each(SPECS)('%s: every kernel fits 16 KiB and 32 KiB, and a 32 KiB limit is used for bigger tiles', (_name, spec) => {
    const small = workgroupUse(spec, 16384);
    const large = workgroupUse(spec, 32768);
    expect(small.length).toBeGreaterThanOrEqual(3 + 4 * 2); // rmsnorm, argmax, sample + xquant and kivi families
    for (const k of small) expect(k.bytes, `${k.kernel} (${k.modes}) at 16 KiB`).toBeLessThanOrEqual(16384);
    for (const k of large) expect(k.bytes, `${k.kernel} (${k.modes}) at 32 KiB`).toBeLessThanOrEqual(32768);
    const sum = (l: typeof small) => l.reduce((a, k) => a + k.bytes, 0);
    expect(sum(large)).toBeGreaterThan(sum(small));
  });

  it('GQA models list the xquant-gqa kernels; MHA models do not', () => {
    const names = (spec: ModelSpec) => workgroupUse(spec, 16384).map((k) => k.modes);
    expect(names(SPECS.find(([n]) => n === 'Llama-3.2-1B')![1])).toContain('xquant-gqa');
    expect(names(SPECS.find(([n]) => n === 'SmolLM2-1.7B')![1])).not.toContain('xquant-gqa');
  });

  it('a limit no tile fits is an UnsupportedModelError naming the kernel, the bytes and the limit', () => {
    const spec = SPECS.find(([n]) => n === 'Llama-3.1-8B')![1];
    let caught: unknown;
    try {
      scoresTiling(rematShapes(spec).x!, 2048);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UnsupportedModelError);
    const e = caught as UnsupportedModelError;
    expect(e.message).toMatch(/xquant-scores needs \d+ bytes of workgroup memory .* allows 2048/);
    expect(e.field).toBe('maxComputeWorkgroupStorageSize');
  });
});
