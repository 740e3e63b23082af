// Keeping the first n tokens of a cache (a conversation that diverges inside a kept prefix: an edited message,
// a regenerate). Where a mode can drop the tokens past n exactly, it does; where a dropped token took part in
// something that outlives it, the cache keeps less and the caller re-runs the rest (as a prefill after the kept
// prefix). The rule is shared by both backends so they keep the same prefix.
//
//   f32, fp16, xquant, xquant-cl (no residual window, no hot tier): every token's stored form is its own row
//     (K/V, or its X̂ / cross-layer delta): exact for any n.
//   kivi, xquant-gqa: K is quantized per channel over blocks of GROUP_SIZE tokens once a block fills, and a
//     filled block's raw keys are gone: exact back to the start of n's block (the block's tokens are re-run).
//   a residual window (residual=R) or a hot tier (hot=H): the newest tokens are also held in f16 rings, and
//     tokens that left a ring are gone from it; at n they would have to be back in it. The rings' spare slots are
//     taken by run-ahead decode's overshoot (up to OVERSHOOT_TOKENS positions written past the length), so only
//     keeping every token is exact; otherwise nothing is kept.
//   a sliding layer's ring (every mode but xquant-cl, on the GPU: src/webgpu/caches/sliding-rings.ts): exact while the ring still
//     holds the window before n; otherwise nothing is kept (the cache applies this on top of exactPrefix).

import { GROUP_SIZE, MODE_TRAITS, type CacheConfig } from './cache-config';
import { InvalidArgumentError } from '../errors';

/**
 * Decode steps a run-ahead may have in flight beyond the one being read, which a stop drops again
 * (the caches that roll back keep room for them: a quantized cache's f16 rings hold this many more rows).
 */
export const OVERSHOOT_TOKENS = 2;

/** How many of the first `n` tokens a cache holding `length` can keep exactly (the rest are re-run). */
export function exactPrefix(config: CacheConfig, length: number, n: number): number {
  const keep = Math.max(0, Math.min(n, length));
  if (keep === length) return keep;
  if (config.residual > 0 || (config.hot ?? 0) > 0) return 0;
  // A block committed early by the overshoot is redone from the K ring when its position comes again.
  if (length - keep <= OVERSHOOT_TOKENS) return keep;
  if (MODE_TRAITS[config.mode].kBlocks) return keep - (keep % GROUP_SIZE);
  return keep;
}

/**
 * Whether a cache of `length` tokens can drop tokens [from, to) and keep the later tokens' entries at re-based
 * positions (a context shift). f32, fp16, xquant and xquant-cl store one row per token: the rows move down, and X
 * carries no position (RoPE is applied after K is rebuilt), while a KV cache turns its post-RoPE K back by the shift.
 * kivi and xquant-gqa store K (before RoPE) or its latent per channel over blocks: their V side moves as rows, and
 * from the start of the cut's block on the K blocks are re-formed from the values the cache holds (each moved
 * token's K side rounded twice: an approximation, as keeping entries is). A residual window and a hot tier hold
 * their newest tokens in f16 rings by position: the rings move with the kept tail when it covers them; a shorter
 * tail would need there tokens from before the cut that have left them, and the cut is refused (the caller
 * re-prefills). A GPU cache with sliding-window rings may refuse more: a cut that leaves them without the next
 * query's window, and every cut of kivi's or xquant-gqa's K blocks, which would be re-formed from page rings that
 * no longer hold the tokens before the window (DecodeSession.shift returns false).
 */
export function canShift(config: CacheConfig, length: number, to: number): boolean {
  const tail = length - to;
  return tail >= config.residual && tail >= (config.hot ?? 0);
}

/** A shift's range must lie inside the cache and drop at least one token. */
export function checkShift(length: number, from: number, to: number): void {
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= length))
    throw new InvalidArgumentError('not a range of the cached tokens', { field: 'shift', expected: `0 <= from < to <= ${length}`, got: `[${from}, ${to})` });
}
