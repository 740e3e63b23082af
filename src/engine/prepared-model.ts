// A model ready for the GPU: weights packed in the chosen format, the SVD factors xquant-gqa needs, the
// tokenizer and the text files it came from. This is what the weight cache stores, so a second visit
// skips the download, the quantization and the SVD.

import { cachedLatents, computeLatents, type LayerLatents } from '../cache/xquant-gqa-cache';
import type { LoadedModel, ModelTexts } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import type { ModelWeights } from '../model/weights';
import { packModelWeights, unpackModelWeights, type PackedWeights } from '../quant/packed-weights';
import type { WeightFormat } from '../quant/weight-format';
import type { TextTokenizer } from '../tokenizer/tokenizer';

export interface PreparedModel {
  name: string;
  spec: ModelSpec;
  tokenizer: TextTokenizer;
  texts: ModelTexts;
  packed: PackedWeights;
  /** Per layer SVD factors of W_k and W_v (of the packed weights); null for models without GQA. */
  latents: LayerLatents[] | null;
}

export function prepareModel(m: LoadedModel, format: WeightFormat): PreparedModel {
  const packed = packModelWeights(m.spec, m.weights, format);
  return { name: m.name, spec: m.spec, tokenizer: m.tokenizer, texts: m.texts, packed, latents: latentsOf(m.spec, m.weights, packed) };
}

/** xquant-gqa's SVD factors of the weights as packed (what the GPU holds); null for models without GQA. */
export function latentsOf(spec: ModelSpec, weights: ModelWeights, packed: PackedWeights): LayerLatents[] | null {
  if (spec.numKvHeads >= spec.numHeads) return null;
  return packed.format === 'f32' ? cachedLatents({ spec, weights }) : computeLatents({ spec, weights: unpackModelWeights(packed) });
}
