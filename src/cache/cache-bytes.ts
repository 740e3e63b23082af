// Bytes per token of each cache mode, from the storage layout (docs/xquant.md §8.1).
// Per-token groups: {u32 meta; packed codes} per group of up to 128 elements.
// Per-channel groups: the same per 128 tokens of one channel, amortized over those tokens.
// Residual windows and per-channel fp16 tails are a constant number of tokens, not a per-token cost.

import { kvDim, type ModelSpec } from '../model/model-spec';
import { packedWords } from '../quant/quantize';
import { clBaseBits, clBaseLayers, GROUP_SIZE, layerBits, type CacheConfig } from './cache-config';
import { quantRowWords } from './row-stores';

const perTokenRow = (n: number, bits: number): number => quantRowWords(n, bits) * 4;
const perChannel = (n: number, bits: number): number => (n * (1 + packedWords(GROUP_SIZE, bits)) * 4) / GROUP_SIZE;

export function cacheBytesPerToken(spec: ModelSpec, c: CacheConfig): number {
  const dkv = kvDim(spec);
  const d = spec.hiddenSize;
  let total = 0;
  for (let l = 0; l < spec.numLayers; l++) {
    const b = layerBits(c, l);
    switch (c.mode) {
      case 'f32':
        total += 2 * dkv * 4;
        break;
      case 'fp16':
        total += 2 * dkv * 2;
        break;
      case 'kivi':
      case 'xquant-gqa':
        total += perChannel(dkv, b) + perTokenRow(dkv, b);
        break;
      case 'xquant':
        total += perTokenRow(d, b);
        break;
      case 'xquant-cl':
        total += perTokenRow(d, l < clBaseLayers(spec) ? Math.max(clBaseBits(c), b) : b);
        break;
    }
  }
  return total;
}

/** The FP16 KV cache every mode is compared against. */
export function fp16KvBytesPerToken(spec: ModelSpec): number {
  return spec.numLayers * 2 * kvDim(spec) * 2;
}
