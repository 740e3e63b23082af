// Greedy token choice on the GPU (shaders/argmax.wgsl): one u32 to read back instead of the logits.

import { makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** best_v and best_i: 256 each. */
export const ARGMAX_WORKGROUP_BYTES = 2 * 256 * 4;

export function argmaxOp(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'argmax', consts: { V: vocab }, workgroupBytes: ARGMAX_WORKGROUP_BYTES }, ['read', 'write'], [logits, chosen], () => [1, 1]);
}
