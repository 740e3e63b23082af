// `fp16`: K (after RoPE, as a KV cache stores it) and V rounded to float16.

import type { CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel } from './reference-cache';
import { F16RowStore } from './row-stores';

export class Fp16Cache extends MaterializedCache {
  private readonly k: F16RowStore[];
  private readonly v: F16RowStore[];
  private readonly row: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    this.k = model.weights.layers.map(() => new F16RowStore(this.kvDim));
    this.v = model.weights.layers.map(() => new F16RowStore(this.kvDim));
    this.row = new Float32Array(this.kvDim);
  }

  protected store(layer: number, rows: AppendRows, first: number): void {
    for (let t = 0; t < rows.count; t++) {
      const token = first + t;
      this.setKey(layer, token, rows.k, t * this.kvDim);
      const key = this.keyRow(layer, token);
      this.k[layer].push(key, 0);
      this.k[layer].read(token, key, 0);
      this.v[layer].push(rows.v, t * this.kvDim);
      this.v[layer].read(token, this.row, 0);
      this.setValue(layer, token, this.row, 0);
    }
  }

  storedBytes(): number {
    return [...this.k, ...this.v].reduce((a, s) => a + s.bytes(), 0);
  }
}
