// Causal attention of a layer over its paged fp16/f32 K/V store plus the step's own keys: split over key
// chunks, then merged (shaders/attention-split.wgsl, attention-merge.wgsl); the split may also append the
// step's K/V to the store.

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

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
 * fp16/f32 cache's append, fused).
 */
export function layerAttentionOps(ctx: OpContext, spec: AttentionSpec, rows: AttentionRows, store: AttentionStore, ownOnly: boolean, append = false): [Dispatch, Dispatch] {
  const { headDim, numHeads: heads, numKvHeads: kvHeads } = spec;
  const split = makeDispatch(
    ctx,
    {
      op: 'attention-split',
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
        OWN_ONLY: ownOnly,
        APPEND: append,
      },
      prefixes: [append ? 'attention-pool-append' : 'attention-pool-read'],
    },
    ['read', 'read', 'read', 'read', append ? 'write' : 'read', append ? 'write' : 'read', 'write'],
    [rows.q, rows.k, rows.v, store.pages, store.kPool, store.vPool, rows.partial],
    (tokens, plan) => flatGrid(tokens * heads * plan.chunks),
  );
  const merge = makeDispatch(
    ctx,
    { op: 'attention-merge', consts: { HEAD_DIM: headDim, HEADS: heads, OUT_STRIDE: rows.qStride, EXTRA_SLOTS: ownOnly ? 1 : 0 } },
    ['read', 'write'],
    [rows.partial, rows.out],
    (tokens) => flatGrid(tokens * heads * headDim),
  );
  return [split, merge];
}
