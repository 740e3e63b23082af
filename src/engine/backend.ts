// The contract between the engine and what runs the decoder. A Backend makes decode sessions for cache
// modes (the reference decoder in src/reference/backend.ts, WebGPU in src/webgpu/backend.ts); an
// EngineBackend also owns a device and its memory, and is what Engine loads a model onto, through a
// BackendFactory handed to it. A second device backend (wasm, say) implements EngineBackend and a factory;
// the engine does not change.

import type { CacheConfig } from '../cache/cache-config';
import type { ModelSpec } from '../model/model-spec';
import type { LogitsWanted } from '../reference/decoder';
import type { KernelChoice, KernelFamily } from '../webgpu/kernel-family';
import type { DeviceProfile } from './device-profile';
import type { PreparedModel } from './prepared-model';
import type { Sampler } from './sampling';

/** What a device's memory holds, by category (every buffer is tagged with one). */
export type MemoryCategory = 'weights' | 'cache' | 'activations' | 'staging';

export type MemoryReport = Record<MemoryCategory, number> & {
  total: number;
  /** Transient buffers (a quantized mode's prefill rows, counted under activations): held now, and the most held at once since load. */
  transient: number;
  transientPeak: number;
};

export type BackendName = 'reference' | 'webgpu';
export const BACKEND_NAMES: readonly BackendName[] = ['reference', 'webgpu'];

/**
 * Called between a prompt's slices (or groups of them), once the GPU has run the ones before: throwing there (an
 * abort) stops the prompt with the tokens run so far stored.
 */
export type PromptCheckpoint = () => void;

/** One sequence: the tokens run so far live in its cache. */
export interface DecodeSession {
  readonly length: number;
  /** Tokens its cache buffers have room for (at least length): what a kept session holds in memory. */
  readonly capacity: number;
  /** Logits after running `ids` ([V] for 'last', [ids.length, V] for 'all'); a long prompt runs in slices. */
  forward(ids: readonly number[], wanted: LogitsWanted, checkpoint?: PromptCheckpoint): Promise<Float32Array>;
  /**
   * Teacher forcing: run each id as its own decode step (each attends to the cache's stored form of the
   * earlier ones) and return every step's logits, [ids.length, V].
   */
  forwardEach(ids: readonly number[]): Promise<Float32Array>;
  /** Run `ids` and choose the next token (a GPU session does the choice on the device). */
  next(ids: readonly number[], sampler: Sampler, checkpoint?: PromptCheckpoint): Promise<number>;
  /**
   * Decode from `first` (chosen, not yet run): yields at most `maxSteps` next ids. Stopping the iteration
   * early leaves the cache holding exactly the tokens whose successors were consumed.
   */
  decodeIds(first: number, sampler: Sampler, maxSteps: number): AsyncGenerator<number, void, undefined>;
  /**
   * Keep the first `n` tokens and drop the rest, as far as the mode can exactly (src/cache/keep.ts); returns how
   * many were kept. The caller re-runs the tokens between that and n.
   */
  keep(n: number): number;
  /**
   * Context shift: drop tokens [from, to) and keep the later ones' entries, moved down to `from` with their
   * positions re-based (src/cache/keep.ts canShift). False, changing nothing, where the mode cannot: the caller
   * keeps the first `from` tokens and prefills the rest.
   */
  shift(from: number, to: number): boolean;
  /** The cache read back in its stored (compact) form, for restore() in a later page. */
  save(): Promise<SessionSnapshot>;
  /**
   * Into an empty session: the cache as `snapshot` holds it, so decoding continues with no re-run. A snapshot
   * of another layout (backend, mode, model shape, batch) is refused with SavedCacheError.
   */
  restore(snapshot: SessionSnapshot): Promise<void>;
  /**
   * Kept between requests: free what only a running request needs (a GPU session's vocabulary-sized logits and their
   * readback: ~78 MB each at a 152K vocabulary; its working rows, RoPE tables and decode partials: ~30 MB on
   * Llama-3.2-1B; xquant-gqa's latent rows), so a kept session holds its cache and a few bytes a layer; the next
   * call allocates them again.
   */
  park(): void;
  /** Steady-state bytes per token of the cache's compact form. */
  bytesPerToken(): number;
  /** Bytes the cache holds right now. */
  storedBytes(): number;
  /** Free what the session holds (GPU buffers); the session is unusable afterwards. */
  close(): void;
}

/** A session's cache as save() reads it: what restore() needs to continue without running its tokens again. */
export interface SessionSnapshot {
  /** Tokens it holds. */
  length: number;
  /**
   * What the parts mean: backend, cache mode and the sizes that place rows in them. restore() takes only a
   * snapshot whose layout equals its own session's.
   */
  layout: string;
  /** The cache's buffers (their used prefixes), in an order the layout fixes. */
  parts: Uint8Array[];
  /**
   * Where the cache has sliding-window rings: the first position they all still hold whole, so a restored
   * conversation rolls back (an edit, a regenerate) as far as the saved one could. Absent: only the last window.
   */
  held?: number;
}

export interface Backend {
  readonly name: BackendName;
  readonly spec: ModelSpec;
  /** Make what a cache mode needs once per model (xquant-gqa's factors) before createSession. */
  prepare(cache: CacheConfig): Promise<void>;
  createSession(cache: CacheConfig): DecodeSession;
}

/** A backend that owns a device: what Engine runs a loaded model on. */
export interface EngineBackend extends Backend {
  /** The device's name as its driver gives it. */
  readonly adapter: string;
  /** The kernel family chosen for the device (or forced by the load's `kernels`). */
  readonly kernels: KernelFamily;
  /** Whether the tiled kernels run in f16 (asked for with `f16Math`, and the device has shader-f16). */
  readonly f16Math: boolean;
  /** The largest storage binding: no cache buffer may pass it (the planner respects it). */
  readonly maxBindingBytes: number;
  /** Resolves with the reason when the device is lost (also after destroy(): the engine ignores a backend it replaced). */
  readonly lost: Promise<string>;
  /** Kernels compiled so far. */
  readonly compiledKernels: number;
  /** prepare(), then every kernel the mode's sessions use compiled ahead; returns how many were new. */
  compileMode(cache: CacheConfig): Promise<number>;
  /** Measure the device's throughput for the planner (a short run of its own kernels); absent on the reference. */
  calibrate?(): Promise<DeviceProfile>;
  memoryReport(): MemoryReport;
  /** After a failed device call: the device-lost error when the device is going, else `e`. */
  settleFailure(e: unknown): Promise<never>;
  /** Test hook: lose the device as a driver reset would. */
  loseDevice(): void;
  destroy(): void;
}

export interface BackendLoadOptions {
  /** Seconds spent writing weights to the device, added to as the upload runs. */
  timings?: { upload: number };
  kernels?: KernelChoice;
  f16Math?: boolean;
}

/** Puts a prepared model on a device: its weights stream in once; no CPU copy of them outlives the call. */
export type BackendFactory = (model: PreparedModel, o: BackendLoadOptions) => Promise<EngineBackend>;
