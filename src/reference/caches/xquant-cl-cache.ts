// `xquant-cl-B`: cross-layer deltas of X, closed loop. Base layers (see clBaseLayers) store X itself at
// max(4, B) bits; every later layer i stores ΔX̂_i = Q(X_i − X̂_{i−1}) against the previous layer's
// *reconstruction*, so X̂_i = X̂_{i−1} + deQ(ΔX̂_i) carries only layer i's own rounding error.
// The running sum X̂ (the accumulator) is kept in f32 for the tokens being quantized in this step.

import { clBaseBits, clBaseLayers, layerBits, type CacheConfig } from '../../cache/cache-config';
import { MaterializedCache, type AppendRows, type CacheModel } from './reference-cache';
import { F16RowStore, F32RowStore, QuantRowStore, type RowStore } from './row-stores';

export class XQuantClCache extends MaterializedCache {
  private readonly q: RowStore[];
  private readonly window: Array<F16RowStore | F32RowStore>;
  private readonly nBase: number;
  /** X̂ of the previous layer for tokens quantized in the current step. */
  private readonly recon = new Map<number, Float32Array>();
  private readonly row: Float32Array;

  constructor(model: CacheModel, config: CacheConfig) {
    super(model, config);
    const d = model.spec.hiddenSize;
    this.nBase = clBaseLayers(model.spec);
    this.q = model.weights.layers.map((_, l) => {
      const bits = l < this.nBase ? Math.max(clBaseBits(config), layerBits(config, l)) : layerBits(config, l);
      return config.exact ? new F32RowStore(d) : new QuantRowStore(d, bits);
    });
    this.window = model.weights.layers.map(() => (config.exact ? new F32RowStore(d) : new F16RowStore(d)));
    this.row = new Float32Array(d);
  }

  protected store(layer: number, rows: AppendRows, first: number): void {
    const d = this.spec.hiddenSize;
    const R = this.config.residual;
    const win = this.window[layer];
    for (let t = 0; t < rows.count; t++) {
      const token = first + t;
      if (R === 0) {
        this.quantizeToken(layer, token, rows.x.subarray(t * d, (t + 1) * d));
        continue;
      }
      win.push(rows.x, t * d);
      win.read(win.length - 1, this.row, 0);
      this.rematerializeFromX(layer, token, this.row);
      if (win.length > R) {
        const evicted = token - R;
        win.read(0, this.row, 0);
        win.dropOldest(1);
        this.quantizeToken(layer, evicted, this.row.slice());
      }
    }
  }

  private quantizeToken(layer: number, token: number, x: Float32Array): void {
    const d = this.spec.hiddenSize;
    const store = this.q[layer];
    const xHat = new Float32Array(d);
    if (layer < this.nBase) {
      store.push(x, 0);
      store.read(store.length - 1, xHat, 0);
    } else {
      const prev = this.recon.get(token);
      if (!prev) throw new Error(`xquant-cl: no reconstruction of layer ${layer - 1} for token ${token}`);
      const delta = new Float32Array(d);
      for (let i = 0; i < d; i++) delta[i] = x[i] - prev[i];
      store.push(delta, 0);
      store.read(store.length - 1, xHat, 0);
      for (let i = 0; i < d; i++) xHat[i] += prev[i];
    }
    if (layer === this.spec.numLayers - 1) this.recon.delete(token);
    else this.recon.set(token, xHat);
    this.rematerializeFromX(layer, token, xHat);
  }

  storedBytes(): number {
    return [...this.q, ...this.window].reduce((a, s) => a + s.bytes(), 0);
  }
}
