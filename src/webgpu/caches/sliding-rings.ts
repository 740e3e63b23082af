// What a cache's sliding-window rings still hold. A sliding layer (Gemma 3's local layers, Mistral's every layer)
// keeps its window plus RING_SLACK_TOKENS, position p at slot p mod the ring's size (src/cache/cache-bytes.ts
// ringTokens): storing past the ring overwrites its oldest rows, and a rollback (keep), a shift or a reload can
// leave a ring without the keys a query's window reads. Both GPU caches (kv-cache.ts, quant-cache.ts) track that
// here; how a shift moves a ring's rows is theirs.

import { InvalidArgumentError, SavedCacheError } from '../../errors';
import { layerWindow, type ModelSpec } from '../../model/model-spec';
import { ringTokens } from '../../cache/cache-bytes';
import type { CacheConfig } from '../../cache/cache-config';
import { exactPrefix, OVERSHOOT_TOKENS } from '../../cache/keep';

export class SlidingRings {
  /** First position whose rows every ring still holds. */
  heldFrom = 0;

  private constructor(
    /** Tokens a ring holds (a whole number of pages; the model has one window, so all rings are this size). */
    readonly tokens: number,
    /** The window its layers attend over. */
    readonly window: number,
  ) {}

  /**
   * The model's rings in this mode, or null where every layer keeps every token. A forward's stores (up to
   * `maxBatch` tokens, then run-ahead's overshoot) must not reach a slot whose key some query of it still reads.
   */
  static of(spec: ModelSpec, config: CacheConfig, maxBatch: number): SlidingRings | null {
    let rings: SlidingRings | null = null;
    for (let l = 0; l < spec.numLayers; l++) {
      const tokens = ringTokens(spec, config, l);
      const window = layerWindow(spec, l);
      if (tokens === null || window === null) continue;
      if (window + maxBatch + OVERSHOOT_TOKENS > tokens) {
        throw new InvalidArgumentError('a forward of this many tokens would overwrite keys of the sliding window still in use', {
          field: 'maxBatch',
          expected: `at most ${tokens - window - OVERSHOOT_TOKENS} with a window of ${window}`,
          got: String(maxBatch),
        });
      }
      rings = new SlidingRings(tokens, window);
    }
    return rings;
  }

  /** The cache's length went from `before` to `n`: storing more overwrote the oldest rows; emptied, nothing is stale. */
  stored(before: number, n: number): void {
    if (n === 0) this.heldFrom = 0;
    else if (n > before) this.heldFrom = Math.max(this.heldFrom, n - this.tokens);
  }

  /** The rings hold the keys the query at position `pos` reads from the pool: [pos + 1 - window, pos). */
  holdsWindow(pos: number, held = this.heldFrom): boolean {
    return held <= Math.max(0, pos + 1 - this.window);
  }

  /**
   * A snapshot holds the rings' rows and (saved since 2026-12-07) how far back they are whole. Without that only what
   * the next query reads is sure, so a rollback into it (a regenerate after a reload) prefills again. A held the
   * rings cannot have (before what they hold at this length, or past the next query's window) is refused.
   */
  restored(length: number, held: number | undefined): void {
    const sure = Math.max(0, length + 1 - this.window);
    if (held === undefined) {
      this.heldFrom = sure;
      return;
    }
    const least = Math.max(0, length - this.tokens);
    if (!Number.isInteger(held) || held < least || held > sure) {
      throw new SavedCacheError("the snapshot's rings cannot hold what it says", {
        field: 'held',
        expected: `an integer in [${least}, ${sure}]`,
        got: String(held),
      });
    }
    this.heldFrom = held;
  }
}

/**
 * The first position a ring of `ring` tokens holds whole after a shift that gathered the rows of [to, to + moved)
 * and wrote them at [from, from + moved), slot = position mod ring. Rows gathered from before `held` were
 * overwritten already, so their new positions are not held; a write overwrites the row one ring before it, so
 * nothing before from + moved - ring is held; rows before `from` that nothing overwrote stay.
 */
export function shiftedHeld(held: number, ring: number, from: number, to: number, moved: number): number {
  const tail = held > to ? from + (held - to) : Math.min(held, from);
  return Math.max(0, from + moved - ring, tail);
}

/**
 * How many of the first n tokens a cache holding `length` keeps exactly: keep.ts's rule for its mode, and none where
 * the token after the kept ones needs window rows a ring has overwritten since (the caller re-runs the prompt).
 */
export function ringExactPrefix(rings: SlidingRings | null, config: CacheConfig, length: number, n: number): number {
  const m = exactPrefix(config, length, n);
  return m === length || !rings || rings.holdsWindow(m) ? m : 0;
}
