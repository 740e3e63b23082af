// `xquant-B`: cache the post-RMSNorm attention input X per token (groups of 128 along the hidden
// dimension) and rematerialize K = X̂·W_kᵀ + b_k (then RoPE) and V = X̂·W_vᵀ + b_v.

import { layerBits, type CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel } from './reference-cache';
import { WindowedRowStore } from './row-stores';

export class XQuantCache extends MaterializedCache {
  private readonly x: WindowedRowStore[];
  private readonly xHat: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    const d = model.spec.hiddenSize;
    this.x = model.weights.layers.map((_, l) => new WindowedRowStore(d, layerBits(config, l), config.residual, config.exact));
    this.xHat = new Float32Array(d);
  }

  protected store(layer: number, rows: AppendRows, _first: number): void {
    const d = this.spec.hiddenSize;
    for (let t = 0; t < rows.count; t++) {
      for (const token of this.x[layer].push(rows.x, t * d)) {
        this.x[layer].read(token, this.xHat, 0);
        this.rematerializeFromX(layer, token, this.xHat);
      }
    }
  }

  storedBytes(): number {
    return this.x.reduce((a, s) => a + s.bytes(), 0);
  }
}
