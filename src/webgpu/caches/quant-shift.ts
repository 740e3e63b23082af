// A context shift of a quantized cache on the GPU (drop tokens [from, to), the later ones move down): what each
// stored part does.
//   Per-token rows (X, XQuant-CL deltas, the V side of kivi / xquant-gqa): each row moves to its new slot, gathered
//     into scratch page run by page run and scattered back (a buffer cannot copy onto itself). X has no position
//     (RoPE is applied after K is rebuilt) and kivi's K is stored before RoPE: nothing is recomputed.
//   The per-channel K side (kivi, xquant-gqa): a block's raw rows are gone once it is committed, so from the start
//     of `from`'s block on, the kept tokens' K side is read as the cache holds it (k-block-gather.wgsl) and stored
//     again at its new positions (k-block-reform.wgsl): blocks re-formed, the rest into the f16 ring. The reference
//     does the same (src/reference/caches/recorded-cache.ts shift).
//   Rings by position (a residual window's f16 rows, the K side's f16 ring): the kept tail covers the window
//     (src/cache/keep.ts canShift), so the window's tokens move from their old slots to their new ones.

import { PAGE_TOKENS } from '../../cache/cache-config';
import { kGatherOp, kReformOp, type StoreBuffers, type StoreLayout } from '../ops/xquant';
import { copyRuns, type ShiftIo } from './gpu-cache';
import type { QuantPool } from './quant-pool';

/** [first token, tokens] runs that stay inside one page, from `start` for `count` tokens. */
function pageRuns(start: number, count: number): [number, number][] {
  const P = PAGE_TOKENS;
  const out: [number, number][] = [];
  for (let t = start; t < start + count; ) {
    const n = Math.min(start + count, (Math.floor(t / P) + 1) * P) - t;
    out.push([t, n]);
    t += n;
  }
  return out;
}

/** Bytes of f32 scratch the K side's re-forming needs for one layer (0 without a per-channel K side). */
export function kReformBytes(layout: StoreLayout, from: number, length: number, to: number): number {
  if (!layout.k) return 0;
  const first = from - (from % PAGE_TOKENS);
  return (length - (to - from) - first) * layout.k.width * 4;
}

/** [slot, tokens] runs of a ring of `slots` holding tokens [start, start + count) at slot t mod slots. */
export function ringRuns(start: number, count: number, slots: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = start; t < start + count; ) {
    const slot = t % slots;
    const n = Math.min(start + count - t, slots - slot);
    out.push([slot, n]);
    t += n;
  }
  return out;
}

/**
 * Move the rows of tokens [first - shift, first - shift + count) of a ring by position (row r at word base + r * words
 * of `buffer`, token t in slot t mod slots) to the slots of tokens [first, first + count), through a scratch buffer.
 */
export function moveRingRows(io: ShiftIo, buffer: GPUBuffer, base: number, words: number, slots: number, first: number, count: number, shift: number): void {
  if (count <= 0) return;
  const scratch = io.scratch(count * words * 4);
  let at = 0;
  const runs: (readonly [number, number, number])[] = [];
  for (const [slot, n] of ringRuns(first + shift, count, slots)) {
    runs.push([base + slot * words, at * words, n * words]);
    at += n;
  }
  copyRuns(io.encoder, buffer, scratch, runs);
  at = 0;
  runs.length = 0;
  for (const [slot, n] of ringRuns(first, count, slots)) {
    runs.push([at * words, base + slot * words, n * words]);
    at += n;
  }
  copyRuns(io.encoder, scratch, buffer, runs);
}

/** Encode the shift of every layer's stored rows (the caller checked canShift and the scratch's size). */
export function shiftStore(io: ShiftIo, layout: StoreLayout, store: QuantPool, b: StoreBuffers, from: number, to: number, length: number): void {
  const P = PAGE_TOKENS;
  const moved = length - to;
  const newLength = length - (to - from);
  const R = layout.residual;
  if (R > 0) {
    const window = Math.min(R, newLength);
    for (let l = 0; l < layout.layers; l++) {
      const base = layout.ringBase + l * layout.ringStride * layout.ringRowWords;
      moveRingRows(io, store.pool(l), base, layout.ringRowWords, layout.ringSlots, newLength - window, window, to - from);
    }
  }
  if (moved > 0) {
    const words = layout.rowWords;
    const scratch = io.scratch(moved * Math.max(...words) * 4);
    for (let l = 0; l < layout.layers; l++) {
      const w = words[l];
      const at = (t: number) => store.pageOffset(Math.floor(t / P), l) + layout.rowOffset[l] + (t % P) * w;
      const pool = store.pool(l);
      copyRuns(
        io.encoder,
        pool,
        scratch,
        pageRuns(to, moved).map(([t, n]) => [at(t), (t - to) * w, n * w] as const),
      );
      copyRuns(
        io.encoder,
        scratch,
        pool,
        pageRuns(from, moved).map(([t, n]) => [(t - from) * w, at(t), n * w] as const),
      );
    }
  }
  const bytes = kReformBytes(layout, from, length, to);
  if (bytes === 0) return;
  const first = from - (from % P);
  const committed = Math.floor(Math.max(0, newLength - R) / P) * P;
  const rows = io.scratch(bytes);
  const cut = io.uniform(new Uint32Array([first, from, to, length, newLength, 0, 0, 0]));
  for (let l = 0; l < layout.layers; l++) {
    io.compute((ctx) => [
      kGatherOp(ctx, layout, b, l, rows, cut, newLength - first),
      kReformOp(ctx, layout, b, l, rows, cut, (committed - first) / P, newLength - committed),
    ]);
  }
}
