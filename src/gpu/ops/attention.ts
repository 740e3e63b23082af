// Causal attention over the paged KV cache plus the step's own keys: split over key chunks, then merged
// (shaders/attention-split.wgsl, attention-merge.wgsl).

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface AttentionArgs {
  q: GPUBuffer;
  kCur: GPUBuffer;
  vCur: GPUBuffer;
  pages: GPUBuffer;
  kPool: GPUBuffer;
  vPool: GPUBuffer;
  partial: GPUBuffer;
  out: GPUBuffer;
  headDim: number;
  heads: number;
  kvHeads: number;
  qStride: number;
  kStride: number;
  page: number;
  kvF16: boolean;
  /** Sliding window in tokens (0: none). */
  window: number;
  /** Only the step's own keys, into partial slots 1.. (slot 0: the xquant modes' rematerialized past). */
  ownOnly: boolean;
}

export function attentionOps(ctx: OpContext, a: AttentionArgs): [Dispatch, Dispatch] {
  const split = makeDispatch(
    ctx,
    {
      op: 'attention-split',
      consts: {
        HEAD_DIM: a.headDim,
        HEADS: a.heads,
        KV_GROUP: a.heads / a.kvHeads,
        Q_STRIDE: a.qStride,
        KV_DIM: a.kvHeads * a.headDim,
        K_STRIDE: a.kStride,
        PAGE: a.page,
        KV_F16: a.kvF16,
        WINDOW: a.window,
        SCALE: { f32: 1 / Math.sqrt(a.headDim) },
        OWN_ONLY: a.ownOnly,
      },
    },
    ['read', 'read', 'read', 'read', 'read', 'read', 'write'],
    [a.q, a.kCur, a.vCur, a.pages, a.kPool, a.vPool, a.partial],
    (tokens, plan) => flatGrid(tokens * a.heads * plan.chunks),
  );
  const merge = makeDispatch(
    ctx,
    { op: 'attention-merge', consts: { HEAD_DIM: a.headDim, HEADS: a.heads, OUT_STRIDE: a.qStride, EXTRA_SLOTS: a.ownOnly ? 1 : 0 } },
    ['read', 'write'],
    [a.partial, a.out],
    (tokens) => flatGrid(tokens * a.heads * a.headDim),
  );
  return [split, merge];
}

/** The standard attention of a layer over a paged fp16/f32 K/V store (pages, pools) and the step's rows. */
export function layerAttentionOps(
  ctx: OpContext,
  spec: { headDim: number; numHeads: number; numKvHeads: number; slidingWindow: number | null },
  rows: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; partial: GPUBuffer; out: GPUBuffer; qStride: number; kvStride: number },
  store: { pages: GPUBuffer; kPool: GPUBuffer; vPool: GPUBuffer; page: number; kvF16: boolean },
  ownOnly: boolean,
): [Dispatch, Dispatch] {
  return attentionOps(ctx, {
    q: rows.q,
    kCur: rows.k,
    vCur: rows.v,
    partial: rows.partial,
    out: rows.out,
    qStride: rows.qStride,
    kStride: rows.kvStride,
    headDim: spec.headDim,
    heads: spec.numHeads,
    kvHeads: spec.numKvHeads,
    window: spec.slidingWindow ?? 0,
    ...store,
    ownOnly,
  });
}
