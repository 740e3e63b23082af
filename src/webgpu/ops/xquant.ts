// Kernels of the quantized cache modes (xquant, xquant-cl, xquant-gqa, kivi): store the step's tokens
// (xquant-append.wgsl, xquant-window.wgsl, k-block-ring.wgsl, k-block-commit.wgsl), attend over the past
// by rebuilding K tile by tile (xquant-scores.wgsl), sum the V-side rows under the probabilities
// (xquant-absorb.wgsl), merge and apply the absorbed V (xquant-values.wgsl); in prefill, rebuild the past's
// K and V once per slice for the standard attention (xquant-remat.wgsl). All read the store layout of shaders/xquant-store.wgsl (+ k-block-sources.wgsl).

import { pad32 } from '../../quant/weight-format';
import { weightPrefixes, type GpuMatrix } from '../gpu-matrix';
import type { ShaderConsts } from '../shader-library';
import { flatGrid, makeDispatch, WORKGROUP, workgroupArrayBytes, type Dispatch, type OpContext } from './dispatch';
import { absorbTiling, fusedTiling, rematTiling, scoresTiling, type FusedTiling, type RematShape } from './xquant-tiling';

/** The store's shape: what the kernels need to find and decode a row. */
export interface StoreLayout {
  layers: number;
  page: number;
  group: number;
  /** First delta layer of XQuant-CL; 0 otherwise. */
  clBase: number;
  layerBits: readonly number[];
  /** Per-token rows (X, or the V side): words per row, offset of the rows in a page, words per group. */
  rowWords: readonly number[];
  rowOffset: readonly number[];
  groupWords: readonly number[];
  /**
   * Residual window in tokens (0: none) and its f16 ring of per-token rows: ringSlots = the window plus
   * the steps a run-ahead decode may overshoot, so dropping them leaves the window intact.
   */
  residual: number;
  ringSlots: number;
  ringBase: number;
  /** Ring slots between one layer's window and the next's: 0 when every layer has its own buffer. */
  ringStride: number;
  ringRowWords: number;
  /** kivi / xquant-gqa: the per-channel K side (absent for xquant). */
  k?: { width: number; ring: number; ringBase: number; ringRowWords: number; groupWords: readonly number[] };
  /**
   * XQuant-CL's decode kernels of layers >= clBase: the pool binding holds the step's summed X̂ rows (f32, this many
   * per token) made by clRowsOp, read in place of the deltas.
   */
  summedStride?: number;
}

function storeSource(s: StoreLayout): { consts: ShaderConsts; declarations: string[]; prefixes: string[] } {
  const table = (name: string, v: readonly number[]) =>
    `var<private> ${name}: array<u32, ${v.length}> = array<u32, ${v.length}>(${v.map((x) => `${x}u`).join(', ')});`;
  const consts: Record<string, number | boolean> = {
    SUMMED_ROWS: s.summedStride !== undefined,
    SUMMED_STRIDE: s.summedStride ?? 0,
    LAYERS: s.layers,
    PAGE: s.page,
    GROUP: s.group,
    CL_BASE: s.clBase,
    RESIDUAL: s.residual,
    RING_SLOTS: s.ringSlots,
    RING_BASE: s.ringBase,
    RING_STRIDE: s.ringStride,
    RING_ROW_WORDS: s.ringRowWords,
  };
  const declarations = [table('LAYER_BITS', s.layerBits), table('ROW_WORDS', s.rowWords), table('ROW_OFFSET', s.rowOffset), table('GROUP_WORDS', s.groupWords)];
  if (s.k) {
    Object.assign(consts, { KW: s.k.width, K_RING: s.k.ring, K_RING_BASE: s.k.ringBase, K_RING_ROW_WORDS: s.k.ringRowWords });
    declarations.push(table('K_GROUP_WORDS', s.k.groupWords));
  }
  return { consts, declarations, prefixes: ['xquant-store', s.k ? 'k-block-sources' : 'xquant-sources'] };
}

function singlePart(m: GpuMatrix, what: string) {
  if (m.parts.length !== 1) throw new Error(`${what} must fit one storage binding for the cache kernels`);
  return m.parts[0];
}

export interface StoreBuffers {
  pages: GPUBuffer;
  /** The buffer holding `layer`'s rows (its own, or the one shared by all layers in xquant-cl). */
  pool(layer: number): GPUBuffer;
  /** Per layer a 16-byte uniform holding its index (shaders/xquant-store.wgsl LayerParams). */
  layerParams: readonly GPUBuffer[];
}

/** Kernels that write the store: bindings (source rows, pages, pool, layer). */
function storeKernel(
  ctx: OpContext,
  s: StoreLayout,
  b: StoreBuffers,
  layer: number,
  op: string,
  consts: ShaderConsts,
  src: GPUBuffer,
  grid: (tokens: number) => [number, number],
  /** Fragments the kernel needs beyond the store's ('quantize', 'k-block-quantize'). */
  extra: string[],
): Dispatch {
  const store = storeSource(s);
  return makeDispatch(
    ctx,
    { op, prefixes: [...store.prefixes, ...extra], consts: { ...store.consts, ...consts }, declarations: store.declarations },
    ['read', 'read', 'write', 'uniform'],
    [src, b.pages, b.pool(layer), b.layerParams[layer]],
    grid,
  );
}

/** XQuant-CL decode: the layer's X̂ of the tokens its kernels read (before step.first_key, within a window) summed into `rows` (xquant-cl-rows.wgsl). */
export function clRowsOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, rows: GPUBuffer, width: number, window: number): Dispatch {
  const store = storeSource(s);
  return makeDispatch(
    ctx,
    { op: 'xquant-cl-rows', prefixes: store.prefixes, consts: { ...store.consts, D: width, WINDOW: window }, declarations: store.declarations },
    ['read', 'read', 'write', 'uniform'],
    [b.pages, b.pool(layer), rows, b.layerParams[layer]],
    (_tokens, plan) => flatGrid(plan.firstKey * width),
  );
}

/** Per-token side: quantize the tokens leaving the window, then put the new ones in it. */
export function rowAppendOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, src: GPUBuffer, width: number, stride: number): Dispatch[] {
  const consts = { D: width, X_STRIDE: stride };
  const out = [storeKernel(ctx, s, b, layer, 'xquant-append', consts, src, (tokens) => flatGrid(tokens * Math.ceil(width / s.group)), ['quantize'])];
  if (s.residual > 0) out.push(storeKernel(ctx, s, b, layer, 'xquant-window', consts, src, (tokens) => flatGrid(tokens * s.ringRowWords), []));
  return out;
}

/** Per-channel K side: the new rows into the f16 ring (before RoPE). */
export function kRingOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, src: GPUBuffer, stride: number): Dispatch {
  const k = s.k!;
  return storeKernel(ctx, s, b, layer, 'k-block-ring', { K_STRIDE: stride }, src, (tokens) => flatGrid(tokens * k.ringRowWords), []);
}

/** Per-channel K side: quantize the blocks this step completes. */
export function kCommitOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number): Dispatch {
  const k = s.k!;
  return storeKernel(ctx, s, b, layer, 'k-block-commit', {}, ctx.empty, (tokens) => flatGrid((Math.ceil(tokens / s.page) + 1) * k.width), [
    'quantize',
    'k-block-quantize',
  ]);
}

/** What a mode's K and V are rebuilt from, for one layer. */
export interface RematSides {
  layer: number;
  rope: GPUBuffer;
  /** K = rows · kMatrixᵀ + kBias; null: the rows are K (kivi). */
  kMatrix: GpuMatrix | null;
  kBias: GPUBuffer | null;
  /**
   * Qwen3's k_norm on each rebuilt K head before RoPE. Its weights take the bias binding (a model with both is refused
   * in kSideBinding): the rebuilding kernels already use all eight storage bindings a stage is guaranteed.
   */
  kNorm: { gamma: GPUBuffer; eps: number } | null;
  /** V = x̄ · vMatrixᵀ + vBias; null: the rows are V (kivi). */
  vMatrix: GpuMatrix | null;
  vBias: GPUBuffer | null;
  /** Widths of the K-side and V-side rows. */
  kWidth: number;
  vWidth: number;
  headDim: number;
  heads: number;
  kvHeads: number;
}

export interface AttendArgs extends RematSides {
  q: GPUBuffer;
  /** Decode: per (head, past chunk) (max, sum, Σ p·row), then from `scoresBase` the score of every past token and head. */
  xPartial: GPUBuffer;
  scoresBase: number;
  partial: GPUBuffer;
  window: number;
  maxXChunks: number;
}

/** Columns per invocation in remat-tile.wgsl's product: 4 in the tiled family (head dimensions in fours), else 1. */
export function rematColBlock(ctx: OpContext, headDim: number): number {
  return ctx.kernels === 'tiled' && headDim % 4 === 0 ? 4 : 1;
}

export function rematShape(a: RematSides): RematShape {
  return {
    kWidth: a.kWidth,
    vWidth: a.vWidth,
    identityK: a.kMatrix === null,
    identityV: a.vMatrix === null,
    headDim: a.headDim,
    heads: a.heads,
    kvHeads: a.kvHeads,
  };
}

/**
 * Decode over the past tokens without building their K or V: scores (K rebuilt tile by tile), the absorbed
 * V sums, then the merge of chunks with W_v applied once per head (into slot 0 of the attention partials).
 */
export function attendOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, a: AttendArgs): Dispatch[] {
  const shape = rematShape(a);
  // The fused kernel has no k_norm: a q/k-normed model takes the split kernels.
  const fused = s.k || a.kNorm ? null : fusedTiling(shape, ctx.workgroupBytes);
  const past = fused ? [fusedAttendOp(ctx, s, b, a, fused)] : splitAttendOps(ctx, s, b, a);
  return [...past, valuesOp(ctx, a)];
}

/** xquant-attend.wgsl: rows dequantized once for K and the absorbed V (small widths, x rows only). */
function fusedAttendOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, a: AttendArgs, t: FusedTiling): Dispatch {
  const store = storeSource(s);
  const wk = singlePart(a.kMatrix!, 'the K matrix');
  return makeDispatch(
    ctx,
    {
      op: 'xquant-attend',
      prefixes: [...weightPrefixes(a.kMatrix!.format), ...store.prefixes],
      consts: {
        ...store.consts,
        KW: a.kWidth,
        KWP: pad32(a.kWidth),
        VW: a.vWidth,
        VWP: pad32(a.vWidth),
        SAME_KV: true,
        IDENTITY_K: false,
        HEAD_DIM: a.headDim,
        HALF: a.headDim / 2,
        HEADS: a.heads,
        KV_HEADS: a.kvHeads,
        KV_GROUP: a.heads / a.kvHeads,
        KV_PER_WG: t.kvPerWg,
        QT: 1,
        Q_STRIDE: 0,
        TT: t.tt,
        EPT: t.ept,
        W_ROW_WORDS: a.kMatrix!.rowWords,
        W_SCALE_WORDS: a.kMatrix!.scaleWords,
        HAS_BIAS: a.kBias !== null,
        WINDOW: a.window,
        SCALE: { f32: 1 / Math.sqrt(a.headDim) },
      },
      declarations: store.declarations,
      workgroupBytes: t.bytes,
    },
    ['read', 'read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
    [a.q, b.pages, b.pool(a.layer), wk.data, wk.scales ?? ctx.empty, a.kBias ?? ctx.empty, a.rope, a.xPartial, b.layerParams[a.layer]],
    (_tokens, plan) => flatGrid((a.kvHeads / t.kvPerWg) * plan.xChunks, 1),
  );
}

/** The K side's bias binding (the bias, or the k_norm weights) and its constants. */
function kSide(ctx: OpContext, a: RematSides): { buffer: GPUBuffer; consts: ShaderConsts } {
  if (a.kNorm && a.kBias) throw new Error('a K bias and a k_norm together are not supported by the rebuilding kernels');
  return {
    buffer: a.kNorm?.gamma ?? a.kBias ?? ctx.empty,
    consts: { HAS_BIAS: a.kBias !== null, K_NORM: a.kNorm !== null, K_NORM_EPS: { f32: a.kNorm?.eps ?? 0 } },
  };
}

/** xquant-scores.wgsl then xquant-absorb.wgsl: any width, d sliced. */
function splitAttendOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, a: AttendArgs): Dispatch[] {
  const store = storeSource(s);
  const shape = rematShape(a);
  const sc = scoresTiling(shape, ctx.workgroupBytes);
  const ab = absorbTiling(shape, ctx.workgroupBytes);
  const group = a.heads / a.kvHeads;
  const wk = a.kMatrix ? singlePart(a.kMatrix, 'the K matrix') : null;
  const kSideOf = kSide(ctx, a);
  const scores = makeDispatch(
    ctx,
    {
      op: 'xquant-scores',
      prefixes: [...weightPrefixes(a.kMatrix?.format ?? 'f32'), ...store.prefixes, 'remat-tile'],
      consts: {
        ...store.consts,
        RW: a.kWidth,
        RWP: pad32(a.kWidth),
        VW: a.vWidth,
        DS: sc.ds,
        IDENTITY: shape.identityK,
        HEAD_DIM: a.headDim,
        HALF: a.headDim / 2,
        HEADS: a.heads,
        KV_HEADS: a.kvHeads,
        KV_GROUP: group,
        KV_PER_WG: sc.kvPerWg,
        TT: sc.tt,
        COL_BLOCK: rematColBlock(ctx, a.headDim),
        W_ROW_WORDS: a.kMatrix?.rowWords ?? 0,
        W_SCALE_WORDS: a.kMatrix?.scaleWords ?? 0,
        ...kSideOf.consts,
        WINDOW: a.window,
        SCALE: { f32: 1 / Math.sqrt(a.headDim) },
        SCORES_BASE: a.scoresBase,
      },
      declarations: store.declarations,
      workgroupBytes: sc.bytes,
    },
    ['read', 'read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
    [a.q, b.pages, b.pool(a.layer), wk?.data ?? ctx.empty, wk?.scales ?? ctx.empty, kSideOf.buffer, a.rope, a.xPartial, b.layerParams[a.layer]],
    (_tokens, plan) => [(a.kvHeads / sc.kvPerWg) * plan.xChunks, 1],
  );
  const absorb = makeDispatch(
    ctx,
    {
      op: 'xquant-absorb',
      prefixes: store.prefixes,
      consts: {
        ...store.consts,
        VW: a.vWidth,
        VS: ab.vs,
        HB: ab.hb,
        HEADS: a.heads,
        HEAD_DIM: a.headDim,
        KV_GROUP: group,
        TT: ab.tt,
        IDENTITY_V: shape.identityV,
        WINDOW: a.window,
        SCORES_BASE: a.scoresBase,
      },
      declarations: store.declarations,
      workgroupBytes: ab.bytes,
    },
    ['read', 'read', 'write', 'uniform'],
    [b.pages, b.pool(a.layer), a.xPartial, b.layerParams[a.layer]],
    (_tokens, plan) => flatGrid(plan.xChunks * Math.ceil(a.vWidth / ab.vs) * (a.heads / ab.hb), 1),
  );
  return [scores, absorb];
}

/** Elements of x̄ merged into workgroup memory at a time by xquant-values.wgsl. */
const VALUES_SLICE = 1024;

/** xquant-values.wgsl: merge the past chunks once per head, apply W_v (or Σ_v B_vᵀ) to the merged row, into slot 0. */
function valuesOp(ctx: OpContext, a: AttendArgs): Dispatch {
  const wv = a.vMatrix ? singlePart(a.vMatrix, 'the V matrix') : null;
  const group = a.heads / a.kvHeads;
  const slice = Math.min(VALUES_SLICE, pad32(a.vWidth));
  return makeDispatch(
    ctx,
    {
      op: 'xquant-values',
      prefixes: weightPrefixes(a.vMatrix?.format ?? 'f32'),
      consts: {
        D: a.vWidth,
        DP: pad32(a.vWidth),
        SLICE: slice,
        HEAD_DIM: a.headDim,
        RPT: Math.ceil(a.headDim / WORKGROUP),
        HEADS: a.heads,
        KV_GROUP: group,
        MAX_X_CHUNKS: a.maxXChunks,
        IDENTITY_V: a.vMatrix === null,
        W_ROW_WORDS: a.vMatrix?.rowWords ?? 0,
        W_SCALE_WORDS: a.vMatrix?.scaleWords ?? 0,
        HAS_BIAS: a.vBias !== null,
      },
      workgroupBytes: workgroupArrayBytes(4 * slice),
    },
    ['read', 'read', 'read', 'read', 'write'],
    [a.xPartial, wv?.data ?? ctx.empty, wv?.scales ?? ctx.empty, a.vBias ?? ctx.empty, a.partial],
    (tokens) => flatGrid(tokens * a.heads, 1),
  );
}

export interface RematArgs extends RematSides {
  /** Transient rows of the past tokens' K (after RoPE) and V, KV_DIM per token. */
  outK: GPUBuffer;
  outV: GPUBuffer;
  /** The transient rows hold f16 pairs (when f32 rows would pass the binding limit). */
  f16: boolean;
  /** A sliding layer's window (0: none): rows before the slice's first window are not rebuilt. */
  window: number;
}

/** Prefill: K and V of the tokens from step.remat_from to step.first_key, rebuilt once per slice into the transient rows. */
export function rematOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, a: RematArgs): Dispatch[] {
  const store = storeSource(s);
  const shape = rematShape(a);
  const side = (k: boolean): Dispatch => {
    const m = k ? a.kMatrix : a.vMatrix;
    const width = k ? a.kWidth : a.vWidth;
    const t = rematTiling(width, m === null, shape, ctx.workgroupBytes);
    const part = m ? singlePart(m, k ? 'the K matrix' : 'the V matrix') : null;
    const kSideOf = kSide(ctx, a);
    const sideConsts: ShaderConsts = k ? kSideOf.consts : { HAS_BIAS: a.vBias !== null, K_NORM: false, K_NORM_EPS: { f32: 0 } };
    const bias = k ? kSideOf.buffer : (a.vBias ?? ctx.empty);
    return makeDispatch(
      ctx,
      {
        op: 'xquant-remat',
        prefixes: [...weightPrefixes(m?.format ?? 'f32'), ...store.prefixes, 'remat-tile'],
        consts: {
          ...store.consts,
          RW: width,
          RWP: pad32(width),
          DS: t.ds,
          SIDE_K: k,
          IDENTITY: m === null,
          HEAD_DIM: a.headDim,
          HALF: a.headDim / 2,
          KV_DIM: a.kvHeads * a.headDim,
          KV_HEADS: a.kvHeads,
          KV_PER_WG: t.kvPerWg,
          TT: t.tt,
          COL_BLOCK: rematColBlock(ctx, a.headDim),
          W_ROW_WORDS: m?.rowWords ?? 0,
          W_SCALE_WORDS: m?.scaleWords ?? 0,
          ...sideConsts,
          OUT_F16: a.f16,
          WINDOW: a.window,
        },
        declarations: store.declarations,
        workgroupBytes: t.bytes,
      },
      ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
      [b.pages, b.pool(a.layer), part?.data ?? ctx.empty, part?.scales ?? ctx.empty, bias, a.rope, k ? a.outK : a.outV, b.layerParams[a.layer]],
      (_tokens, plan) => flatGrid(Math.max(1, Math.ceil((plan.firstKey - plan.rematFrom) / t.tt)) * (a.kvHeads / t.kvPerWg), 1),
    );
  };
  return [side(true), side(false)];
}

/** Prefill in a tiered cache: the hot tier's fp16 K/V of tokens first_key .. pos0-1 into the transient rows. */
export function hotGatherOp(
  ctx: OpContext,
  a: { pages: GPUBuffer; kPool: GPUBuffer; vPool: GPUBuffer; outK: GPUBuffer; outV: GPUBuffer; kvDim: number; page: number; f16: boolean; hot: number },
): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'kv-gather', consts: { KV_DIM: a.kvDim, PAGE: a.page, OUT_F16: a.f16 } },
    ['read', 'read', 'read', 'write', 'write'],
    [a.pages, a.kPool, a.vPool, a.outK, a.outV],
    () => flatGrid((a.hot * a.kvDim) / 2),
  );
}

/**
 * The context shift's K-side kernels: bindings (what each reads, pages or rows; what it writes, rows or the pool; the
 * layer; the cut's uniform), one invocation per element of `invocations`.
 */
function kShiftKernel(ctx: OpContext, s: StoreLayout, op: string, extra: string[], buffers: GPUBuffer[], invocations: number): Dispatch {
  const store = storeSource(s);
  return makeDispatch(
    ctx,
    { op, prefixes: [...store.prefixes, ...extra], consts: store.consts, declarations: store.declarations },
    ['read', 'read', 'write', 'uniform', 'uniform'],
    buffers,
    () => flatGrid(invocations),
  );
}

/**
 * Context shift, per-channel K side: the K side of positions [first, first + positions) after the cut, read as the
 * cache holds it into f32 `rows` (k-block-gather.wgsl); `cut` holds (first, from, to, old length, new length).
 */
export function kGatherOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, rows: GPUBuffer, cut: GPUBuffer, positions: number): Dispatch {
  return kShiftKernel(ctx, s, 'k-block-gather', [], [b.pages, b.pool(layer), rows, b.layerParams[layer], cut], positions * s.k!.width);
}

/** ...then stored at those positions: `blocks` complete blocks quantized, `ringTokens` more into the f16 ring (k-block-reform.wgsl). */
export function kReformOp(
  ctx: OpContext,
  s: StoreLayout,
  b: StoreBuffers,
  layer: number,
  rows: GPUBuffer,
  cut: GPUBuffer,
  blocks: number,
  ringTokens: number,
): Dispatch {
  const k = s.k!;
  const buffers = [rows, b.pages, b.pool(layer), b.layerParams[layer], cut];
  return kShiftKernel(ctx, s, 'k-block-reform', ['quantize', 'k-block-quantize'], buffers, blocks * k.width + ringTokens * k.ringRowWords);
}
