// A reference cache that remembers the exact rows appended to it, so it can keep the first m tokens of
// any mode: a fresh cache of the mode is given those tokens' rows again. A token's stored form depends only on
// its own exact rows and the tokens stored before it, so the result is what the cache held at m tokens. How
// many tokens may be kept is the shared rule (src/cache/keep.ts), so both backends keep the same prefix. The
// exact rows cost more than the cache itself: this is the golden model's way, not a browser's.

import type { CacheConfig } from '../../cache/cache-config';
import { exactPrefix } from '../../cache/keep';
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
