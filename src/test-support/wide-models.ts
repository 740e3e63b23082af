// Random-weight models at the widths of real checkpoints, generated in memory at test time (never written
// to the repository): the attention shapes of Llama-3.2-1B (d 2048, 32 heads, 8 kv heads, head 64),
// Llama-3.1-8B / Mistral-7B (d 4096, 32 / 8, head 128) and an MHA model of d 2048 (SmolLM2-1.7B's
// attention) and Qwen3-0.6B's (q/k norms, head_dim apart from hidden / heads). Two layers, a small vocabulary and a narrow MLP keep them fast on a CPU-emulated GPU; the
// rematerializing kernels only see the attention widths, which are the real ones.

import { loadModel, type LoadedModel } from '../model/load-model';
import { syntheticSource, type SyntheticShape } from './synthetic-model';

export type WideModel = 'd2048-gqa' | 'd4096-gqa' | 'd2048-mha' | 'd1024-qwen3';

export const WIDE_SHAPES: Record<WideModel, SyntheticShape> = {
  'd2048-gqa': { hidden: 2048, layers: 2, heads: 32, kvHeads: 8, headDim: 64, ffn: 256, vocab: 256 },
  'd4096-gqa': { hidden: 4096, layers: 2, heads: 32, kvHeads: 8, headDim: 128, ffn: 256, vocab: 256 },
  'd2048-mha': { hidden: 2048, layers: 2, heads: 32, kvHeads: 32, headDim: 64, ffn: 256, vocab: 256 },
  /** Qwen3-0.6B's attention: q/k norms, head_dim 128 with hidden 1024 and 16 heads (q width 2048). */
  'd1024-qwen3': { hidden: 1024, layers: 2, heads: 16, kvHeads: 8, headDim: 128, ffn: 256, vocab: 256, architecture: 'Qwen3ForCausalLM' },
};

const cache = new Map<WideModel, Promise<LoadedModel>>();

export function wideModel(name: WideModel): Promise<LoadedModel> {
  let m = cache.get(name);
  if (!m) cache.set(name, (m = loadModel(syntheticSource(WIDE_SHAPES[name]))));
  return m;
}
