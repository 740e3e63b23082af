// A reference cache that remembers the exact rows appended to it, so it can keep the first m tokens of
// any mode: a fresh cache of the mode is given those tokens' rows again. A token's stored form depends only on
// its own exact rows and the tokens stored before it, so the result is what the cache held at m tokens. How
// many tokens may be kept is the shared rule (src/cache/keep.ts), so both backends keep the same prefix. The
// exact rows cost more than the cache itself: this is the golden model's way, not a browser's.
// kivi and xquant-gqa also record each token's K side (AppendRows.kSide): after a shift it is what the cache read
// back, not what the token's rows give, and replaying it gives the shifted cache again.

import { cacheModeName, GROUP_SIZE, type CacheConfig } from '../../cache/cache-config';
import type { SessionSnapshot } from '../../engine/backend';
import { SavedCacheError } from '../../errors';
import { canShift, exactPrefix } from '../../cache/keep';
import type { KeyValueRows } from '../attention';
import { createReferenceCache } from './create-cache';
import { isKBlockCache, type AppendRows, type CacheModel, type ReferenceCache } from './reference-cache';

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
    const inner = this.inner;
    const recorded = isKBlockCache(inner) && !rows.kSide ? { ...rows, kSide: inner.kSide(layer, rows) } : rows;
    this.rows[layer].push(recorded);
    inner.append(layer, recorded);
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
    const { ks } = this.widths();
    return `reference/${cacheModeName(this.config)}/L${s.numLayers}/d${s.hiddenSize}/kv${s.numKvHeads * s.headDim}${ks > 0 ? `/ks${ks}` : ''}`;
  }

  /** Widths of a token's recorded rows: x (hidden), k and v (kv width), and the K side (kv width in kivi and xquant-gqa, else 0). */
  private widths(): { d: number; kv: number; ks: number } {
    const s = this.model.spec;
    const kv = s.numKvHeads * s.headDim;
    return { d: s.hiddenSize, kv, ks: isKBlockCache(this.inner) ? kv : 0 };
  }

  /** Every row recorded for a layer, as one append. */
  private joined(layer: number): AppendRows {
    const { d, kv, ks } = this.widths();
    const n = this.length;
    const out = { count: n, x: new Float32Array(n * d), k: new Float32Array(n * kv), v: new Float32Array(n * kv), kSide: new Float32Array(n * ks) };
    let at = 0;
    for (const r of this.rows[layer]) {
      out.x.set(r.x, at * d);
      out.k.set(r.k, at * kv);
      out.v.set(r.v, at * kv);
      if (r.kSide) out.kSide.set(r.kSide, at * ks);
      at += r.count;
    }
    return ks > 0 ? out : { count: n, x: out.x, k: out.k, v: out.v };
  }

  /** `r` with each row array cut to the tokens `pick` gives (as [start, end) token runs). */
  private pick(r: AppendRows, runs: [number, number][]): AppendRows {
    const { d, kv, ks } = this.widths();
    const count = runs.reduce((a, [s, e]) => a + e - s, 0);
    const cut = (a: Float32Array, w: number) => {
      const out = new Float32Array(count * w);
      let at = 0;
      for (const [s, e] of runs) {
        out.set(a.subarray(s * w, e * w), at * w);
        at += e - s;
      }
      return out;
    };
    const out: AppendRows = { count, x: cut(r.x, d), k: cut(r.k, kv), v: cut(r.v, kv) };
    if (r.kSide && ks > 0) out.kSide = cut(r.kSide, ks);
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

  /** The exact rows of every layer, one part per layer ([x | k | v | K side] of all tokens): the golden model's form, not a compact one. */
  save(): SessionSnapshot {
    const parts = this.rows.map((_, layer) => {
      const r = this.joined(layer);
      const side = r.kSide ?? new Float32Array(0);
      const out = new Float32Array(r.x.length + r.k.length + r.v.length + side.length);
      out.set(r.x);
      out.set(r.k, r.x.length);
      out.set(r.v, r.x.length + r.k.length);
      out.set(side, r.x.length + r.k.length + r.v.length);
      return new Uint8Array(out.buffer);
    });
    return { length: this.length, layout: this.layout(), parts };
  }

  /** Into an empty cache: the rows of `snap` appended again, so the cache holds what the saved one held. */
  restore(snap: SessionSnapshot): void {
    const { d, kv, ks } = this.widths();
    const m = snap.length;
    if (snap.layout !== this.layout() || snap.parts.length !== this.rows.length || snap.parts.some((p) => p.byteLength !== m * (d + 2 * kv + ks) * 4))
      throw new SavedCacheError('the snapshot was made for another layout', { field: 'layout', expected: this.layout(), got: snap.layout });
    if (this.length !== 0) throw new SavedCacheError('restore needs an empty session', { field: 'length', expected: '0', got: String(this.length) });
    this.rebuild(
      snap.parts.map((p) => {
        const f = new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
        const r: AppendRows = { count: m, x: f.subarray(0, m * d), k: f.subarray(m * d, m * (d + kv)), v: f.subarray(m * (d + kv), m * (d + 2 * kv)) };
        if (ks > 0) r.kSide = f.subarray(m * (d + 2 * kv));
        return r;
      }),
    );
  }

  /**
   * Drop tokens [from, to): a fresh cache is given the recorded rows of the others, so each later token is stored at
   * its new position (its X, and its K before RoPE, were computed with the dropped tokens in context, as a kept entry
   * is). For fp16 that rounds K once at the new position where the GPU turns the stored K and rounds it again.
   * kivi and xquant-gqa: the raw K side of a committed block is gone, so from the start of `from`'s block on the
   * blocks are re-formed from the K side as the cache holds it (dequantized, or the f16 tail), as the GPU does: a
   * moved token's K side is rounded twice.
   */
  shift(from: number, to: number): boolean {
    if (!canShift(this.config, this.length, to)) return false;
    const kept: [number, number][] = [
      [0, from],
      [to, this.length],
    ];
    const inner = this.inner;
    const first = from - (from % GROUP_SIZE);
    const { ks } = this.widths();
    this.rebuild(
      this.rows.map((_, layer) => {
        const r = this.pick(this.joined(layer), kept);
        if (isKBlockCache(inner) && r.kSide) {
          for (let t = first; t < r.count; t++) inner.readKSide(layer, t < from ? t : t + to - from, r.kSide, t * ks);
        }
        return r;
      }),
    );
    return true;
  }

  /** Keep the first `n` tokens where exact (exactPrefix); returns how many were kept. */
  keep(n: number): number {
    const m = exactPrefix(this.config, this.length, n);
    if (m === this.length) return m;
    this.rebuild(this.rows.map((_, layer) => this.pick(this.joined(layer), [[0, m]])));
    return m;
  }
}
