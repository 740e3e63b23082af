// Causal attention of a layer over its paged fp16/f32 K/V store plus the step's own keys: split over key
// chunks, then merged (shaders/attention-split.wgsl, attention-merge.wgsl); the split may also append the
// step's K/V to the store. Kernel family tiled: attention-flash.wgsl instead of the split, a workgroup per
// (query tile, kv head, chunk) serving the tile's tokens x the group's query heads (one token in decode:
// flash-decoding), its queries staged in f32 or (ctx.f16) f16.

import type { BindingKind } from '../pipelines';
import { flatGrid, makeDispatch, workgroupArrayBytes, type Dispatch, type OpContext } from './dispatch';
import { gemvGrid, matmulMath } from './linear';

export interface AttentionSpec {
  headDim: number;
  numHeads: number;
  numKvHeads: number;
  slidingWindow: number | null;
}

/** The step's rows: queries, its own keys and values, the split's partials and the output. */
export interface AttentionRows {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  partial: GPUBuffer;
  out: GPUBuffer;
  qStride: number;
  kvStride: number;
}

/** Past K/V: page table and pools, page size, f16 packing. */
export interface AttentionStore {
  pages: GPUBuffer;
  kPool: GPUBuffer;
  vPool: GPUBuffer;
  page: number;
  kvF16: boolean;
}

/**
 * `ownOnly`: attend only to the step's own keys, into partial slots 1.. (slot 0 holds the xquant modes'
 * rematerialized past). `append`: the split kernel also writes the step's K and V into the store (the
 * fp16/f32 cache's append, fused). `decode`: the list for one-token steps (the tiled family has its own split).
 */
export function layerAttentionOps(
  ctx: OpContext,
  spec: AttentionSpec,
  rows: AttentionRows,
  store: AttentionStore,
  ownOnly: boolean,
  append = false,
  decode = false,
): [Dispatch, Dispatch] {
  const { headDim, numHeads: heads } = spec;
  // The tiled family's tiled kernel (one-token tiles in decode), unless not one token's rows fit.
  const queryTokens = ctx.kernels === 'tiled' && !ownOnly ? flashQueryTokens(spec, ctx.workgroupBytes, decode, ctx.f16 === true) : 0;
  const split = queryTokens > 0 ? flashSplit(ctx, spec, rows, store, append, queryTokens) : splitOp(ctx, spec, rows, store, ownOnly, append);
  const merge = makeDispatch(
    ctx,
    { op: 'attention-merge', consts: { HEAD_DIM: headDim, HEADS: heads, OUT_STRIDE: rows.qStride, EXTRA_SLOTS: ownOnly ? 1 : 0 } },
    ['read', 'write'],
    [rows.partial, rows.out],
    (tokens) => flatGrid(tokens * heads * headDim),
  );
  return [split, merge];
}

/** Keys per tile of attention-flash.wgsl (an invocation per key). */
const KEY_TILE = 64;
/** Query rows (tokens x query heads of a group) of one workgroup: bounded by KEY_TILE invocations and by registers. */
const FLASH_ROWS = 32;

/**
 * Tokens per query tile of attention-flash.wgsl: in decode 1, in prefill as many as keep its rows within
 * FLASH_ROWS; either way its workgroup memory (queries, a tile's scores, three per-row values) within
 * `limit`. 0 when not one token's rows fit: then attention-split.wgsl runs.
 */
export function flashQueryTokens(spec: AttentionSpec, limit: number, decode = false, f16 = false): number {
  const group = spec.numHeads / spec.numKvHeads;
  if (group > FLASH_ROWS) return 0;
  for (let tokens = decode ? 1 : Math.floor(FLASH_ROWS / group); tokens >= 1; tokens--) {
    if (flashAttentionBytes(spec, tokens, f16) <= limit) return tokens;
  }
  return 0;
}

/** Its `var<workgroup>` arrays: queries (f32, or f16 staged), a tile's f32 scores, three f32s per row. */
export function flashAttentionBytes(spec: AttentionSpec, queryTokens: number, f16 = false): number {
  const rows = queryTokens * (spec.numHeads / spec.numKvHeads);
  return workgroupArrayBytes(rows * spec.headDim * (f16 ? 2 : 4), rows * KEY_TILE * 4, rows * 4, rows * 4, rows * 4);
}

/** What both split kernels take: shapes, the store's layout, the append, and their bindings. */
function splitParts(spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, append: boolean) {
  const { headDim, numHeads: heads, numKvHeads: kvHeads } = spec;
  return {
    consts: {
      HEAD_DIM: headDim,
      HEADS: heads,
      KV_GROUP: heads / kvHeads,
      Q_STRIDE: rows.qStride,
      KV_DIM: kvHeads * headDim,
      K_STRIDE: rows.kvStride,
      PAGE: store.page,
      KV_F16: store.kvF16,
      WINDOW: spec.slidingWindow ?? 0,
      SCALE: { f32: 1 / Math.sqrt(headDim) },
      APPEND: append,
    },
    prefixes: [append ? 'attention-pool-append' : 'attention-pool-read'],
    bindings: ['read', 'read', 'read', 'read', append ? 'write' : 'read', append ? 'write' : 'read', 'write'] as BindingKind[],
    buffers: [rows.q, rows.k, rows.v, store.pages, store.kPool, store.vPool, rows.partial],
  };
}

/** tiled family: a workgroup per (query tile, kv head, chunk), K/V rows read once per tile and group. */
function flashSplit(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, append: boolean, queryTokens: number): Dispatch {
  const p = splitParts(spec, rows, store, append);
  const math = matmulMath(ctx); // T stages the queries; the arithmetic stays f32
  const source = {
    op: 'attention-flash',
    consts: { ...p.consts, Q_TOKENS: queryTokens },
    prefixes: p.prefixes,
    enables: math.enables,
    declarations: math.declarations,
    workgroupBytes: flashAttentionBytes(spec, queryTokens, math.f16),
  };
  return makeDispatch(ctx, source, p.bindings, p.buffers, (tokens, plan) => gemvGrid(Math.ceil(tokens / queryTokens) * spec.numKvHeads * plan.chunks));
}

function splitOp(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, ownOnly: boolean, append: boolean): Dispatch {
  const p = splitParts(spec, rows, store, append);
  const heads = spec.numHeads;
  return makeDispatch(ctx, { op: 'attention-split', consts: { ...p.consts, OWN_ONLY: ownOnly }, prefixes: p.prefixes }, p.bindings, p.buffers, (tokens, plan) =>
    flatGrid(tokens * heads * plan.chunks),
  );
}
