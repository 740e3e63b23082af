// A long prompt run layer by layer (PromptOrder 'layers', src/webgpu/caches/remat-rows.ts). In the quantized
// modes each prompt slice's attention reads the past's K/V rebuilt from the cache into transient rows. Where
// rows for every layer do not fit their cap, the cache keeps one layer's. Run slice by slice, every slice would
// then rebuild its whole past in every layer: a prompt's rebuild work would grow with its length squared.
// Run layer by layer, each layer takes every slice of a group in turn, and the rows hold that layer's K/V
// from one slice to the next: each past row is rebuilt once per layer and group. The group's residual stream
// waits in a transient buffer between layers. The kernels and their order within a layer are the same, so
// the logits are the same bits as slice by slice.

import type { ChunkPlan, GpuCache } from './caches/gpu-cache';
import type { ForwardSections } from './layers';
import type { GpuMemory } from './memory';
import { encodeDispatches } from './ops/dispatch';

/** The residual stream of at most this many bytes of a prompt's tokens waits between layers (Llama-3.2-1B: 8,192 tokens). */
const PROMPT_STREAM_BYTES = 64 * 2 ** 20;

/** What a session lends a layer-by-layer prompt. */
export interface LayerMajorRun {
  device: GPUDevice;
  cache: GpuCache;
  /** The group's residual stream between layers (promptStream). */
  stream: PromptStream;
  layers: number;
  /** Bytes of one token's row of the residual stream (`h`). */
  rowBytes: number;
  ids: GPUBuffer;
  h: GPUBuffer;
  /** The dispatches for a slice of `tokens` tokens, by section (one token: a decode step's). */
  sections(tokens: number): ForwardSections;
  /** The chunking of a slice (GpuCache.plan, with the decode step's chunk limit). */
  plan(pos0: number, tokens: number): ChunkPlan;
  /** Write the step uniform of a slice; `final`: the prompt's last, which ends in the token choice if any. */
  writeStep(pos0: number, tokens: number, plan: ChunkPlan, final: boolean): void;
  /** The LM head (and the token choice) after the last slice's last layer, ending `pass`. */
  encodeHead(enc: GPUCommandEncoder, pass: GPUComputePassEncoder, tokens: number, plan: ChunkPlan): void;
  /** Between groups (the cache consistent: every layer has stored the group): where an abort may stop the prompt. */
  between(): Promise<void>;
}

/** A prompt's residual stream between layers: a transient buffer of one group's rows, `group` tokens of whole slices. */
export interface PromptStream {
  buffer: GPUBuffer;
  group: number;
}

/** The stream of a prompt of `tokens` tokens in slices of `slice`: groups as long as `streamBytes` allow, one slice at least. */
export function promptStream(memory: GpuMemory, tokens: number, slice: number, rowBytes: number, streamBytes = PROMPT_STREAM_BYTES): PromptStream {
  const group = Math.max(slice, Math.floor(streamBytes / rowBytes / slice) * slice);
  const buffer = memory.create(
    'activations',
    'transient.prompt.h',
    Math.min(tokens, group) * rowBytes,
    GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    true,
  );
  return { buffer, group };
}

/**
 * Run `ids` (more than one slice of `slice` tokens) layer by layer, in groups of the stream's length; one submission
 * per layer and slice.
 */
export async function runLayerMajor(run: LayerMajorRun, ids: readonly number[], slice: number): Promise<void> {
  const { device, cache, layers: L, rowBytes: row } = run;
  const { buffer: stream, group } = run.stream;
  // Slice boundaries, as slice by slice cuts them: a last slice of one token runs as a decode step there and here.
  const cuts = Array.from({ length: Math.ceil(ids.length / slice) + 1 }, (_, i) => Math.min(i * slice, ids.length));
  for (let c = 0; c + 1 < cuts.length; ) {
    if (c > 0) await run.between();
    const pos0 = cache.length;
    const first = cuts[c];
    cache.restartRows();
    // Each slice's plan once, in order (it advances the rows' rebuilt mark), replayed by every layer.
    const slices = [];
    for (; c + 1 < cuts.length && cuts[c + 1] - first <= group; c++) {
      const part = ids.slice(cuts[c], cuts[c + 1]);
      const at = cuts[c] - first;
      slices.push({ at, part, plan: run.plan(pos0 + at, part.length), lists: run.sections(part.length) });
    }
    const lastGroup = c + 1 === cuts.length;
    for (let l = 0; l < L; l++) {
      for (const [i, s] of slices.entries()) {
        const M = s.part.length;
        const final = lastGroup && l === L - 1 && i === slices.length - 1;
        run.writeStep(pos0 + s.at, M, s.plan, final);
        if (l === 0) device.queue.writeBuffer(run.ids, 0, Uint32Array.from(s.part));
        const enc = device.createCommandEncoder();
        if (l > 0) enc.copyBufferToBuffer(stream, s.at * row, run.h, 0, M * row);
        const pass = enc.beginComputePass();
        if (l === 0) encodeDispatches(pass, s.lists.embed, M, s.plan);
        encodeDispatches(pass, s.lists.layers[l], M, s.plan);
        if (final) {
          encodeDispatches(pass, s.lists.end, M, s.plan);
          run.encodeHead(enc, pass, M, s.plan);
        } else {
          pass.end();
          if (l < L - 1) enc.copyBufferToBuffer(run.h, 0, stream, s.at * row, M * row);
        }
        device.queue.submit([enc.finish()]);
      }
    }
    cache.length = pos0 + cuts[c] - first;
  }
}
