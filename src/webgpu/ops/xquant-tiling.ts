// Workgroup memory by construction for the rematerializing kernels: each kernel's tile sizes are chosen
// here from the model's widths and the device's maxComputeWorkgroupStorageSize, and the bytes its
// `var<workgroup>` arrays take are computed from the same constants the WGSL is built with. Every real
// shape fits WebGPU's guaranteed 16 KiB; a larger limit buys bigger tiles. A shape that cannot fit at all
// is an UnsupportedModelError naming the kernel, the bytes and the limit.

import { UnsupportedModelError } from '../../errors';
import { pad32 } from '../../quant/weight-format';
import { WORKGROUP, workgroupArrayBytes } from './dispatch';

/** Widths of one cache mode's attention: what the K side and V side rows hold. */
export interface RematShape {
  /** K-side row width (X: hidden size; latents and kivi's K: kv width). */
  kWidth: number;
  /** V-side row width. */
  vWidth: number;
  /** K rows are K itself (kivi): no product with W_k. */
  identityK: boolean;
  identityV: boolean;
  headDim: number;
  heads: number;
  kvHeads: number;
}

export interface ScoresTiling {
  kvPerWg: number;
  tt: number;
  ds: number;
  bytes: number;
}

export interface AbsorbTiling {
  hb: number;
  tt: number;
  vs: number;
  bytes: number;
}

export interface RematTiling {
  kvPerWg: number;
  tt: number;
  ds: number;
  bytes: number;
}

const TOKEN_TILES = [32, 16, 8, 4];
const SLICES = [256, 128, 64, 32];

function divisorsDown(n: number, max: number): number[] {
  const out: number[] = [];
  for (let k = Math.min(n, max); k >= 1; k--) if (n % k === 0) out.push(k);
  return out;
}

function noFit(kernel: string, bytes: number, limit: number): never {
  throw new UnsupportedModelError(`kernel ${kernel} needs ${bytes} bytes of workgroup memory at its smallest tiles; this device allows ${limit}`, {
    field: 'maxComputeWorkgroupStorageSize',
    expected: `at least ${bytes} bytes`,
    got: String(limit),
  });
}

/** xquant-scores.wgsl: xs[TT·DS] (not for kivi), ks[TT·BLOCK_ROWS], qs[BLOCK_HEADS·HEAD_DIM], ps[TT·BLOCK_HEADS]. */
export function scoresBytes(s: RematShape, kvPerWg: number, tt: number, ds: number): number {
  const group = s.heads / s.kvHeads;
  const bh = kvPerWg * group;
  return workgroupArrayBytes(4 * (s.identityK ? 1 : tt * ds), 4 * tt * kvPerWg * s.headDim, 4 * bh * s.headDim, 4 * tt * bh);
}

export function scoresTiling(s: RematShape, limit: number): ScoresTiling {
  const group = s.heads / s.kvHeads;
  const kwp = pad32(s.kWidth);
  const perWg = divisorsDown(s.kvHeads, Math.max(1, Math.floor(WORKGROUP / group)));
  // First pass: tiles big enough to amortize weight reads; then anything that fits.
  for (const roomy of [true, false]) {
    for (const kvPerWg of perWg) {
      for (const tt of TOKEN_TILES) {
        if (roomy && tt < 16) continue;
        for (const ds of SLICES.filter((x) => x <= kwp || x === 32)) {
          if (roomy && ds < 64 && kwp >= 64) continue;
          const bytes = scoresBytes(s, kvPerWg, tt, ds);
          if (bytes <= limit) return { kvPerWg, tt, ds, bytes };
        }
      }
    }
  }
  return noFit('xquant-scores', scoresBytes(s, 1, 4, 32), limit);
}

/** xquant-absorb.wgsl: rows[TT·VS], ps[TT·HB], top[HB]. */
export function absorbBytes(hb: number, tt: number, vs: number): number {
  return workgroupArrayBytes(4 * tt * vs, 4 * tt * hb, 4 * hb);
}

export function absorbTiling(s: RematShape, limit: number): AbsorbTiling {
  const vs = WORKGROUP;
  for (const hb of divisorsDown(s.heads, 32)) {
    for (const tt of TOKEN_TILES) {
      const bytes = absorbBytes(hb, tt, vs);
      if (bytes <= limit) return { hb, tt, vs, bytes };
    }
  }
  return noFit('xquant-absorb', absorbBytes(1, 4, vs), limit);
}

/** xquant-remat.wgsl: xs[TT·DS] (not for identity rows), os[TT·KV_PER_WG·HEAD_DIM]. */
export function rematBytes(identity: boolean, headDim: number, kvPerWg: number, tt: number, ds: number): number {
  return workgroupArrayBytes(4 * (identity ? 1 : tt * ds), 4 * tt * kvPerWg * headDim);
}

export function rematTiling(rowWidth: number, identity: boolean, s: RematShape, limit: number): RematTiling {
  const rwp = pad32(rowWidth);
  for (const roomy of [true, false]) {
    for (const tt of TOKEN_TILES) {
      if (roomy && tt < 16) continue;
      for (const kvPerWg of divisorsDown(s.kvHeads, s.kvHeads)) {
        for (const ds of SLICES.filter((x) => x <= rwp || x === 32)) {
          if (roomy && ds < 64 && rwp >= 64) continue;
          const bytes = rematBytes(identity, s.headDim, kvPerWg, tt, ds);
          if (bytes <= limit) return { kvPerWg, tt, ds, bytes };
        }
      }
    }
  }
  return noFit('xquant-remat', rematBytes(identity, s.headDim, 1, 4, 32), limit);
}

export interface FusedTiling {
  kvPerWg: number;
  tt: number;
  /** Accumulated row elements per invocation. */
  ept: number;
  bytes: number;
}

/** xquant-attend.wgsl (decode, one query): xs[TT·KWP], vs[1], ks[TT·BLOCK_ROWS], ps[BLOCK_HEADS·TT]. */
export function fusedBytes(s: RematShape, kvPerWg: number, tt: number): number {
  const bh = kvPerWg * (s.heads / s.kvHeads);
  return workgroupArrayBytes(4 * tt * pad32(s.kWidth), 4, 4 * tt * kvPerWg * s.headDim, 4 * bh * tt);
}

/**
 * The fused decode kernel, for the xquant / xquant-cl rows (X, shared by K and V) when a tile of whole rows
 * fits and each invocation accumulates at most 64 floats; null otherwise (then scores + absorb run).
 * It dequantizes each row once instead of twice, which wins on small widths and most for XQuant-CL.
 */
export function fusedTiling(s: RematShape, limit: number): FusedTiling | null {
  if (s.identityK || s.identityV || s.kWidth !== s.vWidth) return null;
  const group = s.heads / s.kvHeads;
  const ept = Math.ceil(pad32(s.vWidth) / WORKGROUP);
  for (const kvPerWg of divisorsDown(s.kvHeads, s.kvHeads)) {
    if (kvPerWg * group * ept > 64) continue;
    for (let tt = 32; tt >= 4; tt -= 4) {
      const bytes = fusedBytes(s, kvPerWg, tt);
      if (bytes <= limit) return { kvPerWg, tt, ept, bytes };
    }
  }
  return null;
}
