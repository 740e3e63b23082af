// y = W x (+ bias) (+ y) for a packed matrix: one dispatch per row part. Kernel class `cpu`:
// shaders/linear.wgsl (a row per invocation, TILE_M tokens in registers) for everything; class `gpu`:
// shaders/linear-gemv-gpu.wgsl (a workgroup per few rows, coalesced along K) for one-token-per-invocation
// uses (decode, the LM head's last token); prefill GEMMs keep linear.wgsl in both classes for now.

import { pad32 } from '../../quant/weight-format';
import { weightPrefix, type GpuMatrix } from '../gpu-matrix';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface LinearArgs {
  x: GPUBuffer;
  y: GPUBuffer;
  bias: GPUBuffer | null;
  /** Row strides of x and y in elements. */
  xStride: number;
  yStride: number;
  /** Tokens per invocation: 1 for decode (GEMV), 4 for prefill (GEMM). */
  tileM: number;
  /** y += W x (a fused residual add). */
  accumulate: boolean;
  /** Only the step's last token, written to y's row 0. */
  lastOnly: boolean;
}

/** Invocations per GEMV workgroup (class gpu): two to eight warps' worth on real GPUs. */
export const GEMV_WG = 64;
const MAX_GRID = 65535;

/** A grid of `groups` workgroups, folded into y past 65535 (the GEMV kernels read wid.x + wid.y * nwg.x). */
export function gemvGrid(groups: number): [number, number] {
  return groups <= MAX_GRID ? [groups, 1] : [MAX_GRID, Math.ceil(groups / MAX_GRID)];
}

export function linearOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  if (ctx.kernels === 'gpu' && (a.tileM === 1 || a.lastOnly)) return gemvOps(ctx, label, w, a);
  const consts = { ...sharedConsts(w, a), TILE_M: a.lastOnly ? 1 : a.tileM };
  return w.parts.map((p) => {
    const tiles = (tokens: number) => (a.lastOnly ? 1 : Math.ceil(tokens / consts.TILE_M));
    const d = makeDispatch(
      ctx,
      { op: 'linear', prefixes: ['linear-bindings', weightPrefix(w.format)], consts },
      ['uniform', 'read', 'read', 'read', 'read', 'write'],
      [p.params, p.data, p.scales ?? ctx.empty, a.x, a.bias ?? ctx.empty, a.y],
      (tokens) => flatGrid(p.rows * tiles(tokens)),
    );
    return { ...d, label };
  });
}

/** The constants both linear kernels take. */
function sharedConsts(w: GpuMatrix, a: LinearArgs) {
  return {
    W_ROW_WORDS: w.rowWords,
    W_SCALE_WORDS: w.scaleWords,
    IN_VEC4: pad32(w.cols) / 4,
    X_STRIDE: a.xStride,
    Y_STRIDE: a.yStride,
    HAS_BIAS: a.bias !== null,
    ACCUMULATE: a.accumulate,
    LAST_ONLY: a.lastOnly,
  };
}

/** Rows per GEMV workgroup: more rows share each activation load on big matrices, fewer keep small ones spread. */
export function gemvRows(rows: number): number {
  return rows >= 4096 ? 4 : rows >= 1024 ? 2 : 1;
}

/** Workgroup bytes of the gpu-class GEMV over a matrix part of `rows` rows (`matrices` 2 for gate/up). */
export function gemvWorkgroupBytes(rows: number, matrices = 1): number {
  return matrices * gemvRows(rows) * GEMV_WG * 4;
}

function gemvOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  return w.parts.map((p) => {
    const rows = gemvRows(p.rows);
    const consts = { ...sharedConsts(w, a), ROWS: rows, GEMV_WG };
    const rowGroups = Math.ceil(p.rows / rows);
    const d = makeDispatch(
      ctx,
      { op: 'linear-gemv-gpu', prefixes: ['linear-bindings', weightPrefix(w.format)], consts, workgroupBytes: gemvWorkgroupBytes(p.rows) },
      ['uniform', 'read', 'read', 'read', 'read', 'write'],
      [p.params, p.data, p.scales ?? ctx.empty, a.x, a.bias ?? ctx.empty, a.y],
      (tokens) => gemvGrid(rowGroups * (a.lastOnly ? 1 : Math.max(1, tokens))),
    );
    return { ...d, label };
  });
}
