// The cache interface every mode implements, and the base the reference modes share.
//
// A mode stores its compact form (fp16 K/V, quantized X, latents, deltas ...). Whenever the stored form of
// a token changes (appended, quantized on leaving the residual window, committed in a per-channel block),
// the mode rematerializes that token's K and V from what is stored and hands them to setKey/setValue,
// which keep a dequantized, post-RoPE view for attention. The view is a CPU-side memo: a token's K/V only
// change when its stored form does, so the reference never rematerializes a token twice for nothing.
// Its bytes are not part of the cache size: storedBytes() counts the compact form only.

import { kvDim, layerWindow, type ModelSpec } from '../../model/model-spec';
import type { ModelWeights } from '../../model/weights';
import { causalAttention, type KeyValueRows } from '../attention';
import { headRmsNorm, matvec } from '../ops';
import { LayerRopes } from '../rope';
import { layerBytesPerToken } from '../../cache/cache-bytes';
import type { CacheConfig } from '../../cache/cache-config';

export interface AppendRows {
  count: number;
  /** Post-RMSNorm attention input, [count, hiddenSize]. */
  x: Float32Array;
  /** Exact pre-RoPE keys (bias included, after the k-norm where the model has one), [count, kvDim]. */
  k: Float32Array;
  /** Exact values (bias included), [count, kvDim]. */
  v: Float32Array;
  /**
   * kivi and xquant-gqa: the K side they quantize per channel, [count, kvDim] (kivi: K; xquant-gqa: the latents
   * X·U_k), given rather than derived from `k` or `x`: a shifted cache re-forms its blocks from what it read back.
   */
  kSide?: Float32Array;
}

export interface ReferenceCache {
  readonly config: CacheConfig;
  /** Tokens stored (positions 0..length-1). */
  readonly length: number;
  /** Store the new tokens of one layer; called for layers 0..L-1 in order, after that layer's attention. */
  append(layer: number, rows: AppendRows): void;
  /** Attention of `count` new post-RoPE queries over the stored tokens plus the new tokens' exact K/V. */
  attend(layer: number, q: Float32Array, count: number, current: KeyValueRows): Float32Array;
  /** Steady-state bytes per token of the compact form, all layers (the formulas of docs/xquant.md §5). */
  bytesPerToken(): number;
  /** Bytes the compact form holds right now, tails and metadata included. */
  storedBytes(): number;
}

/** kivi and xquant-gqa: the modes whose K side is quantized per channel over blocks of tokens. */
export interface KBlockCache extends ReferenceCache {
  /** The K side `rows` store, [count, kvDim]: `rows.kSide` where given. */
  kSide(layer: number, rows: AppendRows): Float32Array;
  /** A token's K side as the cache holds it now: its block dequantized, or the f16 tail's row. */
  readKSide(layer: number, token: number, dst: Float32Array, off: number): void;
}

export function isKBlockCache(cache: ReferenceCache): cache is KBlockCache {
  return 'readKSide' in cache;
}

export interface CacheModel {
  spec: ModelSpec;
  weights: ModelWeights;
}

class GrowRows {
  data: Float32Array;
  constructor(readonly width: number) {
    this.data = new Float32Array(64 * width);
  }
  row(token: number): number {
    const need = (token + 1) * this.width;
    if (need > this.data.length) {
      const next = new Float32Array(Math.max(need, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    return token * this.width;
  }
}

export abstract class MaterializedCache implements ReferenceCache {
  protected readonly spec: ModelSpec;
  protected readonly weights: ModelWeights;
  protected readonly kvDim: number;
  private readonly rope: LayerRopes;
  private readonly keys: GrowRows[];
  private readonly values: GrowRows[];
  private readonly layerLength: number[];
  private readonly kScratch: Float32Array;
  private readonly vScratch: Float32Array;

  constructor(
    model: CacheModel,
    readonly config: CacheConfig,
  ) {
    this.spec = model.spec;
    this.weights = model.weights;
    this.kvDim = kvDim(model.spec);
    this.rope = new LayerRopes(model.spec);
    const L = model.spec.numLayers;
    this.keys = Array.from({ length: L }, () => new GrowRows(this.kvDim));
    this.values = Array.from({ length: L }, () => new GrowRows(this.kvDim));
    this.layerLength = new Array(L).fill(0);
    this.kScratch = new Float32Array(this.kvDim);
    this.vScratch = new Float32Array(this.kvDim);
  }

  get length(): number {
    return this.layerLength[0];
  }

  append(layer: number, rows: AppendRows): void {
    // A layer stores tokens its layer below has stored (all of a forward's at once, or row by row).
    if (layer > 0 && this.layerLength[layer] + rows.count > this.layerLength[layer - 1]) {
      throw new Error(`cache append out of order at layer ${layer}`);
    }
    this.store(layer, rows, this.layerLength[layer]);
    this.layerLength[layer] += rows.count;
  }

  /** Store tokens first..first+count-1 of one layer and rematerialize what changed. */
  protected abstract store(layer: number, rows: AppendRows, first: number): void;

  abstract storedBytes(): number;

  /** Every layer's per-token cost: the oracle keeps every token, where a GPU cache keeps sliding layers in rings. */
  bytesPerToken(): number {
    let total = 0;
    for (let l = 0; l < this.spec.numLayers; l++) total += layerBytesPerToken(this.spec, this.config, l);
    return total;
  }

  /** Record a token's pre-RoPE key; RoPE is applied at the token's absolute position (in layers that have it). */
  protected setKey(layer: number, token: number, k: Float32Array, off: number): void {
    const g = this.keys[layer];
    const at = g.row(token);
    g.data.set(k.subarray(off, off + this.kvDim), at);
    this.rope.apply(layer, g.data, at, this.spec.numKvHeads, token);
  }

  /**
   * A key rebuilt from the stored form (K = X̂·W_kᵀ + b_k, or from latents): the k-norm applied where the model has
   * one (Qwen3), then recorded as setKey does. The norm is per token, so rebuilding and norming commute with nothing lost.
   */
  protected setRebuiltKey(layer: number, token: number, k: Float32Array, off: number): void {
    const norm = this.weights.layers[layer].kNorm;
    if (norm) headRmsNorm(k, off, 1, this.spec.numKvHeads, this.spec.headDim, norm, this.spec.rmsNormEps);
    this.setKey(layer, token, k, off);
  }

  /** The stored post-RoPE key of a token (a view; valid until the next append). */
  protected keyRow(layer: number, token: number): Float32Array {
    const g = this.keys[layer];
    const at = g.row(token);
    return g.data.subarray(at, at + this.kvDim);
  }

  protected setValue(layer: number, token: number, v: Float32Array, off: number): void {
    const g = this.values[layer];
    const at = g.row(token); // may reallocate g.data
    g.data.set(v.subarray(off, off + this.kvDim), at);
  }

  /** K = X̂·W_kᵀ + b_k and V = X̂·W_vᵀ + b_v for one token: what the X-caching modes share. */
  protected rematerializeFromX(layer: number, token: number, xHat: Float32Array): void {
    const w = this.weights.layers[layer];
    const d = this.spec.hiddenSize;
    matvec(w.wk, this.kvDim, d, xHat, 0, this.kScratch, 0, w.bk);
    matvec(w.wv, this.kvDim, d, xHat, 0, this.vScratch, 0, w.bv);
    this.setRebuiltKey(layer, token, this.kScratch, 0);
    this.setValue(layer, token, this.vScratch, 0);
  }

  attend(layer: number, q: Float32Array, count: number, current: KeyValueRows): Float32Array {
    const past: KeyValueRows = { length: this.layerLength[layer], keys: this.keys[layer].data, values: this.values[layer].data };
    return causalAttention(this.spec, q, count, past, current, layerWindow(this.spec, layer));
  }
}
