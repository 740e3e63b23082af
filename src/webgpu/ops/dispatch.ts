// What every op builder returns: a pipeline with its bound buffers, and the grid it needs for a given
// number of new tokens. A session builds its dispatches once and encodes them every forward.

import type { KernelFamily } from '../kernel-family';
import type { BindingKind, Kernel, PipelineCache } from '../pipelines';
import type { KernelSource } from '../shader-library';

export interface OpContext {
  device: GPUDevice;
  pipelines: PipelineCache;
  /** The per-forward Step uniform (shaders/common.wgsl), binding 0 of every kernel. */
  step: GPUBuffer;
  /** A small zeroed storage buffer bound where a variant has nothing to bind (no bias, no scales). */
  empty: GPUBuffer;
  /** The device's maxComputeWorkgroupStorageSize: tiles are sized to it. */
  workgroupBytes: number;
  /** Which kernel family the builders pick (src/webgpu/kernel-family.ts); `rowwise` when absent. */
  kernels?: KernelFamily;
  /** The device was created with `subgroups`: tiled-family reductions use subgroupAdd. */
  subgroups?: boolean;
  /**
   * f16 arithmetic (the device has shader-f16 and the backend was asked for it): the tiled-family prefill GEMM tiles
   * and decode GEMVs; attention-flash stages its queries in f16.
   */
  f16?: boolean;
}

/** What a grid may depend on besides the token count: the forward's attention chunking. */
export interface GridPlan {
  chunks: number;
  xChunks: number;
  /** Quantized modes: keys older than this are rematerialized. */
  firstKey: number;
  /** Quantized prefill: rows from here to firstKey are rebuilt into the transient rows. */
  rematFrom: number;
}

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** Workgroup grid for `tokens` new tokens. */
  grid(tokens: number, plan: GridPlan): readonly [number, number];
}

export const WORKGROUP = 64;

/** Size of the Step uniform (shaders/include/common.wgsl). */
export const STEP_BYTES = 64;

/** Bytes of a kernel's `var<workgroup>` arrays as WebGPU counts them: each rounded up to 16. */
export function workgroupArrayBytes(...arrays: number[]): number {
  return arrays.reduce((sum, bytes) => sum + Math.ceil(bytes / 16) * 16, 0);
}
const MAX_GRID = 65535;

/** Grid for a flat index space of `invocations` (shaders fold y into the index: common.wgsl flat_id). */
export function flatGrid(invocations: number, workgroup = WORKGROUP): [number, number] {
  const groups = Math.max(1, Math.ceil(invocations / workgroup));
  if (groups <= MAX_GRID) return [groups, 1];
  return [MAX_GRID, Math.ceil(groups / MAX_GRID)];
}

/** Bind `buffers` to bindings 1.. of `source` (binding 0 is the step uniform). */
export function makeDispatch(
  ctx: OpContext,
  source: KernelSource,
  bindings: readonly BindingKind[],
  buffers: readonly GPUBuffer[],
  grid: (tokens: number, plan: GridPlan) => readonly [number, number],
): Dispatch {
  const kernel: Kernel = ctx.pipelines.get(source, ['uniform', ...bindings]);
  const bindGroup = ctx.device.createBindGroup({
    label: source.op,
    layout: kernel.layout,
    entries: [ctx.step, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { label: source.op, pipeline: kernel.pipeline, bindGroup, grid };
}

const NO_PLAN: GridPlan = { chunks: 1, xChunks: 1, firstKey: 0, rematFrom: 0 };

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[], tokens: number, plan: GridPlan = NO_PLAN): void {
  for (const d of dispatches) {
    const [x, y] = d.grid(tokens, plan);
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y);
  }
}

/**
 * Benchmark aid: milliseconds per run of each kernel (dispatches grouped by label, layers summed), each group run
 * `reps` times on its own for one token under `plan`.
 */
export async function timeDispatchGroups(device: GPUDevice, dispatches: readonly Dispatch[], plan: GridPlan, reps: number): Promise<Map<string, number>> {
  const groups = new Map<string, Dispatch[]>();
  for (const d of dispatches) {
    const key = d.label.replace(/^l\d+\./, '');
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const out = new Map<string, number>();
  for (const [label, list] of groups) {
    const run = async (n: number) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let i = 0; i < n; i++) encodeDispatches(pass, list, 1, plan);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(1);
    const t = performance.now();
    await run(reps);
    out.set(label, (performance.now() - t) / reps);
  }
  return out;
}
