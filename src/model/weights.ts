// A checkpoint (safetensors, single file or sharded, or GGUF) -> f32 weights in the layout the reference decoder uses.
// Linear weights keep Hugging Face's [out, in] row-major layout: y[o] = sum_i W[o*in + i] * x[i].
// This is the golden model's path (whole f32 model in memory); the GPU engine streams instead
// (src/quant/pack-checkpoint.ts).

import type { ModelFileSource } from './file-source';
import { modelTensors, openCheckpoint, readRows, rowsPerBlock } from './checkpoint';
import { layerKey, layerTensors, type LayerTensors } from './tensors';
import type { ModelSpec } from './model-spec';

export type LayerWeights = LayerTensors<Float32Array, Float32Array>;

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
  const layers: LayerWeights[] = Array.from({ length: spec.numLayers }, (_, i) =>
    layerTensors(
      (k) => byKey.get(layerKey(i, k))!,
      (k) => byKey.get(layerKey(i, k)) ?? null,
    ),
  );
  return { embed, lmHead: byKey.get('lm_head') ?? embed, layers, finalNorm: byKey.get('final_norm')! };
}
