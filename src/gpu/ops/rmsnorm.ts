// RMSNorm (shaders/rmsnorm.wgsl), one workgroup per token.

import { makeDispatch, type Dispatch, type OpContext } from './dispatch';

export function rmsNormOp(ctx: OpContext, x: GPUBuffer, gamma: GPUBuffer, y: GPUBuffer, d: number, stride: number, eps: number): Dispatch {
  return makeDispatch(ctx, { op: 'rmsnorm', consts: { D: d, STRIDE: stride, EPS: { f32: eps } } }, ['read', 'read', 'write'], [x, gamma, y], (tokens) => [
    tokens,
    1,
  ]);
}
