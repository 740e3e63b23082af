// RMSNorm (shaders/rmsnorm.wgsl), one workgroup per token.

import { makeDispatch, WORKGROUP, type Dispatch, type OpContext } from './dispatch';

/** partial[WG]. */
export const RMSNORM_WORKGROUP_BYTES = WORKGROUP * 4;

export function rmsNormOp(ctx: OpContext, x: GPUBuffer, gamma: GPUBuffer, y: GPUBuffer, d: number, stride: number, eps: number): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'rmsnorm', consts: { D: d, STRIDE: stride, EPS: { f32: eps } }, workgroupBytes: RMSNORM_WORKGROUP_BYTES },
    ['read', 'read', 'write'],
    [x, gamma, y],
    (tokens) => [tokens, 1],
  );
}
