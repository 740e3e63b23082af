// Penalties and logit bias before the token choice (shaders/logit-adjust.wgsl), a constraint's mask
// (shaders/logit-mask.wgsl), and the count of each chosen token after it (shaders/token-count.wgsl): the GPU
// twin of src/engine/sampling.ts adjustLogits and maskLogits.

import type { Sampler } from '../../engine/sampling';
import type { GpuMemory } from '../memory';
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

/** The penalty buffers of a vocabulary of V tokens: counts (reply, then prompt), bias, parameters. */
export function penaltyBuffers(mem: GpuMemory, V: number): PenaltyBuffers {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  return {
    counts: mem.create('activations', 'penalties.counts', 2 * V * 4, usage),
    bias: mem.create('activations', 'penalties.bias', V * 4, usage),
    params: mem.create('activations', 'penalties.params', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
  };
}

/** A sampler's first choice: its prompt's counts, its bias and penalties written, the reply's counts zeroed. */
export function writePenalties(queue: GPUQueue, b: PenaltyBuffers, sampler: Sampler, V: number): void {
  const p = sampler.penalties!;
  const counts = new Uint32Array(2 * V);
  for (const id of sampler.promptIds) counts[V + id] += 1;
  const bias = new Float32Array(V);
  for (const [id, x] of p.bias) bias[id] = x;
  queue.writeBuffer(b.counts, 0, counts);
  queue.writeBuffer(b.bias, 0, bias);
  queue.writeBuffer(b.params, 0, new Float32Array([p.frequency, p.presence, p.repetition, 0]));
}
