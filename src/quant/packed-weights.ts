// A whole model's weights in one weight format: every matrix packed (src/quant/weight-format.ts), norms and
// biases kept in f32. Tied embeddings stay one matrix. The GPU uploads this; the reference decoder runs
// on `unpackModelWeights` of it, so both see the same values.

import type { LoadedModel } from '../model/load-model';
import { kvDim, type ModelSpec } from '../model/model-spec';
import type { ModelWeights } from '../model/weights';
import { packMatrix, unpackMatrix, type PackedMatrix, type WeightFormat } from './weight-format';

export interface PackedLayer {
  attnNorm: Float32Array;
  wq: PackedMatrix;
  wk: PackedMatrix;
  wv: PackedMatrix;
  wo: PackedMatrix;
  bq: Float32Array | null;
  bk: Float32Array | null;
  bv: Float32Array | null;
  mlpNorm: Float32Array;
  wGate: PackedMatrix;
  wUp: PackedMatrix;
  wDown: PackedMatrix;
}

export interface PackedWeights {
  format: WeightFormat;
  embed: PackedMatrix;
  /** The same object as `embed` when the embeddings are tied. */
  lmHead: PackedMatrix;
  layers: PackedLayer[];
  finalNorm: Float32Array;
}

export function packModelWeights(spec: ModelSpec, w: ModelWeights, format: WeightFormat): PackedWeights {
  const { hiddenSize: d, numHeads, headDim, intermediateSize: f, vocabSize: V } = spec;
  const q = numHeads * headDim;
  const kv = kvDim(spec);
  const embed = packMatrix(w.embed, V, d, format);
  return {
    format,
    embed,
    lmHead: w.lmHead === w.embed ? embed : packMatrix(w.lmHead, V, d, format),
    layers: w.layers.map((l) => ({
      attnNorm: l.attnNorm,
      wq: packMatrix(l.wq, q, d, format),
      wk: packMatrix(l.wk, kv, d, format),
      wv: packMatrix(l.wv, kv, d, format),
      wo: packMatrix(l.wo, d, q, format),
      bq: l.bq,
      bk: l.bk,
      bv: l.bv,
      mlpNorm: l.mlpNorm,
      wGate: packMatrix(l.wGate, f, d, format),
      wUp: packMatrix(l.wUp, f, d, format),
      wDown: packMatrix(l.wDown, d, f, format),
    })),
    finalNorm: w.finalNorm,
  };
}

export function unpackModelWeights(p: PackedWeights): ModelWeights {
  const embed = unpackMatrix(p.embed);
  return {
    embed,
    lmHead: p.lmHead === p.embed ? embed : unpackMatrix(p.lmHead),
    layers: p.layers.map((l) => ({
      attnNorm: l.attnNorm,
      wq: unpackMatrix(l.wq),
      wk: unpackMatrix(l.wk),
      wv: unpackMatrix(l.wv),
      wo: unpackMatrix(l.wo),
      bq: l.bq,
      bk: l.bk,
      bv: l.bv,
      mlpNorm: l.mlpNorm,
      wGate: unpackMatrix(l.wGate),
      wUp: unpackMatrix(l.wUp),
      wDown: unpackMatrix(l.wDown),
    })),
    finalNorm: p.finalNorm,
  };
}

/** The model with its weights replaced by what `format` stores (f32 returns it unchanged). */
export function withWeightFormat(model: LoadedModel, format: WeightFormat): LoadedModel {
  if (format === 'f32') return model;
  return { ...model, weights: unpackModelWeights(packModelWeights(model.spec, model.weights, format)) };
}
