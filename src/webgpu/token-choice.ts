// The choice that ends a step, made on the GPU so that only the chosen id is read back: argmax, or sampling (one
// workgroup in the rowwise family, spread over many in the tiled one); before it a sampler's penalties and logit
// bias, or a constraint's token mask, adjust the logits, and after it the chosen token is counted for the penalties.
// Every dispatch binds the session's logits and its buffers are vocabulary-sized, so all of it is freed while the
// session is parked (release) and made again at the next choice.

import type { Sampler } from '../engine/sampling';
import type { KernelFamily } from './kernel-family';
import type { GpuMemory } from './memory';
import { argmaxOp } from './ops/argmax';
import type { Dispatch, OpContext } from './ops/dispatch';
import { logitAdjustOp, logitMaskOp, penaltyBuffers, tokenCountOp, writePenalties, type PenaltyBuffers } from './ops/logit-adjust';
import { sampleOp, sampleSplitBuffers, sampleSplitOps } from './ops/sample';

export class GpuTokenChoice {
  private argmax: Dispatch | null = null;
  private sample: { ops: Dispatch[]; buffers: GPUBuffer[] } | null = null;
  private penalties: { buffers: PenaltyBuffers; adjust: Dispatch; count: Dispatch; sampler: Sampler | null } | null = null;
  private tokenMask: { buffer: GPUBuffer; apply: Dispatch } | null = null;

  /** `chosen` receives the id (u32); `vocab` logits are read from the logits buffer given with each call. */
  constructor(
    private readonly memory: GpuMemory,
    private readonly kernels: KernelFamily,
    private readonly vocab: number,
    private readonly chosen: GPUBuffer,
  ) {}

  /** The dispatches of one choice by `sampler`, in order; a sampler's first choice writes its counts, bias and penalties. */
  ops(ctx: OpContext, logits: GPUBuffer, sampler: Sampler): Dispatch[] {
    const penalties = sampler.penalties ? this.penaltyOps(ctx, logits, sampler) : null;
    return [
      ...(penalties ? [penalties.adjust] : []),
      ...(sampler.constraint ? [this.maskOp(ctx, logits, sampler)] : []),
      ...(sampler.greedy ? [this.argmaxOp(ctx, logits)] : this.sampleOps(ctx, logits)),
      ...(penalties ? [penalties.count] : []),
    ];
  }

  /** Build the argmax and sampling kernels (to compile them ahead). */
  prepare(ctx: OpContext, logits: GPUBuffer): void {
    this.argmaxOp(ctx, logits);
    this.sampleOps(ctx, logits);
  }

  /** Free every buffer and forget every dispatch: the next choice makes them again, for the logits it is given. */
  release(): void {
    const buffers = [...(this.sample?.buffers ?? []), ...Object.values(this.penalties?.buffers ?? {}), ...(this.tokenMask ? [this.tokenMask.buffer] : [])];
    for (const b of buffers) this.memory.release(b);
    this.argmax = this.sample = this.penalties = this.tokenMask = null;
  }

  private argmaxOp(ctx: OpContext, logits: GPUBuffer): Dispatch {
    this.argmax ??= argmaxOp(ctx, logits, this.chosen, this.vocab);
    return this.argmax;
  }

  /** One workgroup's sampler on CPU adapters (rowwise); the tiled family spreads each pass over the GPU. */
  private sampleOps(ctx: OpContext, logits: GPUBuffer): Dispatch[] {
    const V = this.vocab;
    if (!this.sample && this.kernels !== 'tiled') this.sample = { ops: [sampleOp(ctx, logits, this.chosen, V)], buffers: [] };
    if (!this.sample) {
      const split = sampleSplitBuffers(this.memory, V);
      this.sample = { ops: sampleSplitOps(ctx, logits, this.chosen, split, V), buffers: [split.scratch, ...split.phases] };
    }
    return this.sample.ops;
  }

  /**
   * The dispatches that apply a sampler's penalties before its choice and count the chosen token after it; on
   * a sampler's first choice its prompt counts, bias and penalties are written and the reply's counts zeroed.
   */
  private penaltyOps(ctx: OpContext, logits: GPUBuffer, sampler: Sampler): { adjust: Dispatch; count: Dispatch } {
    const V = this.vocab;
    if (!this.penalties) {
      const buffers = penaltyBuffers(this.memory, V);
      this.penalties = { buffers, adjust: logitAdjustOp(ctx, logits, buffers, V), count: tokenCountOp(ctx, this.chosen, buffers.counts), sampler: null };
    }
    const pen = this.penalties;
    if (pen.sampler !== sampler) {
      writePenalties(ctx.device.queue, pen.buffers, sampler, V);
      pen.sampler = sampler;
    }
    return pen;
  }

  /** The mask dispatch, with the constraint's mask for this choice written to its buffer. */
  private maskOp(ctx: OpContext, logits: GPUBuffer, sampler: Sampler): Dispatch {
    const V = this.vocab;
    if (!this.tokenMask) {
      const buffer = this.memory.create('activations', 'token-mask', Math.ceil(V / 32) * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      this.tokenMask = { buffer, apply: logitMaskOp(ctx, logits, buffer, V) };
    }
    const mask = sampler.constraint!.mask();
    ctx.device.queue.writeBuffer(this.tokenMask.buffer, 0, mask as Uint32Array<ArrayBuffer>, 0, Math.ceil(V / 32));
    return this.tokenMask.apply;
  }
}
