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

  /** The exact rows of every layer, one part per layer ([x | k | v] of all tokens): the golden model's form, not a compact one. */
  save(): SessionSnapshot {
    const parts = this.rows.map((chunks) => {
      const all = [...chunks.map((r) => r.x), ...chunks.map((r) => r.k), ...chunks.map((r) => r.v)];
      const out = new Float32Array(all.reduce((a, x) => a + x.length, 0));
      let at = 0;
      for (const x of all) out.set(x, (at += x.length) - x.length);
      return new Uint8Array(out.buffer);
    });
    return { length: this.length, layout: this.layout(), parts };
  }

  /** Into an empty cache: the rows of `snap` appended again, so the cache holds what the saved one held. */
  restore(snap: SessionSnapshot): void {
    const s = this.model.spec;
    const d = s.hiddenSize;
    const kv = s.numKvHeads * s.headDim;
    const m = snap.length;
    if (snap.layout !== this.layout() || snap.parts.length !== s.numLayers || snap.parts.some((p) => p.byteLength !== m * (d + 2 * kv) * 4))
      throw new SavedCacheError('the snapshot was made for another layout', { field: 'layout', expected: this.layout(), got: snap.layout });
    if (this.length !== 0) throw new SavedCacheError('restore needs an empty session', { field: 'length', expected: '0', got: String(this.length) });
    if (m === 0) return;
    snap.parts.forEach((p, layer) => {
      const f = new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
      this.append(layer, { count: m, x: f.subarray(0, m * d), k: f.subarray(m * d, m * (d + kv)), v: f.subarray(m * (d + kv)) });
    });
  }

  /**
   * Drop tokens [from, to): a fresh cache is given the recorded rows of the others, so each later token is stored at
   * its new position (its X, and its K before RoPE, were computed with the dropped tokens in context, as a kept entry
   * is). For fp16 that rounds K once at the new position where the GPU turns the stored K and rounds it again.
   */
  shift(from: number, to: number): boolean {
    if (!canShift(this.config)) return false;
    const len = this.length;
    const d = this.model.spec.hiddenSize;
    const kv = this.model.spec.numKvHeads * this.model.spec.headDim;
    const fresh = createReferenceCache(this.model, this.config);
    const m = len - (to - from);
    for (let layer = 0; layer < this.rows.length; layer++) {
      const all: AppendRows = { count: len, x: new Float32Array(len * d), k: new Float32Array(len * kv), v: new Float32Array(len * kv) };
      let at = 0;
      for (const r of this.rows[layer]) {
        all.x.set(r.x, at * d);
        all.k.set(r.k, at * kv);
        all.v.set(r.v, at * kv);
        at += r.count;
      }
      const cut = (a: Float32Array, w: number) => {
        const out = new Float32Array(m * w);
        out.set(a.subarray(0, from * w));
        out.set(a.subarray(to * w, len * w), from * w);
        return out;
      };
      const kept: AppendRows = { count: m, x: cut(all.x, d), k: cut(all.k, kv), v: cut(all.v, kv) };
      if (m > 0) fresh.append(layer, kept);
      this.rows[layer] = m > 0 ? [kept] : [];
    }
    this.inner = fresh;
    return true;
  }

  /** Keep the first `n` tokens where exact (exactPrefix); returns how many were kept. */
  keep(n: number): number {
    const m = exactPrefix(this.config, this.length, n);
    if (m === this.length) return m;
    const d = this.model.spec.hiddenSize;
    const kv = this.rows[0][0] ? this.rows[0][0].k.length / this.rows[0][0].count : 0;
    const fresh = createReferenceCache(this.model, this.config);
    for (let layer = 0; layer < this.rows.length; layer++) {
      const kept: AppendRows = { count: m, x: new Float32Array(m * d), k: new Float32Array(m * kv), v: new Float32Array(m * kv) };
      const chunks: AppendRows[] = [];
      let at = 0;
      for (const r of this.rows[layer]) {
        if (at >= m) break;
        const take = Math.min(r.count, m - at);
        kept.x.set(r.x.subarray(0, take * d), at * d);
        kept.k.set(r.k.subarray(0, take * kv), at * kv);
        kept.v.set(r.v.subarray(0, take * kv), at * kv);
        chunks.push(take === r.count ? r : { count: take, x: r.x.slice(0, take * d), k: r.k.slice(0, take * kv), v: r.v.slice(0, take * kv) });
        at += take;
      }
      if (m > 0) fresh.append(layer, kept);
      this.rows[layer] = chunks;
    }
    this.inner = fresh;
    return m;
  }
}
