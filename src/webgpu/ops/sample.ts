// Temperature / top-k / top-p sampling on the GPU (shaders/sample.wgsl); the options and the draw come in
// the step uniform.

import { makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** red (256 invocations x 8 lanes of f32), 16 bins, and a pass's result (a vec3, 16-byte aligned). */
export const SAMPLE_WORKGROUP_BYTES = 256 * 8 * 4 + 16 * 4 + 16;

export function sampleOp(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'sample', consts: { V: vocab }, workgroupBytes: SAMPLE_WORKGROUP_BYTES }, ['read', 'write'], [logits, chosen], () => [1, 1]);
}
