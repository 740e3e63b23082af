// RMSNorm (shaders/rmsnorm.wgsl), one workgroup per token.

import { makeDispatch, WORKGROUP, type Dispatch, type OpContext } from './dispatch';

/** partial[WG]. */
export const RMSNORM_WORKGROUP_BYTES = WORKGROUP * 4;

/** y = rmsNorm(x) · gamma, or y += that with `accumulate` (a post-norm joining the residual stream). */
export function rmsNormOp(ctx: OpContext, x: GPUBuffer, gamma: GPUBuffer, y: GPUBuffer, d: number, stride: number, eps: number, accumulate = false): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'rmsnorm', consts: { D: d, STRIDE: stride, EPS: { f32: eps }, ACCUMULATE: accumulate }, workgroupBytes: RMSNORM_WORKGROUP_BYTES },
    ['read', 'read', 'write'],
    [x, gamma, y],
    (tokens) => [tokens, 1],
  );
}
