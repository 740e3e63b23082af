// A reference cache that remembers the exact rows appended to it, so it can keep the first m tokens of
// any mode: a fresh cache of the mode is given those tokens' rows again. A token's stored form depends only on
// its own exact rows and the tokens stored before it, so the result is what the cache held at m tokens. How
// many tokens may be kept is the shared rule (src/cache/keep.ts), so both backends keep the same prefix. The
// exact rows cost more than the cache itself: this is the golden model's way, not a browser's.

import { cacheModeName, type CacheConfig } from '../../cache/cache-config';
import type { SessionSnapshot } from '../../engine/backend';
import { SavedCacheError } from '../../errors';
import { canShift, exactPrefix } from '../../cache/keep';
import type { KeyValueRows } from '../attention';
import { createReferenceCache } from './create-cache';
import type { AppendRows, CacheModel, ReferenceCache } from './reference-cache';

export class RecordedCache implements ReferenceCache {
  private inner: ReferenceCache;
  /** Per layer, the rows appended, in order. */
  private readonly rows: AppendRows[][];

  constructor(
    private readonly model: CacheModel,
    readonly config: CacheConfig,
  ) {
    this.inner = createReferenceCache(model, config);
    this.rows = Array.from({ length: model.spec.numLayers }, () => []);
  }

  get length(): number {
    return this.inner.length;
  }

  append(layer: number, rows: AppendRows): void {
    this.rows[layer].push(rows);
    this.inner.append(layer, rows);
  }

  attend(layer: number, q: Float32Array, count: number, current: KeyValueRows): Float32Array {
    return this.inner.attend(layer, q, count, current);
  }

  bytesPerToken(): number {
    return this.inner.bytesPerToken();
  }

  storedBytes(): number {
    return this.inner.storedBytes();
  }

  /** What a snapshot of this cache is laid out as: the mode and the row widths. */
  private layout(): string {
    const s = this.model.spec;
    return `reference/${cacheModeName(this.config)}/L${s.numLayers}/d${s.hiddenSize}/kv${s.numKvHeads * s.headDim}`;
  }

  /** Widths of a token's recorded rows: x (hidden) and k, v (kv width). */
  private widths(): { d: number; kv: number } {
    const s = this.model.spec;
    return { d: s.hiddenSize, kv: s.numKvHeads * s.headDim };
  }

  /** Every row recorded for a layer, as one append. */
  private joined(layer: number): AppendRows {
    const { d, kv } = this.widths();
    const n = this.length;
    const out: AppendRows = { count: n, x: new Float32Array(n * d), k: new Float32Array(n * kv), v: new Float32Array(n * kv) };
    let at = 0;
    for (const r of this.rows[layer]) {
      out.x.set(r.x, at * d);
      out.k.set(r.k, at * kv);
      out.v.set(r.v, at * kv);
      at += r.count;
    }
    return out;
  }

  /** A fresh cache given `rows` per layer: what the cache would hold had only those rows been appended. */
  private rebuild(rows: AppendRows[]): void {
    const fresh = createReferenceCache(this.model, this.config);
    rows.forEach((r, layer) => {
      if (r.count > 0) fresh.append(layer, r);
      this.rows[layer] = r.count > 0 ? [r] : [];
    });
    this.inner = fresh;
  }

  /** The exact rows of every layer, one part per layer ([x | k | v] of all tokens): the golden model's form, not a compact one. */
  save(): SessionSnapshot {
    const parts = this.rows.map((_, layer) => {
      const r = this.joined(layer);
      const out = new Float32Array(r.x.length + r.k.length + r.v.length);
      out.set(r.x);
      out.set(r.k, r.x.length);
      out.set(r.v, r.x.length + r.k.length);
      return new Uint8Array(out.buffer);
    });
    return { length: this.length, layout: this.layout(), parts };
  }

  /** Into an empty cache: the rows of `snap` appended again, so the cache holds what the saved one held. */
  restore(snap: SessionSnapshot): void {
    const { d, kv } = this.widths();
    const m = snap.length;
    if (snap.layout !== this.layout() || snap.parts.length !== this.rows.length || snap.parts.some((p) => p.byteLength !== m * (d + 2 * kv) * 4))
      throw new SavedCacheError('the snapshot was made for another layout', { field: 'layout', expected: this.layout(), got: snap.layout });
    if (this.length !== 0) throw new SavedCacheError('restore needs an empty session', { field: 'length', expected: '0', got: String(this.length) });
    this.rebuild(
      snap.parts.map((p) => {
        const f = new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
        return { count: m, x: f.subarray(0, m * d), k: f.subarray(m * d, m * (d + kv)), v: f.subarray(m * (d + kv)) };
      }),
    );
  }

  /**
   * Drop tokens [from, to): a fresh cache is given the recorded rows of the others, so each later token is stored at
   * its new position (its X, and its K before RoPE, were computed with the dropped tokens in context, as a kept entry
   * is). For fp16 that rounds K once at the new position where the GPU turns the stored K and rounds it again.
   */
  shift(from: number, to: number): boolean {
    if (!canShift(this.config)) return false;
    const { d, kv } = this.widths();
    const cut = (a: Float32Array, w: number) => {
      const out = new Float32Array(a.length - (to - from) * w);
      out.set(a.subarray(0, from * w));
      out.set(a.subarray(to * w), from * w);
      return out;
    };
    this.rebuild(
      this.rows.map((_, layer) => {
        const r = this.joined(layer);
        return { count: r.count - (to - from), x: cut(r.x, d), k: cut(r.k, kv), v: cut(r.v, kv) };
      }),
    );
    return true;
  }

  /** Keep the first `n` tokens where exact (exactPrefix); returns how many were kept. */
  keep(n: number): number {
    const m = exactPrefix(this.config, this.length, n);
    if (m === this.length) return m;
    const { d, kv } = this.widths();
    this.rebuild(
      this.rows.map((_, layer) => {
        const r = this.joined(layer);
        return { count: m, x: r.x.slice(0, m * d), k: r.k.slice(0, m * kv), v: r.v.slice(0, m * kv) };
      }),
    );
    return m;
  }
}
