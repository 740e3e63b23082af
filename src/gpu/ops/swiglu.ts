// SwiGLU gate (shaders/swiglu.wgsl): g = silu(g) * u.

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export function swigluOp(ctx: OpContext, g: GPUBuffer, u: GPUBuffer, f: number, stride: number): Dispatch {
  return makeDispatch(ctx, { op: 'swiglu', consts: { F: f, STRIDE: stride } }, ['write', 'read'], [g, u], (tokens) => flatGrid(tokens * f));
}
