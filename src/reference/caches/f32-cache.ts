// `f32`: exact K (pre-RoPE) and V; the golden reference every other mode is compared with.

import type { CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel } from './reference-cache';
import { F32RowStore } from './row-stores';

export class F32Cache extends MaterializedCache {
  private readonly k: F32RowStore[];
  private readonly v: F32RowStore[];

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    this.k = model.weights.layers.map(() => new F32RowStore(this.kvDim));
    this.v = model.weights.layers.map(() => new F32RowStore(this.kvDim));
  }

  protected store(layer: number, rows: AppendRows, first: number): void {
    for (let t = 0; t < rows.count; t++) {
      this.k[layer].push(rows.k, t * this.kvDim);
      this.v[layer].push(rows.v, t * this.kvDim);
      this.setKey(layer, first + t, rows.k, t * this.kvDim);
      this.setValue(layer, first + t, rows.v, t * this.kvDim);
    }
  }

  storedBytes(): number {
    return [...this.k, ...this.v].reduce((a, s) => a + s.bytes(), 0);
  }
}
