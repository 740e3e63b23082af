// y = W x (+ bias) (+ y) for a packed matrix: one dispatch per row part. Kernel family `rowwise`:
// shaders/linear.wgsl (a row per invocation, TILE_M tokens in registers) for everything; family `tiled`:
// shaders/linear-gemv.wgsl (a workgroup per few rows, coalesced along K) for one-token uses (decode,
// the LM head's last token) and shaders/linear-gemm.wgsl (64 x 64 tiles staged in workgroup memory)
// for prefill slices.

import { isBlockFormat } from '../../quant/block-format';
import { pad32, type MatrixFormat } from '../../quant/weight-format';
import { weightPrefixes, type GpuMatrix } from '../gpu-matrix';
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
  /** The RMSNorm before this projection, fused in (tiled family, one token per workgroup only): x is then the un-normed residual stream. */
  norm?: FusedNorm;
  /** Rotary embedding applied as the rows are written (tiled family GEMV; every part must hold whole heads: ropeFusable). */
  rope?: FusedRope;
  /** tiled-family prefill GEMM: tokens per tile (GEMM_TILE, or SHORT_GEMM_TILE for short prompts). */
  gemmTokens?: number;
  /** tiled-family GEMV: this lane layout instead of gemvLayout's choice (tests reach every reduction path). */
  gemvLayout?: GemvLayout;
}

export interface FusedRope {
  /** vec2(cos, sin) per position and frequency (src/webgpu/ops/rope.ts ropeTable). */
  table: GPUBuffer;
  headDim: number;
}

/** Whether a q/k matrix can take its RoPE in the GEMV: every row part holds whole heads. */
export function ropeFusable(w: GpuMatrix, headDim: number): boolean {
  return w.parts.every((p) => p.rowOffset % headDim === 0 && p.rows % headDim === 0);
}

/** An RMSNorm folded into the GEMV that follows it: y = W (x ⊙ gamma) / sqrt(mean(x²) + eps). */
export interface FusedNorm {
  gamma: GPUBuffer;
  /** The norm's width (hidden size; x's row may be padded past it with zeros). */
  d: number;
  eps: number;
}

/** Invocations per GEMV workgroup (tiled family): two to eight warps' worth on real GPUs. */
export const GEMV_WG = 64;
const MAX_GRID = 65535;

/** A grid of `groups` workgroups, folded into y past 65535 (the GEMV kernels read wid.x + wid.y * nwg.x). */
export function gemvGrid(groups: number): [number, number] {
  return groups <= MAX_GRID ? [groups, 1] : [MAX_GRID, Math.ceil(groups / MAX_GRID)];
}

/** Whether linearOps runs this projection as the tiled-family GEMV (the only kernel that takes a fused norm). */
export function usesGemv(ctx: OpContext, a: Pick<LinearArgs, 'tileM' | 'lastOnly'>): boolean {
  return ctx.kernels === 'tiled' && (a.tileM === 1 || a.lastOnly);
}

export function linearOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  if (usesGemv(ctx, a)) return gemvOps(ctx, label, w, a);
  if (a.norm || a.rope) throw new Error(`${label}: a fused RMSNorm or RoPE needs the tiled-family GEMV`);
  if (ctx.kernels === 'tiled') return gemmOps(ctx, label, w, a);
  const consts = { ...sharedConsts(w, a), TILE_M: a.lastOnly ? 1 : a.tileM };
  return w.parts.map((p) => {
    const tiles = (tokens: number) => (a.lastOnly ? 1 : Math.ceil(tokens / consts.TILE_M));
    const d = makeDispatch(
      ctx,
      { op: 'linear', prefixes: ['linear-bindings', ...weightPrefixes(w.format)], consts },
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

/** Rows per GEMV lane: more rows share each activation load on big matrices, fewer keep small ones spread. */
export function gemvRows(rows: number): number {
  return rows >= 4096 ? 4 : rows >= 1024 ? 2 : 1;
}

/** Activation vec4s a 16-byte weight block covers (the BLOCK_VEC4 of weights-*-vec4.wgsl). */
const PACKED_BLOCK_VEC4 = { q4: 8, q8: 4, f16: 2, f32: 1 };

/** Activation vec4s of one w_dot block: a GGUF block format's dot covers 32 weights (weights-block-dot.wgsl). */
export function blockVec4(format: MatrixFormat): number {
  return isBlockFormat(format) ? 8 : PACKED_BLOCK_VEC4[format];
}

/** How a tiled-family GEMV lays its GEMV_WG lanes over a matrix part: K_LANES lanes split K, LANE_ROWS rows per lane. */
export interface GemvLayout {
  kLanes: number;
  laneRows: number;
}

/** Workgroups a GEMV aims for where its matrix allows: enough to keep a large discrete GPU's SMs busy. */
const MIN_GEMV_WORKGROUPS = 256;

/**
 * At least 8 lanes per row (128 contiguous bytes per step, a cache line) and about 4 blocks per lane, up to
 * the whole workgroup on long rows; lane rows from the part's height. A short matrix (SmolLM2-135M's 576
 * rows) takes fewer rows per workgroup, so at least MIN_GEMV_WORKGROUPS run where it can: fewer lane rows,
 * then more K lanes (idle lanes cost no bandwidth; rows in flight are what a GPU needs). With RoPE (`half` =
 * head_dim / 2) the workgroup's rows must be rotate-half pairs that tile a head's half: fewer lane rows,
 * then more K lanes.
 */
export function gemvLayout(format: MatrixFormat, cols: number, rows: number, half?: number): GemvLayout {
  const blocks = pad32(cols) / 4 / blockVec4(format);
  let kLanes = Math.min(GEMV_WG, Math.max(8, 2 ** Math.floor(Math.log2(Math.max(1, blocks / 4)))));
  let laneRows = gemvRows(rows);
  while (kLanes < GEMV_WG && Math.ceil(rows / gemvWorkgroupRows({ kLanes, laneRows })) < MIN_GEMV_WORKGROUPS) {
    if (laneRows > 1) laneRows /= 2;
    else kLanes *= 2;
  }
  if (half === undefined) return { kLanes, laneRows };
  for (let k = kLanes; k <= GEMV_WG; k *= 2) {
    for (let lr = Math.max(laneRows, 2); lr >= 1; lr /= 2) {
      const wgRows = gemvWorkgroupRows({ kLanes: k, laneRows: lr });
      if (wgRows % 2 === 0 && half % (wgRows / 2) === 0) return { kLanes: k, laneRows: lr };
    }
  }
  throw new Error(`no GEMV layout pairs rotate-half rows for head_dim ${2 * half}`); // unreachable: k = GEMV_WG, lr = 2 fits
}

/**
 * Workgroup bytes of a tiled-family GEMV (`matrices` 2 for gate/up): each lane's sums (its rows plus Σx² for a
 * fused norm), per lane (tree) or per chunk of a slot's lanes one 4-lane subgroup covers (subgroups). The
 * same for every K_LANES of at least 4.
 */
export function gemvWorkgroupBytes(layout: GemvLayout, matrices = 1, subgroups = false): number {
  const perSlot = subgroups ? Math.max(layout.kLanes / 4, 1) : layout.kLanes;
  return (GEMV_WG / layout.kLanes) * perSlot * (matrices * layout.laneRows + 1) * 4;
}

/** Rows one GEMV workgroup computes: its row slots times the rows per lane. */
export function gemvWorkgroupRows(layout: GemvLayout): number {
  return (GEMV_WG / layout.kLanes) * layout.laneRows;
}

/** The constants of a tiled-family GEMV's lane layout (gemv-reduce-*.wgsl, gemv-norm.wgsl). */
export function gemvConsts(format: MatrixFormat, layout: GemvLayout, matrices: number) {
  // Lane k < LANE_ROWS of each slot writes the slot's row k; K_LANES must divide the workgroup.
  if (layout.kLanes < layout.laneRows || GEMV_WG % layout.kLanes !== 0) throw new Error(`bad GEMV layout ${JSON.stringify(layout)}`);
  return {
    BLOCK_VEC4: blockVec4(format),
    GEMV_WG,
    K_LANES: layout.kLanes,
    ROW_SLOTS: GEMV_WG / layout.kLanes,
    LANE_ROWS: layout.laneRows,
    LANE_SUMS: matrices * layout.laneRows + 1,
  };
}

/** How a GEMV kernel sums across its workgroup: subgroupAdd where the device has subgroups. */
export function gemvReduce(ctx: OpContext): { prefix: string; enables: string[] } {
  return ctx.subgroups ? { prefix: 'gemv-reduce-subgroup', enables: ['subgroups'] } : { prefix: 'gemv-reduce-workgroup', enables: [] };
}

/** The constants of a fused norm (NORM false: the kernel reads x as is). */
export function normConsts(norm: FusedNorm | undefined) {
  return { NORM: norm !== undefined, NORM_D: norm?.d ?? 1, EPS: { f32: norm?.eps ?? 0 } };
}

function gemvOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  const reduce = gemvReduce(ctx);
  const math = matmulMath(ctx);
  if (a.rope && !ropeFusable(w, a.rope.headDim)) throw new Error(`${label}: a row part splits a head, so RoPE cannot be fused`);
  const half = a.rope ? a.rope.headDim / 2 : undefined;
  return w.parts.map((p) => {
    const layout = a.gemvLayout ?? gemvLayout(w.format, w.cols, p.rows, half);
    const consts = { ...sharedConsts(w, a), ...gemvConsts(w.format, layout, 1), ...normConsts(a.norm), ROPE: half !== undefined, HALF: half ?? 1 };
    const rowGroups = Math.ceil(p.rows / gemvWorkgroupRows(layout));
    const d = makeDispatch(
      ctx,
      {
        op: 'linear-gemv',
        prefixes: ['linear-bindings', ...weightPrefixes(w.format, { vec4: true }), reduce.prefix, 'gemv-norm'],
        enables: [...reduce.enables, ...math.enables],
        declarations: math.declarations,
        consts,
        workgroupBytes: gemvWorkgroupBytes(layout, 1, ctx.subgroups),
      },
      ['uniform', 'read', 'read', 'read', 'read', 'write', 'read', 'read'],
      [p.params, p.data, p.scales ?? ctx.empty, a.x, a.bias ?? ctx.empty, a.y, a.norm?.gamma ?? ctx.empty, a.rope?.table ?? ctx.empty],
      (tokens) => gemvGrid(rowGroups * (a.lastOnly ? 1 : Math.max(1, tokens))),
    );
    return { ...d, label };
  });
}

/** Tokens (and rows) of one gemm-tile.wgsl tile; prompts of at most SHORT_GEMM_TILE tokens use a 16-token tile. */
export const GEMM_TILE = 64;
export const SHORT_GEMM_TILE = 16;

/** Workgroup bytes of a gemm-tile.wgsl tile: the x slice (tokens x 32 columns) and the W slice (64 rows x 32), f32 or f16. */
export function gemmWorkgroupBytes(tokens = GEMM_TILE, f16 = false): number {
  return (tokens + GEMM_TILE) * 32 * (f16 ? 2 : 4);
}

/**
 * The reduced-precision type of the tiled kernels (gemm-tile.wgsl's staged tiles, the GEMVs' 4-term
 * dots in weights-*-vec4.wgsl, attention-flash.wgsl's staged queries): T = f32, or f16 where the op
 * context asks for it (ctx.f16), and T4 = vec4<T>.
 */
export function matmulMath(ctx: OpContext): { enables: string[]; declarations: string[]; f16: boolean } {
  const f16 = ctx.f16 === true;
  return { enables: f16 ? ['f16'] : [], declarations: [`alias T = ${f16 ? 'f16' : 'f32'};`, 'alias T4 = vec4<T>;'], f16 };
}

function gemmOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  const bm = a.gemmTokens ?? GEMM_TILE;
  const math = matmulMath(ctx);
  return w.parts.map((p) => {
    const rowTiles = Math.ceil(p.rows / GEMM_TILE);
    const source = {
      op: 'linear-gemm',
      prefixes: ['linear-bindings', ...weightPrefixes(w.format), 'gemm-tile'],
      enables: math.enables,
      declarations: math.declarations,
      consts: { ...sharedConsts(w, a), GEMM_TOKENS: bm },
      workgroupBytes: gemmWorkgroupBytes(bm, math.f16),
    };
    const d = makeDispatch(
      ctx,
      source,
      ['uniform', 'read', 'read', 'read', 'read', 'write'],
      [p.params, p.data, p.scales ?? ctx.empty, a.x, a.bias ?? ctx.empty, a.y],
      (tokens) => gemvGrid(rowTiles * Math.ceil(Math.max(1, tokens) / bm)),
    );
    return { ...d, label };
  });
}
