// Causal attention of a layer over its paged fp16/f32 K/V store plus the step's own keys: split over key
// chunks, then merged (shaders/attention-split.wgsl, attention-merge.wgsl); the split may also append the
// step's K/V to the store. Kernel class gpu, one token (decode): attention-decode-gpu.wgsl instead of the split,
// a workgroup per (kv head, chunk) serving the group's query heads; several tokens (prefill):
// attention-prefill-gpu.wgsl, a workgroup per (query tile, kv head, chunk) serving the tile's rows.

import type { BindingKind } from '../pipelines';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';
import { gemvGrid } from './linear';

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
 * fp16/f32 cache's append, fused). `decode`: the list for one-token steps (the gpu class has its own split).
 */
export function layerAttentionOps(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, ownOnly: boolean, append = false, decode = false): [Dispatch, Dispatch] {
  const { headDim, numHeads: heads } = spec;
  const gpu = ctx.kernels === 'gpu' && !ownOnly;
  const queryTile = gpu && !decode ? prefillQueryTokens(spec, ctx.workgroupBytes) : 0;
  const split =
    gpu && decode && decodeFits(ctx, spec)
      ? decodeSplit(ctx, spec, rows, store, append)
      : queryTile > 0
        ? prefillSplit(ctx, spec, rows, store, append, queryTile)
        : splitOp(ctx, spec, rows, store, ownOnly, append);
  const merge = makeDispatch(
    ctx,
    { op: 'attention-merge', consts: { HEAD_DIM: headDim, HEADS: heads, OUT_STRIDE: rows.qStride, EXTRA_SLOTS: ownOnly ? 1 : 0 } },
    ['read', 'write'],
    [rows.partial, rows.out],
    (tokens) => flatGrid(tokens * heads * headDim),
  );
  return [split, merge];
}

/** Workgroup bytes of attention-decode-gpu.wgsl: the group's queries, a tile's scores, three per-head values. */
export function decodeAttentionBytes(spec: AttentionSpec): number {
  const group = spec.numHeads / spec.numKvHeads;
  return 4 * group * (spec.headDim + DECODE_TILE + 3);
}
const DECODE_TILE = 64;

/** Its per-query-head steps run on one invocation per head of the group: at most DECODE_TILE of them. */
function decodeFits(ctx: OpContext, spec: AttentionSpec): boolean {
  return spec.numHeads / spec.numKvHeads <= DECODE_TILE && decodeAttentionBytes(spec) <= ctx.workgroupBytes;
}

/** Query rows (tokens x query heads of a group) of one prefill workgroup: bounded by TILE invocations and by registers. */
const PREFILL_ROWS = 32;

/**
 * Tokens per query tile of attention-prefill-gpu.wgsl: as many as keep its rows within PREFILL_ROWS and its
 * workgroup memory (queries, a tile's scores, three per-row values) within `limit`; 0 when not one fits.
 */
export function prefillQueryTokens(spec: AttentionSpec, limit: number): number {
  const group = spec.numHeads / spec.numKvHeads;
  const rows = Math.min(PREFILL_ROWS, Math.floor(limit / (4 * (spec.headDim + DECODE_TILE + 3))));
  return Math.floor(rows / group);
}

export function prefillAttentionBytes(spec: AttentionSpec, queryTokens: number): number {
  return 4 * queryTokens * (spec.numHeads / spec.numKvHeads) * (spec.headDim + DECODE_TILE + 3);
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

/** gpu class, one token: a workgroup per (kv head, chunk) for all query heads of the group (flash-decoding). */
function decodeSplit(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, append: boolean): Dispatch {
  const p = splitParts(spec, rows, store, append);
  const source = { op: 'attention-decode-gpu', consts: p.consts, prefixes: p.prefixes, workgroupBytes: decodeAttentionBytes(spec) };
  return makeDispatch(ctx, source, p.bindings, p.buffers, (_tokens, plan) => gemvGrid(spec.numKvHeads * plan.chunks));
}

/** gpu class, several tokens: a workgroup per (query tile, kv head, chunk), K/V rows read once per tile and group. */
function prefillSplit(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, append: boolean, queryTokens: number): Dispatch {
  const p = splitParts(spec, rows, store, append);
  const source = {
    op: 'attention-prefill-gpu',
    consts: { ...p.consts, Q_TOKENS: queryTokens },
    prefixes: p.prefixes,
    workgroupBytes: prefillAttentionBytes(spec, queryTokens),
  };
  return makeDispatch(ctx, source, p.bindings, p.buffers, (tokens, plan) => gemvGrid(Math.ceil(tokens / queryTokens) * spec.numKvHeads * plan.chunks));
}

function splitOp(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, ownOnly: boolean, append: boolean): Dispatch {
  const p = splitParts(spec, rows, store, append);
  const heads = spec.numHeads;
  return makeDispatch(
    ctx,
    { op: 'attention-split', consts: { ...p.consts, OWN_ONLY: ownOnly }, prefixes: p.prefixes },
    p.bindings,
    p.buffers,
    (tokens, plan) => flatGrid(tokens * heads * plan.chunks),
  );
}
