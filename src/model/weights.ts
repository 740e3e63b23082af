// A checkpoint (safetensors, single file or sharded, or GGUF) -> f32 weights in the layout the reference decoder uses.
// Linear weights keep Hugging Face's [out, in] row-major layout: y[o] = sum_i W[o*in + i] * x[i].
// This is the golden model's path (whole f32 model in memory); the GPU engine streams instead
// (src/quant/pack-checkpoint.ts).

import type { ModelFileSource } from './file-source';
import { modelTensors, openCheckpoint, readRows, rowsPerBlock, type LayerMatrix, type LayerVector } from './checkpoint';
import type { ModelSpec } from './model-spec';

export interface LayerWeights {
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  bq: Float32Array | null;
  bk: Float32Array | null;
  bv: Float32Array | null;
  mlpNorm: Float32Array;
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
}

export interface ModelWeights {
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** The same array as `embed` when the embeddings are tied. */
  lmHead: Float32Array;
}

export async function loadModelWeights(spec: ModelSpec, source: ModelFileSource): Promise<ModelWeights> {
  const tensors = modelTensors(spec, await openCheckpoint(source));
  const byKey = new Map<string, Float32Array>();
  for (const t of tensors) {
    const out = new Float32Array(t.rows * t.cols);
    const step = rowsPerBlock(t);
    for (let r = 0; r < t.rows; r += step) out.set(await readRows(source, t, r, Math.min(step, t.rows - r)), r * t.cols);
    byKey.set(t.key, out);
  }
  const embed = byKey.get('embed')!;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const m = (k: LayerMatrix) => byKey.get(`l${i}.${k}`)!;
    const v = (k: LayerVector) => byKey.get(`l${i}.${k}`) ?? null;
    layers.push({
      attnNorm: v('attnNorm')!,
      wq: m('wq'),
      wk: m('wk'),
      wv: m('wv'),
      wo: m('wo'),
      bq: v('bq'),
      bk: v('bk'),
      bv: v('bv'),
      mlpNorm: v('mlpNorm')!,
      wGate: m('wGate'),
      wUp: m('wUp'),
      wDown: m('wDown'),
    });
  }
  return { embed, lmHead: byKey.get('lm_head') ?? embed, layers, finalNorm: byKey.get('final_norm')! };
}
