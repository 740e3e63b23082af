// `kivi-B` (KIVI*, the paper's baseline): pre-RoPE K quantized per channel over blocks of 128 tokens
// (the incomplete newest block stays fp16), V quantized per token along its channels.

import { layerBits, type CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel, type KBlockCache } from './reference-cache';
import { ChannelGroupStore, WindowedRowStore } from './row-stores';

export class KiviCache extends MaterializedCache implements KBlockCache {
  private readonly k: ChannelGroupStore[];
  private readonly v: WindowedRowStore[];
  private readonly row: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    const L = model.spec.numLayers;
    this.k = Array.from({ length: L }, (_, l) => new ChannelGroupStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.v = Array.from({ length: L }, (_, l) => new WindowedRowStore(this.kvDim, layerBits(config, l), config.residual, config.exact));
    this.row = new Float32Array(this.kvDim);
  }

  kSide(_layer: number, rows: AppendRows): Float32Array {
    return rows.kSide ?? rows.k;
  }

  readKSide(layer: number, token: number, dst: Float32Array, off: number): void {
    this.k[layer].read(token, dst, off);
  }

  protected store(layer: number, rows: AppendRows, _first: number): void {
    const k = this.kSide(layer, rows);
    for (let t = 0; t < rows.count; t++) {
      for (const token of this.k[layer].push(k, t * this.kvDim)) {
        this.k[layer].read(token, this.row, 0);
        this.setKey(layer, token, this.row, 0);
      }
      for (const token of this.v[layer].push(rows.v, t * this.kvDim)) {
        this.v[layer].read(token, this.row, 0);
        this.setValue(layer, token, this.row, 0);
      }
    }
  }

  storedBytes(): number {
    return [...this.k, ...this.v].reduce((a, s) => a + s.bytes(), 0);
  }
}
