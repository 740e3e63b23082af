// xquant-gqa's factors: per layer a thin SVD W = U·Σ·Bᵀ of W_k and of W_v ([kvDim, hidden] each). The cache
// holds the latents X·U (kvDim wide instead of hidden) and rebuilds K = (X·U_k)·(Σ_k·B_kᵀ) + b_k, V alike.
// Both backends use these factors; the WebGPU backend makes them on first use from the weights it holds
// (LatentSource says where they come from and where they are kept between loads).

import { thinSvdOfRows } from '../linalg/svd';
import { packMatrix, unpackMatrix } from '../quant/weight-format';
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

/**
 * The factors as the caches use them: each in q8 (group-32 f16 scales), the GPU's format for them. A decode step reads
 * the down factors whole (2 x kvDim x hidden per layer: in f32, twice the bytes of W_k and W_v in f16), so q8 quarters
 * that. The rounding moves a rebuilt W_k entry by up to 2.4% of W_k's largest value (stories260K), and xquant-gqa-8 /
 * -4 / -2 perplexity by -0.03% / +0.06% / -1.7%, inside what the latents' codes already move it (BENCHMARKS.md, "The
 * planner"). Both backends use these values; the reference's `exact` caches use the factors unrounded.
 */
export function storedLatents(latents: LayerLatents[]): LayerLatents[] {
  let stored = storedMemo.get(latents);
  if (!stored) {
    const q8 = (b: LatentBasis): LatentBasis => {
      const kv = Math.sqrt(b.up.length);
      const hidden = b.down.length / kv;
      return { down: unpackMatrix(packMatrix(b.down, kv, hidden, 'q8')), up: unpackMatrix(packMatrix(b.up, kv, kv, 'q8')) };
    };
    storedMemo.set(latents, (stored = latents.map((l) => ({ k: q8(l.k), v: q8(l.v) }))));
  }
  return stored;
}
const storedMemo = new WeakMap<LayerLatents[], LayerLatents[]>();

/** SVD factors are computed once per model and shared by every cache of it. */
const latentMemo = new WeakMap<object, LayerLatents[]>();

/** The factors of a model's weights, computed once per weights object (the SVD is the slow part). */
export function cachedLatents(model: LatentModel): LayerLatents[] {
  let latents = latentMemo.get(model.weights);
  if (!latents) latentMemo.set(model.weights, (latents = computeLatents(model)));
  return latents;
}
