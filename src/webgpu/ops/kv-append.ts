// Store the step's K and V in the paged cache (shaders/kv-append.wgsl).

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface KvAppendArgs {
  k: GPUBuffer;
  v: GPUBuffer;
  pages: GPUBuffer;
  kPool: GPUBuffer;
  vPool: GPUBuffer;
  kvDim: number;
  kStride: number;
  page: number;
  kvF16: boolean;
  /** Tokens in a ring of pages (the hot tier); 0 for a plain paged cache. */
  ring?: number;
}

export function kvAppendOp(ctx: OpContext, a: KvAppendArgs): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'kv-append', consts: { KV_DIM: a.kvDim, K_STRIDE: a.kStride, PAGE: a.page, KV_F16: a.kvF16, RING: a.ring ?? 0 } },
    ['read', 'read', 'read', 'write', 'write'],
    [a.k, a.v, a.pages, a.kPool, a.vPool],
    (tokens) => flatGrid((tokens * a.kvDim) / 2),
  );
}
