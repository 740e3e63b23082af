// Bytes per token of each cache mode, from the storage layout (docs/xquant.md §5).
// Per-token groups: {u32 meta; packed codes} per group of up to 128 elements.
// Per-channel groups: the same per 128 tokens of one channel, amortized over those tokens.
// Residual windows and per-channel fp16 tails are a constant number of tokens, not a per-token cost.

import { kvDim, type ModelSpec } from '../model/model-spec';
import { packedWords } from '../quant/quantize';
import { clBaseBits, clBaseLayers, GROUP_SIZE, layerBits, MODE_TRAITS, type CacheConfig } from './cache-config';
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

export function cacheBytesPerToken(spec: ModelSpec, c: CacheConfig): number {
  let total = 0;
  for (let l = 0; l < spec.numLayers; l++) total += layerBytesPerToken(spec, c, l);
  return total;
}

/**
 * Bytes per token of the cache's largest GPU buffer, which one storage binding must hold: one layer's K
 * (or V) pool in fp16 / f32, one layer's pages in kivi / xquant / xquant-gqa, every layer's in xquant-cl
 * (its rebuild reads all earlier layers' deltas).
 */
export function bindingBytesPerToken(spec: ModelSpec, c: CacheConfig): number {
  const traits = MODE_TRAITS[c.mode];
  if (traits.crossLayer) return cacheBytesPerToken(spec, c);
  let most = 0;
  for (let l = 0; l < spec.numLayers; l++) most = Math.max(most, layerBytesPerToken(spec, c, l));
  // Unquantized K and V have a pool each; a quantized layer's pages hold both.
  return traits.quantized ? most : most / 2;
}

/** The FP16 KV cache every mode is compared against. */
export function fp16KvBytesPerToken(spec: ModelSpec): number {
  return spec.numLayers * 2 * kvDim(spec) * 2;
}
