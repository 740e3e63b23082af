// `xquant-gqa-B`: for models with fewer kv heads than heads. At load, per layer, a thin SVD
// W_k = U_k Σ_k B_kᵀ (and the same for W_v). The cache holds the latents X·U_k (quantized per channel over
// 128-token blocks, newest block fp16) and X·U_v (per token); K = (X·U_k)·(Σ_k B_kᵀ) + b_k, the same for V.
// The basis change is full rank, so without quantization K and V are exact.

import type { ModelSpec } from '../../model/model-spec';
import { thinSvdOfRows } from '../../linalg/svd';
import { matvec } from '../ops';
import { checkModeFits, layerBits, type CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel } from './reference-cache';
import { ChannelGroupStore, WindowedRowStore } from './row-stores';

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

export function computeLatents(model: CacheModel): LayerLatents[] {
  return model.weights.layers.map((w) => layerLatents(model.spec as ModelSpec, w.wk, w.wv));
}

/** SVD factors are computed once per model and shared by every cache of it. */
const latentMemo = new WeakMap<object, LayerLatents[]>();

/** The factors of a model's weights, computed once per weights object (the SVD is the slow part). */
export function cachedLatents(model: CacheModel): LayerLatents[] {
  let latents = latentMemo.get(model.weights);
  if (!latents) latentMemo.set(model.weights, (latents = computeLatents(model)));
  return latents;
}

export class XQuantGqaCache extends MaterializedCache {
  private readonly latents: LayerLatents[];
  private readonly zk: ChannelGroupStore[];
  private readonly zv: WindowedRowStore[];
  private readonly z: Float32Array;
  private readonly out: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    checkModeFits(model.spec as ModelSpec, config);
    this.latents = cachedLatents(model);
    const L = model.spec.numLayers;
    this.zk = Array.from({ length: L }, (_, l) => new ChannelGroupStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.zv = Array.from({ length: L }, (_, l) => new WindowedRowStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.z = new Float32Array(this.kvDim);
    this.out = new Float32Array(this.kvDim);
  }

  protected store(layer: number, rows: AppendRows, _first: number): void {
    const d = this.spec.hiddenSize;
    const kv = this.kvDim;
    const { k: bk, v: bv } = this.latents[layer];
    const w = this.weights.layers[layer];
    for (let t = 0; t < rows.count; t++) {
      matvec(bk.down, kv, d, rows.x, t * d, this.z, 0);
      for (const token of this.zk[layer].push(this.z, 0)) {
        this.zk[layer].read(token, this.z, 0);
        matvec(bk.up, kv, kv, this.z, 0, this.out, 0, w.bk);
        this.setKey(layer, token, this.out, 0);
      }
      matvec(bv.down, kv, d, rows.x, t * d, this.z, 0);
      for (const token of this.zv[layer].push(this.z, 0)) {
        this.zv[layer].read(token, this.z, 0);
        matvec(bv.up, kv, kv, this.z, 0, this.out, 0, w.bv);
        this.setValue(layer, token, this.out, 0);
      }
    }
  }

  storedBytes(): number {
    return [...this.zk, ...this.zv].reduce((a, s) => a + s.bytes(), 0);
  }
}
