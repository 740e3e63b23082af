// Bytes per token of each cache mode, from the storage layout (docs/xquant.md §5).
// Per-token groups: {u32 meta; packed codes} per group of up to 128 elements.
// Per-channel groups: the same per 128 tokens of one channel, amortized over those tokens.
// Residual windows and per-channel fp16 tails are a constant number of tokens, not a per-token cost.
// A sliding-window layer (Gemma 3's local layers, Mistral's every layer) keeps a ring of its window plus
// RING_SLACK_TOKENS in every mode but xquant-cl: a constant, so it is not in the per-token figure either (ringCacheBytes).

import { kvDim, layerWindow, type ModelSpec } from '../model/model-spec';
import { packedWords } from '../quant/quantize';
import { clBaseBits, clBaseLayers, GROUP_SIZE, layerBits, MODE_TRAITS, PAGE_TOKENS, type CacheConfig } from './cache-config';
import { quantRowWords } from './row-layout';

const perTokenRow = (n: number, bits: number): number => quantRowWords(n, bits) * 4;
const perChannel = (n: number, bits: number): number => (n * (1 + packedWords(GROUP_SIZE, bits)) * 4) / GROUP_SIZE;

/** Bytes per token of layer l's cache. */
export function layerBytesPerToken(spec: ModelSpec, c: CacheConfig, l: number): number {
  const dkv = kvDim(spec);
  const d = spec.hiddenSize;
  const b = layerBits(c, l);
  switch (c.mode) {
    case 'f32':
      return 2 * dkv * 4;
    case 'fp16':
      return 2 * dkv * 2;
    case 'kivi':
    case 'xquant-gqa':
      return perChannel(dkv, b) + perTokenRow(dkv, b);
    case 'xquant':
      return perTokenRow(d, b);
    case 'xquant-cl':
      return perTokenRow(d, l < clBaseLayers(spec) ? Math.max(clBaseBits(c), b) : b);
  }
}

/**
 * Tokens a sliding layer's ring holds beyond its window: room for a prefill slice and run-ahead decode's overshoot
 * (neither may overwrite a key still in some query's window), and the rest a conversation may roll back (an edit, a
 * regenerate) and still find its window's keys (keep.ts). llama.cpp sizes its SWA cache window + batch likewise.
 */
export const RING_SLACK_TOKENS = 512;

/**
 * Tokens of layer l's ring, or null where the layer keeps every token. Sliding-window layers have rings, except in
 * xquant-cl: a layer's X̂ there is the base plus every earlier layer's delta, so a global layer reads the deltas of the
 * sliding layers below it at every position.
 */
export function ringTokens(spec: ModelSpec, c: CacheConfig, l: number): number | null {
  if (MODE_TRAITS[c.mode].crossLayer) return null;
  const window = layerWindow(spec, l);
  if (window === null) return null;
  return Math.ceil((window + RING_SLACK_TOKENS) / PAGE_TOKENS) * PAGE_TOKENS;
}

/** Bytes each further token adds: every layer's per-token cost but the rings'. */
export function cacheBytesPerToken(spec: ModelSpec, c: CacheConfig): number {
  let total = 0;
  for (let l = 0; l < spec.numLayers; l++) if (ringTokens(spec, c, l) === null) total += layerBytesPerToken(spec, c, l);
  return total;
}

/** Bytes of the sliding layers' rings when `tokens` are stored (each ring fills up to its size, then stays). */
export function ringCacheBytes(spec: ModelSpec, c: CacheConfig, tokens: number): number {
  let total = 0;
  for (let l = 0; l < spec.numLayers; l++) {
    const ring = ringTokens(spec, c, l);
    if (ring !== null) total += Math.min(tokens, ring) * layerBytesPerToken(spec, c, l);
  }
  return total;
}

/** Bytes of a cache's stored entries for `tokens` tokens (rings included). */
export function storedCacheBytes(spec: ModelSpec, c: CacheConfig, tokens: number): number {
  return tokens * cacheBytesPerToken(spec, c) + ringCacheBytes(spec, c, tokens);
}

/**
 * Bytes per token of the cache's largest GPU buffer, which one storage binding must hold: one layer's K
 * (or V) pool in fp16 / f32 (0 when every layer is a ring), one layer's pages in kivi / xquant / xquant-gqa, every layer's in xquant-cl
 * (its rebuild reads all earlier layers' deltas).
 */
export function bindingBytesPerToken(spec: ModelSpec, c: CacheConfig): number {
  const traits = MODE_TRAITS[c.mode];
  if (traits.crossLayer) return cacheBytesPerToken(spec, c);
  let most = 0;
  for (let l = 0; l < spec.numLayers; l++) if (ringTokens(spec, c, l) === null) most = Math.max(most, layerBytesPerToken(spec, c, l));
  // Unquantized K and V have a pool each; a quantized layer's pages hold both.
  return traits.quantized ? most : most / 2;
}

/** The FP16 KV cache every mode is compared against. */
export function fp16KvBytesPerToken(spec: ModelSpec): number {
  return spec.numLayers * 2 * kvDim(spec) * 2;
}
