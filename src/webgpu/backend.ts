// The decoder on WebGPU: a model's weights on one device, the kernels compiled for it, xquant-gqa's factors,
// and the device's health; sessions (session.ts) run the forward pass of layers.ts on it. Runs wherever a GPU
// object exists: the Worker in a browser, dawn.node in Node (tests, CLIs, bench).

import { MODE_TRAITS, type CacheConfig } from '../cache/cache-config';
import { layerLatents, type LatentSource, type LayerLatents } from '../cache/latents';
import type { BackendFactory, EngineBackend } from '../engine/backend';
import type { DeviceProfile } from '../engine/device-profile';
import { latentsOf } from '../engine/prepared-model';
import { DeviceLostError, GpuError, GpuOutOfMemoryError, InvalidArgumentError, UnsupportedModelError } from '../errors';
import type { ModelSpec } from '../model/model-spec';
import { packModelWeights, type PackedWeights } from '../quant/packed-weights';
import { unpackMatrix, type PackFormat, type WeightFormat } from '../quant/weight-format';
import { packedStream, type WeightStream } from '../quant/weight-stream';
import type { CacheModel } from '../reference/caches/reference-cache';
import { measureProfile } from './calibrate';
import { acquireDevice, type AcquiredDevice } from './device';
import { readMatrix } from './gpu-matrix';
import { GpuWeightUploader, type GpuWeights } from './gpu-weights';
import { selectKernelFamily, type KernelChoice, type KernelFamily } from './kernel-family';
import { GpuMemory, scopedAllocation, type MemoryReport } from './memory';
import { PipelineCache } from './pipelines';
import { GpuDecodeSession, type SessionBackend } from './session';
import type { ShaderLibrary } from './shader-library';

export interface BackendOptions {
  maxBatch?: number;
  /** Kernel family: `auto` (default) picks from the adapter (src/webgpu/kernel-family.ts). */
  kernels?: KernelChoice;
  /**
   * f16 arithmetic in the tiled family's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where
   * the device has shader-f16 (default false).
   */
  f16Math?: boolean;
  latents?: LatentSource;
  /** Seconds of the load, added to as it runs. */
  timings?: { upload: number };
}

export interface WebGpuOptions {
  weights: PackFormat;
  kernels?: KernelChoice;
  /** Use the adapter's subgroups where it has them (default true); false forces the workgroup-memory reductions. */
  subgroups?: boolean;
  /**
   * f16 arithmetic in the tiled family's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where
   * the device has shader-f16 (default false).
   */
  f16Math?: boolean;
  /** Most tokens one forward dispatch runs; longer inputs run in slices. */
  maxBatch?: number;
}

export class WebGpuBackend implements EngineBackend, SessionBackend {
  readonly name = 'webgpu';
  readonly spec: ModelSpec;
  readonly format: WeightFormat;
  readonly memory: GpuMemory;
  readonly pipelines: PipelineCache;
  /** The kernel family this backend's ops use. */
  readonly kernels: KernelFamily;
  /**
   * The tiled family's GEMM tiles and GEMVs multiply in f16, attention stages its queries in f16 (asked for, and the device has shader-f16).
   * Off by default: it changes the numbers (4-term dots rounded to f16) for a gain not yet measured on a GPU.
   */
  readonly f16Math: boolean;
  /** Bound where a kernel variant reads nothing (no bias, no scales). */
  readonly empty: GPUBuffer;
  /** xquant-gqa's SVD factors, made on first use (prepare) and kept; null until then. */
  private latentFactors: LayerLatents[] | null = null;
  private latentsPending: Promise<LayerLatents[]> | null = null;
  private lostReason: string | null = null;
  private gpuError: string | null = null;

  private constructor(
    readonly gpu: AcquiredDevice,
    readonly weights: GpuWeights,
    memory: GpuMemory,
    pipelines: PipelineCache,
    spec: ModelSpec,
    format: WeightFormat,
    private readonly latentSource: LatentSource,
    readonly maxBatch: number,
    kernels: KernelChoice,
    f16Math: boolean,
  ) {
    this.kernels = selectKernelFamily(kernels, gpu.adapterInfo);
    this.f16Math = f16Math && this.kernels === 'tiled' && gpu.features.shaderF16;
    this.spec = spec;
    this.format = format;
    this.memory = memory;
    this.pipelines = pipelines;
    this.empty = memory.create('activations', 'empty', 16, GPUBufferUsage.STORAGE);
    void gpu.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    // Validation errors otherwise only reach the console and leave zeros in the outputs.
    gpu.device.addEventListener('uncapturederror', (e) => {
      this.gpuError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** From f32 weights in memory (tests, CLIs on small models): packed here; the factors come from the same CPU weights when first used. */
  static async create(gpu: GPU | undefined, shaders: ShaderLibrary, model: CacheModel, o: WebGpuOptions): Promise<WebGpuBackend> {
    checkGpuRuns(model.spec);
    const acquired = await acquireDevice(gpu, { subgroups: o.subgroups });
    const packed = packModelWeights(model.spec, model.weights, o.weights);
    return WebGpuBackend.fromPacked(acquired, shaders, model.spec, packed, {
      maxBatch: o.maxBatch,
      kernels: o.kernels,
      f16Math: o.f16Math,
      latents: { compute: () => latentsOf(model.spec, model.weights, packed) },
    });
  }

  static fromPacked(acquired: AcquiredDevice, shaders: ShaderLibrary, spec: ModelSpec, packed: PackedWeights, o: BackendOptions = {}): Promise<WebGpuBackend> {
    return WebGpuBackend.fromStream(acquired, shaders, spec, packedStream(packed), o);
  }

  /**
   * Upload a weight stream block by block. Allocation failures (out of memory, a buffer past a limit)
   * release what was made and destroy the device, which was acquired for this backend.
   */
  static async fromStream(
    acquired: AcquiredDevice,
    shaders: ShaderLibrary,
    spec: ModelSpec,
    stream: WeightStream,
    o: BackendOptions = {},
  ): Promise<WebGpuBackend> {
    const { device } = acquired;
    const memory = new GpuMemory(device);
    const uploader = new GpuWeightUploader(memory, acquired.maxStorageBindingBytes);
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    let weights: GpuWeights | null = null;
    let failure: unknown = null;
    try {
      await stream.run(uploader);
      weights = uploader.finish(spec.numLayers);
    } catch (e) {
      failure = e;
    }
    const outOfMemory = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    o.timings && (o.timings.upload += uploader.seconds);
    if (failure || outOfMemory || invalid || !weights) {
      const bytes = memory.report().weights;
      memory.releaseAll();
      device.destroy();
      if (failure) throw failure;
      if (!outOfMemory) throw new GpuError(`uploading the weights failed: ${invalid!.message}`);
      throw new GpuOutOfMemoryError(`uploading the weights failed (${outOfMemory.message})`, {
        expected: `${bytes} bytes of GPU memory for the weights`,
        requested: bytes,
      });
    }
    return new WebGpuBackend(
      acquired,
      weights,
      memory,
      new PipelineCache(device, shaders),
      spec,
      stream.format,
      o.latents ?? {},
      o.maxBatch ?? 128,
      o.kernels ?? 'auto',
      o.f16Math ?? false,
    );
  }

  /** Whether the model has xquant-gqa's factors (GQA models only). */
  get hasLatentModes(): boolean {
    return this.spec.numKvHeads < this.spec.numHeads;
  }

  /**
   * Make what a cache mode needs before a session of it is created: for xquant-gqa, the SVD factors of
   * the weights as the GPU holds them, from the source's store, or computed (then stored).
   */
  async prepare(config: CacheConfig): Promise<void> {
    if (!MODE_TRAITS[config.mode].latents || this.latentFactors || !this.hasLatentModes) return;
    this.latentsPending ??= (async () => {
      const src = this.latentSource;
      let latents = (await src.load?.()) ?? null;
      if (!latents) {
        latents = src.compute ? src.compute() : await this.computeLatents();
        await src.save?.(latents);
      }
      return latents;
    })();
    try {
      this.latentFactors = await this.latentsPending;
    } finally {
      this.latentsPending = null;
    }
  }

  /**
   * A cache mode made ready ahead of use: prepare(), then every kernel its sessions' forwards use compiled
   * asynchronously and in parallel (a throwaway session builds them). Returns how many kernels it asked for.
   */
  async compileMode(config: CacheConfig): Promise<number> {
    await this.prepare(config);
    const session = this.createSession(config);
    try {
      return await session.compileAll();
    } finally {
      session.close();
    }
  }

  /** This device's throughput for the planner, from this model's own decode steps (src/webgpu/calibrate.ts). */
  calibrate(): Promise<DeviceProfile> {
    return measureProfile(this);
  }

  /** The factors of W_k and W_v read back from the GPU, one layer at a time. */
  private async computeLatents(): Promise<LayerLatents[]> {
    const out: LayerLatents[] = [];
    for (const l of this.weights.layers) {
      const wk = unpackMatrix(await readMatrix(this.gpu.device, l.wk));
      const wv = unpackMatrix(await readMatrix(this.gpu.device, l.wv));
      out.push(layerLatents(this.spec, wk, wv));
    }
    return out;
  }

  /** The SVD factors of the weights as the GPU holds them (after quantization), for xquant-gqa. */
  get latents(): LayerLatents[] {
    if (!this.hasLatentModes) throw new InvalidArgumentError('xquant-gqa needs fewer kv heads than heads', { field: 'cache' });
    if (!this.latentFactors && this.latentSource.compute) this.latentFactors = this.latentSource.compute();
    if (!this.latentFactors)
      throw new InvalidArgumentError('xquant-gqa factors are not ready', { field: 'cache', expected: 'await backend.prepare(config) before createSession' });
    return this.latentFactors;
  }

  /** Throws DeviceLostError once the device is gone, GpuError once WebGPU has rejected any of our work. */
  checkAlive(): void {
    if (this.lostReason !== null) throw new DeviceLostError(`the WebGPU device was lost (${this.lostReason}); load the model again`);
    if (this.gpuError !== null) throw new GpuError(`WebGPU rejected the engine's work: ${this.gpuError}`);
  }

  /** After a failed GPU call: DeviceLostError when the device is being lost (its `lost` may resolve a moment later), else the error. */
  async settleFailure(e: unknown): Promise<never> {
    await Promise.race([this.gpu.lost, new Promise((r) => setTimeout(r, 250))]);
    this.checkAlive();
    throw e;
  }

  /** Test hook: lose the device the way a driver reset does (device.destroy() without unloading). */
  loseDevice(): void {
    this.gpu.device.destroy();
  }

  memoryReport(): MemoryReport {
    return this.memory.report();
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** The adapter's name from whatever GPUAdapterInfo gives (browsers often leave `description` empty). */
  get adapter(): string {
    return adapterName(this.gpu.adapterInfo);
  }

  get maxBindingBytes(): number {
    return this.gpu.maxStorageBindingBytes;
  }

  get workgroupBytes(): number {
    return this.gpu.device.limits.maxComputeWorkgroupStorageSize;
  }

  get subgroups(): boolean {
    return this.gpu.features.subgroups;
  }

  get compiledKernels(): number {
    return this.pipelines.size;
  }

  /** Resolves with the reason when the device is lost (after destroy(), with reason 'destroyed'). */
  get lost(): Promise<string> {
    return this.gpu.lost.then((info) => `${info.reason}: ${info.message}`);
  }

  createSession(cache: CacheConfig): GpuDecodeSession {
    this.checkAlive();
    const { value: session, errors } = scopedAllocation(this.gpu.device, () => new GpuDecodeSession(this, cache));
    session.pendingAllocation = errors;
    return session;
  }

  destroy(): void {
    this.memory.releaseAll();
    this.gpu.device.destroy();
  }
}

/** "NVIDIA GeForce RTX 4060", or "apple metal-3", or "google swiftshader": the most specific name the adapter gives. */
export function adapterName(a: { vendor: string; architecture: string; device: string; description: string }): string {
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'an unnamed WebGPU adapter';
}

/** What the kernels do not compute yet is refused before a device is acquired, never run without it. */
export function checkGpuRuns(spec: ModelSpec): void {
  // The rebuilding kernels bind k_norm's weights where a K bias would go: no known model has both.
  if (spec.qkNorm && spec.attentionBias)
    throw new UnsupportedModelError('the WebGPU kernels do not take q/k norms together with attention biases', {
      field: 'attention_bias',
      expected: 'false for a model with q/k norms (Qwen3)',
      got: 'true',
    });
}

/** The factory Engine loads models with: each load acquires a device from `gpu` and streams the weights onto it. */
export function webGpuBackends(gpu: GPU | undefined, shaders: ShaderLibrary): BackendFactory {
  return async (model, o) => {
    checkGpuRuns(model.spec);
    return WebGpuBackend.fromStream(await acquireDevice(gpu), shaders, model.spec, model.weights, {
      latents: model.latents,
      timings: o.timings,
      kernels: o.kernels,
      f16Math: o.f16Math,
    });
  };
}
