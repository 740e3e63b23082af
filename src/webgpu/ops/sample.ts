// Temperature / top-k / top-p / min-p sampling on the GPU; the options and the draw come in the step uniform.
// Two shapes of the same search: one workgroup (shaders/sample.wgsl, the rowwise family's: few dispatches suit a CPU
// adapter) and many (shaders/sample-split.wgsl, the tiled family's: 19 dispatches, each pass spread over the GPU).

import type { GpuMemory } from '../memory';
import { makeDispatch, workgroupArrayBytes, type Dispatch, type OpContext } from './dispatch';

/** red (256 invocations x 8 lanes of f32), 16 bins, the walk's pick, and a pass's result (a vec3). */
export const SAMPLE_WORKGROUP_BYTES = workgroupArrayBytes(256 * 8 * 4, 16 * 4, 4, 16);
/** The same for sample-split.wgsl: red is 64 invocations x 16 lanes, the result a 4-word search. */
export const SAMPLE_SPLIT_WORKGROUP_BYTES = workgroupArrayBytes(64 * 16 * 4, 16 * 4, 4, 16);

export function sampleOp(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, vocab: number): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'sample', prefixes: ['sample-radix'], consts: { V: vocab }, workgroupBytes: SAMPLE_WORKGROUP_BYTES },
    ['read', 'write'],
    [logits, chosen],
    () => [1, 1],
  );
}

/** sample-split.wgsl's phases: the maxima, 16 radix passes, the kept mass, the draw. */
const SAMPLE_SPLIT_PHASES = 19;

/** Slices of the vocabulary for sample-split.wgsl: about 2,048 logits each (32 per invocation), at most 128. */
export function sampleSplit(vocab: number): { groups: number; per: number; scratchWords: number } {
  const groups = Math.min(128, Math.max(1, Math.ceil(vocab / 2048)));
  const per = Math.ceil(vocab / groups);
  // maxima, 16 passes' bins per slice, 17 searches of 4 words, the slices' kept masses
  return { groups, per, scratchWords: groups + 16 * groups * 16 + 17 * 4 + groups };
}

/** What sample-split.wgsl works in: sampleSplit's scratch words, and one 16-byte uniform per phase holding its index. */
export interface SampleSplitBuffers {
  scratch: GPUBuffer;
  phases: GPUBuffer[];
}

export function sampleSplitBuffers(memory: GpuMemory, vocab: number): SampleSplitBuffers {
  return {
    scratch: memory.create('activations', 'sample.scratch', sampleSplit(vocab).scratchWords * 4, GPUBufferUsage.STORAGE),
    phases: Array.from({ length: SAMPLE_SPLIT_PHASES }, (_, i) =>
      memory.upload('activations', `sample.phase[${i}]`, new Uint32Array([i, 0, 0, 0]), GPUBufferUsage.UNIFORM),
    ),
  };
}

/** The many-workgroup sampler: one dispatch per phase, each bound to its own phase uniform and the scratch. */
export function sampleSplitOps(ctx: OpContext, logits: GPUBuffer, chosen: GPUBuffer, { scratch, phases }: SampleSplitBuffers, vocab: number): Dispatch[] {
  const { groups, per } = sampleSplit(vocab);
  return phases.map((phase, i) =>
    makeDispatch(
      ctx,
      { op: 'sample-split', prefixes: ['sample-radix'], consts: { V: vocab, G: groups, PER: per }, workgroupBytes: SAMPLE_SPLIT_WORKGROUP_BYTES },
      ['read', 'write', 'write', 'uniform'],
      [logits, chosen, scratch, phase],
      () => [i === SAMPLE_SPLIT_PHASES - 1 ? 1 : groups, 1],
    ),
  );
}
