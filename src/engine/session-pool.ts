// Conversations the engine keeps between requests: each a decode session whose cache holds a token history, so
// the next request that starts with that history prefills only what follows it. Kept sessions count against the
// cache budget; a request that needs room evicts the least recently used.

import type { DecodeSession } from './backend';

/** How many leading tokens two sequences share (from `aAt` in `a` and `bAt` in `b`). */
export function longestCommonPrefix(a: readonly number[], b: readonly number[], aAt = 0, bAt = 0): number {
  const n = Math.min(a.length - aAt, b.length - bAt);
  let i = 0;
  while (i < n && a[aAt + i] === b[bAt + i]) i++;
  return i;
}

/**
 * Of kept (or saved) histories in `mode`, the one sharing the longest start with `ids`, if it shares at least half its
 * own tokens: less, and another conversation with the same system prompt would cut it back every turn.
 */
export function bestSharedStart<T extends { mode: string; ids: readonly number[] }>(
  items: readonly T[],
  mode: string,
  ids: readonly number[],
): { item: T; common: number } | null {
  let best: { item: T; common: number } | null = null;
  for (const item of items) {
    if (item.mode !== mode) continue;
    const common = longestCommonPrefix(item.ids, ids);
    if (common > 0 && continues(item.ids, common) && (!best || common > best.common)) best = { item, common };
  }
  return best;
}

/** Whether sharing `common` leading tokens makes `ids` the same conversation (at least half of them). */
export function continues(ids: readonly number[], common: number): boolean {
  return 2 * common >= ids.length;
}

export interface KeptSession {
  session: DecodeSession;
  /** The cache mode's name (options included): only a request in the same mode reuses it. */
  mode: string;
  /** The tokens its cache holds, in order. */
  ids: number[];
  /** Cache bytes it is counted at (the planner's figure for the tokens its buffers have room for). */
  bytes: number;
  lastUsed: number;
}

/** What memory() lists per kept session. */
export interface KeptSessionInfo {
  mode: string;
  tokens: number;
  bytes: number;
}

/** Sessions kept at most (each also holds its own activation buffers, outside the cache budget). */
export const MAX_KEPT_SESSIONS = 4;

/** A context shift is worth it when the prompt goes on as the kept history for at least this many tokens. */
const SHIFT_MIN_TOKENS = 16;
/** Tokens of the prompt after the cut looked for in the kept history (a message's start, past its template tokens). */
const SHIFT_PROBE_TOKENS = 8;
/** Places in the kept history where the probe matches that are checked at most. */
const SHIFT_MAX_CANDIDATES = 64;

export class SessionPool {
  private kept: KeptSession[] = [];
  private clock = 0;

  /** The modes of kept sessions that `ids` continue (sharing at least half their tokens), most shared first. */
  continuedModes(ids: readonly number[]): string[] {
    return this.kept
      .map((k) => ({ mode: k.mode, common: longestCommonPrefix(k.ids, ids), k }))
      .filter((c) => c.common > 0 && continues(c.k.ids, c.common))
      .sort((a, b) => b.common - a.common)
      .map((c) => c.mode);
  }

  /**
   * The kept session of `mode` sharing the longest prefix with `ids` (taken out of the pool), or null. A session
   * that shares less than half its tokens is left alone (another conversation with the same system prompt would
   * otherwise cut it back every turn).
   */
  take(mode: string, ids: readonly number[]): { kept: KeptSession; common: number } | null {
    const best = bestSharedStart(this.kept, mode, ids);
    if (!best) return null;
    this.kept = this.kept.filter((k) => k !== best.item);
    return { kept: best.item, common: best.common };
  }

  /**
   * The kept session of `mode` whose history continues as `ids` after a run of its tokens is cut out (older messages
   * dropped to fit the context), taken out of the pool: `ids` share [0, from) with it, then go on as its tokens from
   * `to` do, for `matched` tokens (at least SHIFT_MIN_TOKENS, through the history's end but for its last
   * SHIFT_PROBE_TOKENS, where a reply may re-tokenize otherwise). Null when none does.
   */
  takeShifted(mode: string, ids: readonly number[]): { kept: KeptSession; from: number; to: number; matched: number } | null {
    let best: { kept: KeptSession; from: number; to: number; matched: number } | null = null;
    for (const k of this.kept) {
      if (k.mode !== mode) continue;
      const from = longestCommonPrefix(k.ids, ids);
      if (from >= ids.length || from >= k.ids.length) continue;
      const probe = Math.min(SHIFT_PROBE_TOKENS, ids.length - from);
      let tried = 0;
      for (let j = from + 1; j + probe <= k.ids.length && tried < SHIFT_MAX_CANDIDATES; j++) {
        const matched = longestCommonPrefix(k.ids, ids, j, from);
        if (matched < probe) continue;
        tried++;
        // The prompt must go on as the kept history through (nearly) its end: a cut of older messages, not another
        // conversation that happens to repeat a passage of this one.
        const throughEnd = j + matched >= k.ids.length - SHIFT_PROBE_TOKENS;
        if (matched >= SHIFT_MIN_TOKENS && throughEnd && (!best || from + matched > best.from + best.matched)) best = { kept: k, from, to: j, matched };
      }
    }
    if (best) this.kept = this.kept.filter((k) => k !== best.kept);
    return best;
  }

  /** Keep a session for later requests (the least recently used beyond MAX_KEPT_SESSIONS is closed). */
  put(session: DecodeSession, mode: string, ids: number[], bytes: number): void {
    session.park();
    this.kept.push({ session, mode, ids, bytes, lastUsed: ++this.clock });
    while (this.kept.length > MAX_KEPT_SESSIONS) this.evictOne();
  }

  /** Cache bytes the kept sessions are counted at. */
  get bytes(): number {
    return this.kept.reduce((a, k) => a + k.bytes, 0);
  }

  /** Close the least recently used session; false when none is kept. */
  evictOne(): boolean {
    if (this.kept.length === 0) return false;
    const lru = this.kept.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    this.kept = this.kept.filter((k) => k !== lru);
    lru.session.close();
    return true;
  }

  /** The most recently used kept session (what the last request left), or null. */
  latest(): KeptSession | null {
    return this.kept.reduce<KeptSession | null>((a, k) => (!a || k.lastUsed > a.lastUsed ? k : a), null);
  }

  /** Token histories of the kept sessions, most recently used first. */
  histories(): readonly number[][] {
    return [...this.kept].sort((a, b) => b.lastUsed - a.lastUsed).map((k) => k.ids);
  }

  list(): KeptSessionInfo[] {
    return [...this.kept].sort((a, b) => b.lastUsed - a.lastUsed).map((k) => ({ mode: k.mode, tokens: k.ids.length, bytes: k.bytes }));
  }

  /** Close every kept session (a model unloaded, a device lost). */
  clear(): void {
    for (const k of this.kept) k.session.close();
    this.kept = [];
  }
}
