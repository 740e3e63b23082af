// `xquant-gqa-B`: for models with fewer kv heads than heads. At load, per layer, a thin SVD
// W_k = U_k Σ_k B_kᵀ (and the same for W_v). The cache holds the latents X·U_k (quantized per channel over
// 128-token blocks, newest block fp16) and X·U_v (per token); K = (X·U_k)·(Σ_k B_kᵀ) + b_k, the same for V.
// The basis change is full rank, so without quantization K and V are exact. The factors themselves are held in q8
// (src/cache/latents.ts storedLatents), as on the GPU.

import type { ModelSpec } from '../../model/model-spec';
import { matvec } from '../ops';
import { checkModeFits, layerBits, type CacheConfig } from '../../cache/cache-config';
import { cachedLatents, storedLatents, type LayerLatents } from '../../cache/latents';
import { MaterializedCache, type AppendRows, type CacheModel, type KBlockCache } from './reference-cache';
import { ChannelGroupStore, WindowedRowStore } from './row-stores';

export class XQuantGqaCache extends MaterializedCache implements KBlockCache {
  private readonly latents: LayerLatents[];
  private readonly zk: ChannelGroupStore[];
  private readonly zv: WindowedRowStore[];
  private readonly z: Float32Array;
  private readonly out: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    checkModeFits(model.spec as ModelSpec, config);
    // The factors in q8 as the GPU holds them; an `exact` cache (tests of the decomposition) keeps them unrounded.
    this.latents = config.exact ? cachedLatents(model) : storedLatents(cachedLatents(model));
    const L = model.spec.numLayers;
    this.zk = Array.from({ length: L }, (_, l) => new ChannelGroupStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.zv = Array.from({ length: L }, (_, l) => new WindowedRowStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.z = new Float32Array(this.kvDim);
    this.out = new Float32Array(this.kvDim);
  }

  kSide(layer: number, rows: AppendRows): Float32Array {
    if (rows.kSide) return rows.kSide;
    const d = this.spec.hiddenSize;
    const out = new Float32Array(rows.count * this.kvDim);
    for (let t = 0; t < rows.count; t++) matvec(this.latents[layer].k.down, this.kvDim, d, rows.x, t * d, out, t * this.kvDim);
    return out;
  }

  readKSide(layer: number, token: number, dst: Float32Array, off: number): void {
    this.zk[layer].read(token, dst, off);
  }

  protected store(layer: number, rows: AppendRows, _first: number): void {
    const d = this.spec.hiddenSize;
    const kv = this.kvDim;
    const { k: bk, v: bv } = this.latents[layer];
    const w = this.weights.layers[layer];
    const zk = this.kSide(layer, rows);
    for (let t = 0; t < rows.count; t++) {
      for (const token of this.zk[layer].push(zk, t * kv)) {
        this.zk[layer].read(token, this.z, 0);
        matvec(bk.up, kv, kv, this.z, 0, this.out, 0, w.bk);
        this.setRebuiltKey(layer, token, this.out, 0);
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
