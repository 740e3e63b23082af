// What a GPU cache needs from the backend that runs it, and nothing more: the caches depend on this
// interface, not on WebGpuBackend (which implements it), so the backend and its caches form no import circle.

import type { LayerLatents } from '../../cache/latents';
import type { ModelSpec } from '../../model/model-spec';
import type { KernelFamily } from '../kernel-family';
import type { GpuMemory } from '../memory';

export interface CacheHost {
  readonly spec: ModelSpec;
  /** Where cache buffers are allocated and accounted. */
  readonly memory: GpuMemory;
  /** The device's largest storage binding: no cache buffer may pass it. */
  readonly maxBindingBytes: number;
  /** The device's workgroup memory (maxComputeWorkgroupStorageSize): the rebuilding kernels' tiles fit in it. */
  readonly workgroupBytes: number;
  /** The kernel family the backend runs: the tiled one spreads decode attention over more key chunks. */
  readonly kernels: KernelFamily;
  /** Most tokens one forward runs (the transient and latent rows hold that many). */
  readonly maxBatch: number;
  /** xquant-gqa's SVD factors of the weights as the GPU holds them; throws until the backend has prepared them. */
  readonly latents: LayerLatents[];
  /** Most bytes of XQuant-CL's summed decode rows per session (64 MiB when absent; 0: never, each read sums the deltas). */
  readonly clRowsBytes?: number;
  /** Most bytes of a prompt's rebuilt rows for every layer (LAYER_ROWS_BYTES when absent; past it the prompt runs layer by layer). */
  readonly layerRowsBytes?: number;
}
