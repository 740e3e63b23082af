// Greedy token choice on the GPU (shaders/argmax.wgsl): one u32 to read back instead of the logits.

import { makeDispatch, type Dispatch, type OpContext } from './dispatch';

export function argmaxOp(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'argmax', consts: { V: vocab } }, ['read', 'write'], [logits, chosen], () => [1, 1]);
}
