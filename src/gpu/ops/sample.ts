// Temperature / top-k / top-p sampling on the GPU (shaders/sample.wgsl); the options and the draw come in
// the step uniform.

import { makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** red[256] and shared_u. */
export const SAMPLE_WORKGROUP_BYTES = 256 * 4 + 4;

export function sampleOp(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'sample', consts: { V: vocab }, workgroupBytes: SAMPLE_WORKGROUP_BYTES }, ['read', 'write'], [logits, chosen], () => [1, 1]);
}
