// Per-head RMSNorm of q and k in place (shaders/head-norm.wgsl): Qwen3's q_norm and k_norm, before RoPE.

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface HeadNormArgs {
  q: GPUBuffer;
  k: GPUBuffer;
  /** The norms' weights, [headDim] each. */
  qGamma: GPUBuffer;
  kGamma: GPUBuffer;
  headDim: number;
  qHeads: number;
  kHeads: number;
  qStride: number;
  kStride: number;
  eps: number;
}

export function headNormOp(ctx: OpContext, a: HeadNormArgs): Dispatch {
  return makeDispatch(
    ctx,
    {
      op: 'head-norm',
      consts: { HEAD_DIM: a.headDim, Q_HEADS: a.qHeads, K_HEADS: a.kHeads, Q_STRIDE: a.qStride, K_STRIDE: a.kStride, EPS: { f32: a.eps } },
    },
    ['write', 'write', 'read', 'read'],
    [a.q, a.k, a.qGamma, a.kGamma],
    (tokens) => flatGrid(tokens * (a.qHeads + a.kHeads)),
  );
}
