// Random-weight models at the widths of real checkpoints, generated in memory at test time (never written
// to the repository): the attention shapes of Llama-3.2-1B (d 2048, 32 heads, 8 kv heads, head 64),
// Llama-3.1-8B / Mistral-7B (d 4096, 32 / 8, head 128), Llama-3.1-70B (d 8192, 64 / 8, head 128: the widest the
// engine targets, its f32 W_q and W_o past a 128 MiB binding) and an MHA model of d 2048 (SmolLM2-1.7B's
// attention) and Qwen3-0.6B's (q/k norms, head_dim apart from hidden / heads), Phi-4-mini's, SmolLM3-3B's and
// Gemma-3-1B's. Two layers, a small vocabulary and a narrow MLP keep them fast on a CPU-emulated GPU; the
// rematerializing kernels only see the attention widths, which are the real ones.

import { loadModel, type LoadedModel } from '../model/load-model';
import { REAL_CONFIGS } from './real-configs';
import { syntheticSource, type SyntheticShape } from './synthetic-model';

export type WideModel = 'd2048-gqa' | 'd4096-gqa' | 'd8192-gqa' | 'd2048-mha' | 'd1024-qwen3' | 'd3072-phi4' | 'd2048-smollm3' | 'd1152-gemma3';

export const WIDE_SHAPES: Record<WideModel, SyntheticShape> = {
  'd2048-gqa': { hidden: 2048, layers: 2, heads: 32, kvHeads: 8, headDim: 64, ffn: 256, vocab: 256 },
  'd4096-gqa': { hidden: 4096, layers: 2, heads: 32, kvHeads: 8, headDim: 128, ffn: 256, vocab: 256 },
  'd8192-gqa': { hidden: 8192, layers: 2, heads: 64, kvHeads: 8, headDim: 128, ffn: 256, vocab: 256 },
  'd2048-mha': { hidden: 2048, layers: 2, heads: 32, kvHeads: 32, headDim: 64, ffn: 256, vocab: 256 },
  /** Qwen3-0.6B's attention: q/k norms, head_dim 128 with hidden 1024 and 16 heads (q width 2048). */
  'd1024-qwen3': { hidden: 1024, layers: 2, heads: 16, kvHeads: 8, headDim: 128, ffn: 256, vocab: 256, architecture: 'Qwen3ForCausalLM' },
  /** Phi-4-mini's attention: 24 heads, 8 kv heads of 128 with 96 dims turned, its real longrope factors and amplitude. */
  'd3072-phi4': {
    hidden: 3072,
    layers: 2,
    heads: 24,
    kvHeads: 8,
    headDim: 128,
    ffn: 256,
    vocab: 256,
    tied: true,
    architecture: 'Phi3ForCausalLM',
    ropeScaling: REAL_CONFIGS.phi4_mini.rope_scaling,
    config: { partial_rotary_factor: 0.75, original_max_position_embeddings: 4096, max_position_embeddings: 131072 },
  },
  /** SmolLM3-3B's attention (16 heads, 4 kv heads of 128), its second layer unturned. */
  'd2048-smollm3': {
    hidden: 2048,
    layers: 2,
    heads: 16,
    kvHeads: 4,
    headDim: 128,
    ffn: 256,
    vocab: 256,
    tied: true,
    architecture: 'SmolLM3ForCausalLM',
    config: { no_rope_layers: [1, 0], rope_theta: 5000000 },
  },
  /**
   * Gemma-3-1B's attention (4 heads, 1 kv head of 256, q/k norms, query_pre_attn_scalar 256), a sliding layer at base
   * 10K then a global one at base 1M; the window is 64 (the real one is 512) so the test's prompts cross it.
   */
  'd1152-gemma3': {
    hidden: 1152,
    layers: 2,
    heads: 4,
    kvHeads: 1,
    headDim: 256,
    ffn: 256,
    vocab: 256,
    tied: true,
    architecture: 'Gemma3ForCausalLM',
    config: { sliding_window: 64, sliding_window_pattern: 2, rope_local_base_freq: 10000, rope_theta: 1000000, query_pre_attn_scalar: 256 },
  },
};

const cache = new Map<WideModel, Promise<LoadedModel>>();

export function wideModel(name: WideModel): Promise<LoadedModel> {
  let m = cache.get(name);
  if (!m) cache.set(name, (m = loadModel(syntheticSource(WIDE_SHAPES[name]))));
  return m;
}
