// What each model of the curated list (src/model/catalog.ts) needs, computed from its config before anything is
// downloaded: parameters, download and GPU weight bytes, cache bytes per token by mode, and whether it fits a given
// amount of GPU memory with a given context (weights, the vocabulary-sized buffers a request holds, then the cache
// `auto` would pick in what is left).

import { cacheBytesPerToken } from '../cache/cache-bytes';
import { parseCacheMode } from '../cache/cache-config';
import { CATALOG, type CatalogEntry } from '../model/catalog';
import { ARCHITECTURES, isArchitecture } from '../model/architectures';
import { tensorSlots } from '../model/checkpoint';
import { everyNthLayer, type ModelSpec } from '../model/model-spec';
import { matrixFormatFor, packedBytes, type PackFormat } from '../quant/weight-format';
import { kQuantMixEncoding, type MixRole } from '../quant/block-format';
import { rowBytes } from '../model/tensor-encoding';
import { planCache } from './planner';

/** Tokens of logits a prefill slice holds, and their readback: 2 × MAX_BATCH × vocabulary × 4 bytes while a request runs. */
const MAX_BATCH = 128;

const MODES = ['fp16', 'kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4'] as const;

export interface ListedModel {
  repo: string;
  name: string;
  ggufRepo?: string;
  gated: boolean;
  /** Why the engine cannot run it yet; absent when it runs. */
  unsupported?: string;
  parameters: number;
  /** The safetensors download (BF16, as these repos ship). */
  downloadBytes: number;
  /** GPU bytes of the weights as the engine packs them. */
  weightBytes: Record<'f16' | 'q8' | 'q4', number>;
  /**
   * A llama.cpp Q4_K_M file of the model (computed from the config with llama.cpp's mix, not read from a file): its
   * tensor bytes, which is what it downloads less the header, and the GPU bytes it takes run as stored (`native`).
   */
  q4km: { tensorBytes: number; gpuBytes: number };
  /**
   * Cache bytes each further token adds, by mode (xquant-gqa on GQA models only). In every mode but xquant-cl a sliding
   * layer's ring is a constant beside it (src/cache/cache-bytes.ts ringCacheBytes), which `fit` counts.
   */
  cacheBytesPerToken: Record<string, number>;
  /** The longest context a load can run (a longrope model's with `contextLength` past its trained one). */
  modelContext: number;
  /** A longrope model's trained context: what a load runs without `contextLength` (its short RoPE factors). */
  trainedContext?: number;
  /** With `gpuMemoryMB`: the cache mode auto picks for `context` in the memory left, and whether it fits at all. */
  fit?: { context: number; cacheBudgetBytes: number; auto: string | null; longestContext: number; fits: boolean };
}

export interface ListOptions {
  /** GPU memory the page may use, in MiB; unknown in a browser, so the caller says what it assumes. */
  gpuMemoryMB?: number;
  /** Tokens of context wanted (default 4,096, at most the model's). */
  context?: number;
  /** The weight format the fit assumes (default q4). */
  weights?: 'f16' | 'q8' | 'q4';
}

/** The sizes-only spec of a catalog entry (unsupported families too: their cache and weights are sized the same way). */
function sizingSpec(e: CatalogEntry): ModelSpec {
  const c = e.config;
  const arch = c.architectures[0];
  const known = isArchitecture(arch);
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  return {
    architecture: known ? arch : 'LlamaForCausalLM',
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads,
    headDim,
    intermediateSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: null,
    rotaryDim: headDim,
    ropeFreqFactors: null,
    attentionBias: false,
    qkNorm: known && ARCHITECTURES[arch].qkNorm,
    noRopeLayers: [],
    tieWordEmbeddings: c.tie_word_embeddings,
    // longrope models (Phi) run up to their trained context by default, and with a load's contextLength up to this
    // (their long factors: withContextLength); ListedModel.trainedContext says which is which.
    maxPositionEmbeddings: c.max_position_embeddings,
    // Gemma's sliding layers keep a ring in every mode but xquant-cl (src/cache/cache-bytes.ts), so the figures follow the window.
    slidingWindow: c.sliding_window ?? null,
    fullAttentionLayers: c.sliding_window_pattern ? everyNthLayer(c.num_hidden_layers, c.sliding_window_pattern) : [],
    localRopeTheta: null,
    normOffset: 0,
    embeddingScale: 1,
    sandwichNorms: known && ARCHITECTURES[arch].gemma,
    activation: 'silu',
    queryPreAttnScalar: null,
    bosTokenId: null,
    eosTokenIds: [],
  };
}

export function listModels(o: ListOptions = {}): ListedModel[] {
  return CATALOG.map((e) => {
    const s = sizingSpec(e);
    // The tensors the engine loads for this spec (the tensor table: norms, Qwen3's q/k norms, the LM head when untied).
    const slots = tensorSlots(s).filter((t) => t.required);
    const mats = slots.filter((t) => t.shape.length === 2).map((t) => t.shape as [number, number]);
    const vectors = slots.filter((t) => t.shape.length === 1).reduce((a, t) => a + t.shape[0], 0);
    const parameters = mats.reduce((a, [r, c]) => a + r * c, 0) + vectors;
    const weightBytes = (f: PackFormat) => mats.reduce((a, [r, c]) => a + packedBytes(f, r, c), 0) + vectors * 4;
    const q4km = { tensorBytes: vectors * 4, gpuBytes: vectors * 4 };
    for (const t of slots) {
      if (t.shape.length !== 2) continue;
      const [rows, cols] = t.shape as [number, number];
      const m = /^l(\d+)\.(wv|wDown)$/.exec(t.key);
      const role: MixRole =
        t.key === 'lm_head' || (t.key === 'embed' && s.tieWordEmbeddings) ? 'output' : m ? (m[2] === 'wv' ? 'attn_v' : 'ffn_down') : 'other';
      const enc = kQuantMixEncoding('Q4_K', role, m ? Number(m[1]) : 0, s.numLayers, cols);
      q4km.tensorBytes += rows * rowBytes(enc, cols);
      q4km.gpuBytes += packedBytes(matrixFormatFor('native', enc), rows, cols);
    }
    const gqa = s.numKvHeads < s.numHeads;
    const trained = e.config.original_max_position_embeddings;
    const cache: Record<string, number> = {};
    for (const m of MODES) if (m !== 'xquant-gqa-4' || gqa) cache[m] = cacheBytesPerToken(s, parseCacheMode(m));
    const listed: ListedModel = {
      repo: e.repo,
      name: e.name,
      ...(e.ggufRepo ? { ggufRepo: e.ggufRepo } : {}),
      gated: e.gated ?? false,
      ...(e.unsupported ? { unsupported: e.unsupported } : {}),
      parameters,
      downloadBytes: parameters * 2,
      weightBytes: { f16: weightBytes('f16'), q8: weightBytes('q8'), q4: weightBytes('q4') },
      q4km,
      cacheBytesPerToken: cache,
      modelContext: s.maxPositionEmbeddings,
      ...(trained !== undefined && trained < s.maxPositionEmbeddings ? { trainedContext: trained } : {}),
    };
    if (o.gpuMemoryMB !== undefined) {
      const context = Math.min(o.context ?? 4096, s.maxPositionEmbeddings);
      const weights = listed.weightBytes[o.weights ?? 'q4'];
      const cacheBudgetBytes = o.gpuMemoryMB * 2 ** 20 - weights - 2 * MAX_BATCH * s.vocabSize * 4;
      if (cacheBudgetBytes <= 0) listed.fit = { context, cacheBudgetBytes, auto: null, longestContext: 0, fits: false };
      else {
        const plan = planCache(s, cacheBudgetBytes, context, { weightBytes: weights });
        const longestContext = Math.min(s.maxPositionEmbeddings, Math.max(...plan.modes.map((m) => m.maxContext)));
        listed.fit = { context, cacheBudgetBytes, auto: plan.auto, longestContext, fits: plan.auto !== null && !e.unsupported };
      }
    }
    return listed;
  });
}
