// A model ready for the engine: its spec, tokenizer and text files, and its weights as a stream of packed
// blocks that the engine uploads once (from a checkpoint read by range, from the weight cache, or from
// memory). xquant-gqa's SVD factors are not part of it: they are made when that mode is first used.

import { cachedLatents, computeLatents, type LatentSource, type LayerLatents } from '../cache/latents';
import type { ModelTexts } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import type { ModelWeights } from '../model/weights';
import { unpackModelWeights, type PackedWeights } from '../quant/packed-weights';
import type { WeightStream } from '../quant/weight-stream';
import type { TextTokenizer } from '../tokenizer/tokenizer';

export interface PreparedModel {
  name: string;
  spec: ModelSpec;
  tokenizer: TextTokenizer;
  texts: ModelTexts;
  /** Read once, by the upload. */
  weights: WeightStream;
  /** Where xquant-gqa's factors are kept between loads (the weight cache); {}: computed from the GPU's weights. */
  latents: LatentSource;
}

/** xquant-gqa's SVD factors of the weights as packed (what the GPU holds). */
export function latentsOf(spec: ModelSpec, weights: ModelWeights, packed: PackedWeights): LayerLatents[] {
  return packed.format === 'f32' ? cachedLatents({ spec, weights }) : computeLatents({ spec, weights: unpackModelWeights(packed) });
}
