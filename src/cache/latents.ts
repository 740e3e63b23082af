// xquant-gqa's factors: per layer a thin SVD W = U·Σ·Bᵀ of W_k and of W_v ([kvDim, hidden] each). The cache
// holds the latents X·U (kvDim wide instead of hidden) and rebuilds K = (X·U_k)·(Σ_k·B_kᵀ) + b_k, V alike.
// Both backends use these factors; the WebGPU backend makes them on first use from the weights it holds
// (LatentSource says where they come from and where they are kept between loads).

import { thinSvdOfRows } from '../linalg/svd';
import type { ModelSpec } from '../model/model-spec';
import type { ModelWeights } from '../model/weights';

/** What the factors are computed from: a model's spec and its weights (as the backend holds them). */
export interface LatentModel {
  spec: ModelSpec;
  weights: ModelWeights;
}

/** Where xquant-gqa's factors come from: a store (the weight cache), a CPU computation, else the GPU's weights. */
export interface LatentSource {
  load?(): Promise<LayerLatents[] | null>;
  save?(latents: LayerLatents[]): Promise<void>;
  compute?(): LayerLatents[];
}

export interface LatentBasis {
  /** [kvDim, hidden]: row i is the i-th left singular vector, so z = basis·x is X·U. */
  down: Float32Array;
  /** [kvDim, kvDim]: up[j*kv + i] = σ_i·B[j][i], so K = up·z. */
  up: Float32Array;
}

let basesComputed = 0;

/** How many bases this process has computed (tests check that loads which do not need them compute none). */
export function latentBasesComputed(): number {
  return basesComputed;
}

/** Basis change of one projection weight ([kvDim, hidden], Hugging Face layout). */
export function latentBasis(weight: Float32Array, kvDim: number, hidden: number): LatentBasis {
  basesComputed += 1;
  const svd = thinSvdOfRows(weight, kvDim, hidden);
  const up = new Float32Array(kvDim * kvDim);
  for (let j = 0; j < kvDim; j++) for (let i = 0; i < kvDim; i++) up[j * kvDim + i] = svd.s[i] * svd.v[j * kvDim + i];
  return { down: Float32Array.from(svd.u), up };
}

export interface LayerLatents {
  k: LatentBasis;
  v: LatentBasis;
}

/** One layer's factors from its W_k and W_v ([kvDim, hidden] each). */
export function layerLatents(spec: ModelSpec, wk: Float32Array, wv: Float32Array): LayerLatents {
  const kv = spec.numKvHeads * spec.headDim;
  return { k: latentBasis(wk, kv, spec.hiddenSize), v: latentBasis(wv, kv, spec.hiddenSize) };
}

export function computeLatents(model: LatentModel): LayerLatents[] {
  return model.weights.layers.map((w) => layerLatents(model.spec, w.wk, w.wv));
}

/** SVD factors are computed once per model and shared by every cache of it. */
const latentMemo = new WeakMap<object, LayerLatents[]>();

/** The factors of a model's weights, computed once per weights object (the SVD is the slow part). */
export function cachedLatents(model: LatentModel): LayerLatents[] {
  let latents = latentMemo.get(model.weights);
  if (!latents) latentMemo.set(model.weights, (latents = computeLatents(model)));
  return latents;
}
