// A whole model's weights in one weight format: every matrix packed (src/quant/weight-format.ts), norms and
// biases kept in f32. Tied embeddings stay one matrix. The GPU uploads this; the reference decoder runs
// on `unpackModelWeights` of it, so both see the same values.

import type { LoadedModel } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import { LAYER_TENSORS, mapLayerMatrices, type LayerTensors } from '../model/tensors';
import type { ModelWeights } from '../model/weights';
import { packMatrix, unpackMatrix, type PackFormat, type PackedMatrix, type WeightFormat } from './weight-format';

export type PackedLayer = LayerTensors<PackedMatrix, Float32Array>;

export interface PackedWeights {
  format: WeightFormat;
  embed: PackedMatrix;
  /** The same object as `embed` when the embeddings are tied. */
  lmHead: PackedMatrix;
  layers: PackedLayer[];
  finalNorm: Float32Array;
}

export function packModelWeights(spec: ModelSpec, w: ModelWeights, format: PackFormat): PackedWeights {
  const embed = packMatrix(w.embed, spec.vocabSize, spec.hiddenSize, format);
  const shapes = new Map(LAYER_TENSORS.map((t) => [t.key, t.shape(spec)]));
  return {
    format,
    embed,
    lmHead: w.lmHead === w.embed ? embed : packMatrix(w.lmHead, spec.vocabSize, spec.hiddenSize, format),
    layers: w.layers.map((l) =>
      mapLayerMatrices(l, (m, key) => {
        const [rows, cols] = shapes.get(key)!;
        return packMatrix(m, rows, cols, format);
      }),
    ),
    finalNorm: w.finalNorm,
  };
}

export function unpackModelWeights(p: PackedWeights): ModelWeights {
  const embed = unpackMatrix(p.embed);
  return {
    embed,
    lmHead: p.lmHead === p.embed ? embed : unpackMatrix(p.lmHead),
    layers: p.layers.map((l) => mapLayerMatrices(l, unpackMatrix)),
    finalNorm: p.finalNorm,
  };
}

/** The model with its weights replaced by what `format` stores (f32 returns it unchanged). */
export function withWeightFormat(model: LoadedModel, format: PackFormat): LoadedModel {
  if (format === 'f32') return model;
  return { ...model, weights: unpackModelWeights(packModelWeights(model.spec, model.weights, format)) };
}
