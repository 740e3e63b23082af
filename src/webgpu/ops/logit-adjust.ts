// Penalties and logit bias before the token choice (shaders/logit-adjust.wgsl), a constraint's mask
// (shaders/logit-mask.wgsl), and the count of each chosen token after it (shaders/token-count.wgsl): the GPU
// twin of src/engine/sampling.ts adjustLogits and maskLogits.

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface PenaltyBuffers {
  /** u32 [2V]: occurrences in the reply so far, then in the prompt. */
  counts: GPUBuffer;
  /** f32 [V]: the logit bias. */
  bias: GPUBuffer;
  /** vec4<f32> uniform: frequency, presence, repetition penalties. */
  params: GPUBuffer;
}

export function logitAdjustOp(ctx: OpContext, logits: GPUBuffer, b: PenaltyBuffers, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'logit-adjust', consts: { V: vocab } }, ['write', 'read', 'read', 'uniform'], [logits, b.counts, b.bias, b.params], () =>
    flatGrid(vocab),
  );
}

export function tokenCountOp(ctx: OpContext, chosen: GPUBuffer, counts: GPUBuffer): Dispatch {
  return makeDispatch(ctx, { op: 'token-count', consts: {} }, ['read', 'write'], [chosen, counts], () => [1, 1]);
}

/** A constraint's token mask (u32 [ceil(V / 32)], a bit per token) applied to the logits (shaders/logit-mask.wgsl). */
export function logitMaskOp(ctx: OpContext, logits: GPUBuffer, mask: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(ctx, { op: 'logit-mask', consts: { V: vocab } }, ['write', 'read'], [logits, mask], () => flatGrid(vocab));
}
