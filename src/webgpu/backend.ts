// The decoder on WebGPU: the same forward pass as src/reference/decoder.ts, as a list of kernel dispatches
// per layer, encoded into one command buffer per forward. Runs wherever a GPU object exists: the Worker
// in a browser, dawn.node in Node (tests, CLIs, bench).

import type { CacheConfig } from '../cache/cache-config';
import { decodeChunkLimit, MAX_CHUNKS, OVERSHOOT_TOKENS, type ChunkPlan, type GpuCache, type LayerAttention } from './caches/gpu-cache';
import { createGpuCache } from './caches/create-gpu-cache';
import { DeviceLostError, EngineError, GpuError, GpuOutOfMemoryError, InvalidArgumentError } from '../errors';
import { acquireDevice, type AcquiredDevice } from './device';
import { selectKernelClass, type KernelChoice, type KernelClass } from './kernel-family';
import { readMatrix, type GpuMatrix } from './gpu-matrix';
import { GpuWeightUploader, type GpuWeights } from './gpu-weights';
import { GpuMemory, scopedAllocation, type AllocationErrors, type MemoryReport } from './memory';
import { argmaxOp } from './ops/argmax';
import { encodeDispatches, type Dispatch, type OpContext } from './ops/dispatch';
import { embedOps } from './ops/embed';
import { gateUpOps } from './ops/gate-up';
import { GEMM_TILE, linearOps, ropeFusable, SHORT_GEMM_TILE, usesGemv, type FusedNorm, type FusedRope } from './ops/linear';
import { rmsNormOp } from './ops/rmsnorm';
import { sampleOp } from './ops/sample';
import { ropeOp, ropeTable } from './ops/rope';
import { PipelineCache } from './pipelines';
import type { ShaderLibrary } from './shader-library';
import type { CacheModel } from '../reference/caches/reference-cache';
import { layerLatents, type LayerLatents } from '../reference/caches/xquant-gqa-cache';
import { latentsOf } from '../engine/prepared-model';
import { kvDim, type ModelSpec } from '../model/model-spec';
import { packModelWeights, type PackedWeights } from '../quant/packed-weights';
import { pad32, unpackMatrix, type WeightFormat } from '../quant/weight-format';
import { packedStream, type WeightStream } from '../quant/weight-stream';
import type { LogitsWanted } from '../reference/decoder';
import { ropeInverseFrequencies } from '../reference/rope';
import type { Backend, DecodeSession } from '../engine/backend';
import type { Sampler } from '../engine/sampling';

/** Where xquant-gqa's factors come from: a store (the weight cache), a CPU computation, else the GPU's weights. */
export interface LatentSource {
  load?(): Promise<LayerLatents[] | null>;
  save?(latents: LayerLatents[]): Promise<void>;
  compute?(): LayerLatents[];
}

export interface BackendOptions {
  maxBatch?: number;
  /** Kernel family: `auto` (default) picks from the adapter (src/gpu/kernel-class.ts). */
  kernels?: KernelChoice;
  /** f16 arithmetic in the gpu class's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where the device has shader-f16 (default false). */
  f16Math?: boolean;
  latents?: LatentSource;
  /** Seconds of the load, added to as it runs. */
  timings?: { upload: number };
}

export interface WebGpuOptions {
  weights: WeightFormat;
  kernels?: KernelChoice;
  /** Use the adapter's subgroups where it has them (default true); false forces the workgroup-memory reductions. */
  subgroups?: boolean;
  /** f16 arithmetic in the gpu class's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where the device has shader-f16 (default false). */
  f16Math?: boolean;
  /** Most tokens one forward dispatch runs; longer inputs run in slices. */
  maxBatch?: number;
}

/** Decode steps in flight at once (decodeIds), and the staging buffers their ids come back through. */
const RUN_AHEAD = OVERSHOOT_TOKENS + 1;
/** runSlice's input for a step whose id the previous step left in the ids buffer. */
const CHAINED = 'chained';
type CHAINED = typeof CHAINED;
/** A token choice at the end of a step: the sampler, its uniform draw, the staging buffer the id goes to. */
interface Pick {
  sampler: Sampler;
  u: number;
  into?: GPUBuffer;
}

/** Size of the Step uniform (shaders/common.wgsl). */
const STEP_BYTES = 48;
/** Prefill register tile (tokens per invocation of linear.wgsl). */
const PREFILL_TILE = 4;

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly spec: ModelSpec;
  readonly format: WeightFormat;
  readonly memory: GpuMemory;
  readonly pipelines: PipelineCache;
  readonly invFreq: Float64Array;
  /** The kernel family this backend's ops use. */
  readonly kernels: KernelClass;
  /**
   * The gpu class's GEMM tiles and GEMVs multiply in f16, attention stages its queries in f16 (asked for, and the device has shader-f16).
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
    this.kernels = selectKernelClass(kernels, gpu.adapterInfo);
    this.f16Math = f16Math && this.kernels === 'gpu' && gpu.features.shaderF16;
    this.spec = spec;
    this.format = format;
    this.memory = memory;
    this.pipelines = pipelines;
    this.invFreq = ropeInverseFrequencies(spec);
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
  static async fromStream(acquired: AcquiredDevice, shaders: ShaderLibrary, spec: ModelSpec, stream: WeightStream, o: BackendOptions = {}): Promise<WebGpuBackend> {
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
      throw new GpuOutOfMemoryError(`uploading the weights failed (${outOfMemory.message})`, { expected: `${bytes} bytes of GPU memory for the weights`, requested: bytes });
    }
    return new WebGpuBackend(acquired, weights, memory, new PipelineCache(device, shaders), spec, stream.format, o.latents ?? {}, o.maxBatch ?? 128, o.kernels ?? 'auto', o.f16Math ?? false);
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
    if (config.mode !== 'xquant-gqa' || this.latentFactors || !this.hasLatentModes) return;
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
    if (!this.latentFactors) throw new InvalidArgumentError('xquant-gqa factors are not ready', { field: 'cache', expected: 'await backend.prepare(config) before createSession' });
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

/** One sequence on the GPU: its KV cache, its activation buffers and its prebuilt dispatches. */
export class GpuDecodeSession implements DecodeSession {
  readonly cache: GpuCache;
  private readonly device: GPUDevice;
  private readonly spec: ModelSpec;
  private readonly buf: Record<'ids' | 'h' | 'xn' | 'q' | 'k' | 'v' | 'attn' | 'g' | 'partial' | 'logits' | 'chosen' | 'step', GPUBuffer>;
  private readonly stride: { d: number; q: number; kv: number; f: number };
  private ropeTable: GPUBuffer | null = null;
  private ropePositions = 0;
  /** Dispatches per forward kind: decode (one token, GEMV tiles) and prefill (GEMM tiles). */
  private built: {
    generation: number;
    decode: Dispatch[];
    head: Record<LogitsWanted, Dispatch[]>;
    argmax: Dispatch;
    sample: Dispatch;
  } | null = null;
  /** The prefill list also binds the cache's transient buffers, so it has its own key. */
  private builtPrefill = new Map<number, { key: string; list: Dispatch[] }>();
  private readonly readLogits: GPUBuffer;
  /** Staging buffers the chosen ids are copied into: a ring, so run-ahead decode keeps several readbacks pending. */
  private readonly readIds: GPUBuffer[];
  private readonly logitRows: number;
  /** Most key chunks of a decode step's attention (the partials buffer holds MAX_CHUNKS + 1 slots per head and token). */
  private readonly decodeChunks: number;
  /** What the error scopes around the constructor's allocations caught; checked by the first reserve(). */
  pendingAllocation: Promise<AllocationErrors> | null = null;
  /** Set when an allocation failed: the session's buffers cannot be trusted, so every later call fails. */
  private failure: EngineError | null = null;

  constructor(
    private readonly backend: WebGpuBackend,
    config: CacheConfig,
  ) {
    const s = backend.spec;
    this.spec = s;
    this.device = backend.gpu.device;
    this.cache = createGpuCache(backend, config);
    const mem = backend.memory;
    const B = backend.maxBatch;
    this.decodeChunks = decodeChunkLimit(backend.kernels, s.numKvHeads, B * (MAX_CHUNKS + 1));
    this.stride = { d: pad32(s.hiddenSize), q: pad32(s.numHeads * s.headDim), kv: pad32(kvDim(s)), f: pad32(s.intermediateSize) };
    // 'all' logits for a whole slice must fit one binding.
    this.logitRows = Math.max(1, Math.min(B, Math.floor(backend.gpu.maxStorageBindingBytes / (4 * s.vocabSize))));
    const rows = Math.ceil(B / PREFILL_TILE) * PREFILL_TILE; // linear.wgsl reads whole token tiles
    const act = (label: string, floats: number) =>
      mem.create('activations', label, floats * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.buf = {
      ids: act('ids', B),
      h: act('h', rows * this.stride.d),
      xn: act('xn', rows * this.stride.d),
      q: act('q', rows * this.stride.q),
      k: act('k', rows * this.stride.kv),
      v: act('v', rows * this.stride.kv),
      attn: act('attn', rows * this.stride.q),
      g: act('g', rows * this.stride.f),
      partial: act('attn.partial', B * s.numHeads * (MAX_CHUNKS + 1) * (s.headDim + 2)),
      logits: act('logits', this.logitRows * s.vocabSize),
      chosen: act('chosen', 4),
      step: mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
    };
    this.readLogits = mem.create('staging', 'logits.read', this.logitRows * s.vocabSize * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.readIds = Array.from({ length: RUN_AHEAD }, (_, i) => mem.create('staging', `chosen.read[${i}]`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST));
  }

  get length(): number {
    return this.cache.length;
  }

  bytesPerToken(): number {
    return this.cache.bytesPerToken();
  }

  /** Grow the RoPE table with the cache: positions 0..capacity-1. */
  /** Whether the cache and the RoPE table already hold `tokens` positions (nothing to allocate). */
  private holds(tokens: number): boolean {
    return tokens <= this.cache.capacity && this.ropeTable !== null && this.ropePositions >= this.cache.capacity;
  }

  private ensurePositions(tokens: number): void {
    if (this.holds(tokens)) return;
    this.cache.ensure(tokens);
    if (this.ropeTable) this.backend.memory.release(this.ropeTable);
    this.ropePositions = this.cache.capacity;
    this.ropeTable = this.backend.memory.upload('activations', 'rope.table', ropeTable(this.backend.invFreq, this.ropePositions));
    this.built = null;
    this.builtPrefill.clear();
  }

  /**
   * Compile every kernel this session's forwards use (decode, prefill, LM head, argmax, sampling) with
   * asynchronous pipeline creation, in parallel, without running anything; returns how many were new.
   */
  async compileAll(): Promise<number> {
    const batched = await this.reserve(2, 2);
    const compiled = await this.backend.pipelines.compileAhead(() => {
      this.built = null;
      this.builtPrefill.clear();
      this.build();
      if (batched) {
        this.buildPrefill(2);
        this.buildPrefill(this.backend.maxBatch);
      }
    });
    // The lists built while compiling hold no pipelines: the next forward builds them again.
    this.built = null;
    this.builtPrefill.clear();
    return compiled;
  }

  private build(): NonNullable<GpuDecodeSession['built']> {
    if (this.built && this.built.generation === this.cache.generation) return this.built;
    const ctx = this.opContext();
    const b = this.buf;
    const st = this.stride;
    const s = this.spec;
    const w = this.backend.weights;
    const head = (lastOnly: boolean) => {
      const a = { tileM: PREFILL_TILE, lastOnly };
      // The gpu-class GEMV folds the final norm in and reads the residual stream (decode skips that norm).
      const norm = usesGemv(ctx, a) ? { gamma: w.finalNorm, d: s.hiddenSize, eps: s.rmsNormEps } : undefined;
      return linearOps(ctx, 'lm_head', w.lmHead, { ...a, x: norm ? b.h : b.xn, y: b.logits, bias: null, xStride: st.d, yStride: s.vocabSize, accumulate: false, norm });
    };
    this.built = {
      generation: this.cache.generation,
      decode: this.layerList(1),
      head: { last: head(true), all: head(false) },
      argmax: argmaxOp(ctx, b.logits, b.chosen, s.vocabSize),
      sample: sampleOp(ctx, b.logits, b.chosen, s.vocabSize),
    };
    return this.built;
  }

  /** The prefill list for a slice of `tokens` tokens: the gpu class's GEMM tiles are 16 tokens tall for short slices. */
  private buildPrefill(tokens: number): Dispatch[] {
    const gemmTokens = this.backend.kernels === 'gpu' && tokens <= SHORT_GEMM_TILE ? SHORT_GEMM_TILE : GEMM_TILE;
    const key = `${this.cache.generation}/${this.cache.prefillGeneration}`;
    let built = this.builtPrefill.get(gemmTokens);
    if (built?.key !== key) this.builtPrefill.set(gemmTokens, (built = { key, list: this.layerList(PREFILL_TILE, gemmTokens) }));
    return built.list;
  }

  private opContext(): OpContext {
    const b = this.buf;
    return {
      device: this.device,
      pipelines: this.backend.pipelines,
      step: b.step,
      empty: this.backend.empty,
      workgroupBytes: this.device.limits.maxComputeWorkgroupStorageSize,
      kernels: this.backend.kernels,
      subgroups: this.backend.gpu.features.subgroups,
      f16: this.backend.f16Math,
    };
  }

  /** Every layer's dispatches with `tile` tokens per invocation of the linear kernels (1: decode). */
  private layerList(tile: number, gemmTokens = GEMM_TILE): Dispatch[] {
    const s = this.spec;
    const b = this.buf;
    const st = this.stride;
    const ctx = this.opContext();
    const w = this.backend.weights;
    {
      const lin = (label: string, m: GpuMatrix, x: GPUBuffer, y: GPUBuffer, bias: GPUBuffer | null, xStride: number, yStride: number, accumulate = false, norm?: FusedNorm, rope?: FusedRope) =>
        linearOps(ctx, label, m, { x, y, bias, xStride, yStride, tileM: tile, accumulate, lastOnly: false, norm, rope, gemmTokens });
      // gpu-class decode folds each RMSNorm into the GEMVs that read it, unless the cache stores the normed X.
      const fuse = usesGemv(ctx, { tileM: tile, lastOnly: false });
      const fuseAttention = fuse && !this.cache.readsInput;
      const norm = (gamma: GPUBuffer): FusedNorm => ({ gamma, d: s.hiddenSize, eps: s.rmsNormEps });
      const list: Dispatch[] = embedOps(ctx, w.embed, b.ids, b.h, st.d);
      w.layers.forEach((l, i) => {
        const attention: LayerAttention = {
          layer: i,
          q: b.q,
          k: b.k,
          v: b.v,
          x: b.xn,
          out: b.attn,
          partial: b.partial,
          rope: this.ropeTable!,
          wk: l.wk,
          wv: l.wv,
          bk: l.bk,
          bv: l.bv,
          xStride: st.d,
          qStride: st.q,
          kvStride: st.kv,
          prefill: tile > 1,
        };
        const qkvIn = fuseAttention ? b.h : b.xn;
        const qkvNorm = fuseAttention ? norm(l.attnNorm) : undefined;
        // RoPE rides in the q/k GEMVs unless the mode stores K before RoPE (kivi) or a part splits a head.
        const fuseRope = fuse && !this.cache.needsPreRopeK && ropeFusable(l.wq, s.headDim) && ropeFusable(l.wk, s.headDim);
        const rope = fuseRope ? { table: this.ropeTable!, headDim: s.headDim } : undefined;
        list.push(
          ...(fuseAttention ? [] : [rmsNormOp(ctx, b.h, l.attnNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps)]),
          ...lin(`l${i}.q`, l.wq, qkvIn, b.q, l.bq, st.d, st.q, false, qkvNorm, rope),
          ...lin(`l${i}.k`, l.wk, qkvIn, b.k, l.bk, st.d, st.kv, false, qkvNorm, rope),
          ...lin(`l${i}.v`, l.wv, qkvIn, b.v, l.bv, st.d, st.kv, false, qkvNorm),
          ...this.cache.preRopeOps(ctx, attention),
          ...(fuseRope
            ? []
            : [ropeOp(ctx, { q: b.q, k: b.k, table: this.ropeTable!, headDim: s.headDim, qHeads: s.numHeads, kHeads: s.numKvHeads, qStride: st.q, kStride: st.kv, interleaved: false })]),
          ...this.cache.layerOps(ctx, attention),
          ...lin(`l${i}.o`, l.wo, b.attn, b.h, null, st.q, st.d, true),
          ...(fuse ? [] : [rmsNormOp(ctx, b.h, l.mlpNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps)]),
          ...gateUpOps(ctx, `l${i}.gate-up`, l.wGate, l.wUp, { x: fuse ? b.h : b.xn, y: b.g, xStride: st.d, yStride: st.f, tileM: tile, norm: fuse ? norm(l.mlpNorm) : undefined, gemmTokens }),
          ...lin(`l${i}.down`, l.wDown, b.g, b.h, null, st.f, st.d, true),
        );
      });
      // The LM head's GEMV takes the final norm itself in that case (build()).
      if (!fuse) list.push(rmsNormOp(ctx, b.h, w.finalNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps));
      return list;
    }
  }

  private checkIds(ids: readonly number[]): void {
    if (ids.length === 0) throw new InvalidArgumentError('no tokens to run', { field: 'ids', expected: 'at least one token id' });
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.spec.vocabSize) {
        throw new InvalidArgumentError('token id out of range', { field: `ids[${t}]`, expected: `0 <= id < ${this.spec.vocabSize}`, got: String(id) });
      }
    });
  }

  /**
   * Encode and submit one slice of at most maxBatch tokens, up to the LM head ('last' or 'all' rows).
   * With `pick`, the slice ends in the token choice (argmax or sampling, the sampling fields of the step
   * uniform filled) and the chosen id is copied to the staging buffer: one submission per token.
   */
  private runSlice(ids: readonly number[] | CHAINED, wanted: LogitsWanted, pick: Pick | null = null, then?: (enc: GPUCommandEncoder) => void): void {
    this.backend.checkAlive();
    const pos0 = this.cache.length;
    const M = ids === CHAINED ? 1 : ids.length;
    this.ensurePositions(pos0 + M);
    const built = this.build();
    const plan = this.writeStep(pos0, M, pick);
    if (ids !== CHAINED) this.device.queue.writeBuffer(this.buf.ids, 0, Uint32Array.from(ids));
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, M === 1 ? built.decode : this.buildPrefill(M), M, plan);
    // One token's 'all' is its 'last' (row 0): the decode list may have fused the final norm into that head.
    encodeDispatches(pass, built.head[M === 1 ? 'last' : wanted], M, plan);
    // A token choice rides in the same pass and submission, and its 4 bytes are copied out with it.
    if (pick) encodeDispatches(pass, [pick.sampler.greedy ? built.argmax : built.sample], 1);
    pass.end();
    if (pick) enc.copyBufferToBuffer(this.buf.chosen, 0, pick.into ?? this.readIds[0], 0, 4);
    then?.(enc);
    this.device.queue.submit([enc.finish()]);
    this.cache.length = pos0 + M;
  }

  private writeStep(pos0: number, M: number, pick: Pick | null): ChunkPlan {
    const plan: ChunkPlan = this.cache.plan(pos0, M, this.decodeChunks);
    const step = new DataView(new ArrayBuffer(STEP_BYTES));
    [M, pos0, plan.chunks, plan.chunkLen, plan.xChunks, plan.xChunkLen, plan.firstKey].forEach((v, i) => step.setUint32(i * 4, v, true));
    if (pick) {
      const o = pick.sampler.options;
      step.setFloat32(32, pick.u, true);
      step.setFloat32(36, o.temperature > 0 ? 1 / o.temperature : 0, true);
      step.setUint32(40, o.topK, true);
      step.setFloat32(44, o.topP, true);
    }
    this.device.queue.writeBuffer(this.buf.step, 0, step.buffer);
    return plan;
  }

  /**
   * Benchmark aid: make the cache hold `tokens` tokens without running them (their stored form is what
   * fresh buffers hold: zeros), so decode speed at a long context can be measured without the prefill.
   */
  skipTo(tokens: number): void {
    if (tokens < this.cache.length) throw new InvalidArgumentError('cannot shrink a session', { field: 'tokens', got: String(tokens) });
    this.ensurePositions(tokens);
    this.cache.length = tokens;
  }

  /**
   * Benchmark aid: milliseconds per decode step spent in each kernel (summed over layers), measured by
   * running each kernel's dispatches of one decode step `reps` times on their own. The stores write the
   * slot of the next token, which the next forward overwrites.
   */
  async profileDecode(reps: number): Promise<Map<string, number>> {
    this.backend.checkAlive();
    const pos0 = this.cache.length;
    this.ensurePositions(pos0 + 1);
    const built = this.build();
    const plan = this.writeStep(pos0, 1, null);
    const groups = new Map<string, Dispatch[]>();
    for (const d of [...built.decode, ...built.head.last]) {
      const key = d.label.replace(/^l\d+\./, '');
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    const out = new Map<string, number>();
    for (const [label, list] of groups) {
      const run = async (n: number) => {
        const enc = this.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (let i = 0; i < n; i++) encodeDispatches(pass, list, 1, plan);
        pass.end();
        this.device.queue.submit([enc.finish()]);
        await this.device.queue.onSubmittedWorkDone();
      };
      await run(1);
      const t = performance.now();
      await run(reps);
      out.set(label, (performance.now() - t) / reps);
    }
    return out;
  }

  private async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await buffer.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      return this.backend.settleFailure(e);
    }
    const out = buffer.getMappedRange(0, bytes).slice(0);
    buffer.unmap();
    this.backend.checkAlive();
    return out;
  }

  /**
   * Grow the cache (and RoPE table) for `tokens` positions inside error scopes, before anything is
   * submitted: a failed allocation becomes GpuOutOfMemoryError, this session fails from then on (its
   * buffers are invalid), and the backend stays usable for a new, smaller session.
   */
  private async reserve(tokens: number, prompt = 1): Promise<boolean> {
    if (this.pendingAllocation) {
      const first = this.pendingAllocation;
      this.pendingAllocation = null;
      const own = [...Object.values(this.buf), this.readLogits, ...this.readIds].reduce((n, b) => n + b.size, 0);
      this.settle(await first, "allocating the session's buffers", own + this.cache.capacity * this.cache.bytesPerToken());
    }
    if (this.failure) throw this.failure;
    if (prompt <= 1 && this.holds(tokens)) return true; // most decode steps: no allocation, no error-scope round trip
    const grown = scopedAllocation(this.device, () => {
      this.ensurePositions(tokens);
      // A prompt's slices start before `tokens - 1`: the quantized modes' transient rows must hold that past.
      return prompt <= 1 || this.cache.reservePrefill(tokens - 1);
    });
    this.settle(await grown.errors, `growing the cache to ${this.cache.capacity} tokens`, this.cache.capacity * this.cache.bytesPerToken());
    return grown.value;
  }

  /** Tokens per slice of a prompt: one at a time when the transient rows could not be bound. */
  private async reservePrompt(ids: readonly number[]): Promise<number> {
    const batched = await this.reserve(this.cache.length + ids.length, ids.length);
    return batched ? this.backend.maxBatch : 1;
  }

  private settle(caught: AllocationErrors, what: string, bytes: number): void {
    if (!caught.outOfMemory && !caught.invalid) return;
    this.failure = caught.outOfMemory
      ? new GpuOutOfMemoryError(`${what} failed (${caught.outOfMemory.message})`, { expected: `${bytes} bytes of GPU memory`, requested: bytes })
      : new GpuError(`${what} failed: ${caught.invalid!.message}`);
    throw this.failure;
  }

  async forward(ids: readonly number[], wanted: LogitsWanted): Promise<Float32Array> {
    this.checkIds(ids);
    const batch = await this.reservePrompt(ids);
    try {
      return await this.forwardSlices(ids, wanted, batch);
    } finally {
      this.cache.endPrefill();
    }
  }

  private async forwardSlices(ids: readonly number[], wanted: LogitsWanted, batch: number): Promise<Float32Array> {
    const V = this.spec.vocabSize;
    const out = new Float32Array((wanted === 'all' ? ids.length : 1) * V);
    const slice = wanted === 'all' ? Math.min(batch, this.logitRows) : batch;
    for (let at = 0; at < ids.length; at += slice) {
      const part = ids.slice(at, at + slice);
      const last = at + slice >= ids.length;
      if (wanted === 'last' && !last) {
        this.runSlice(part, 'last');
        continue;
      }
      this.runSlice(part, wanted);
      const bytes = (wanted === 'all' ? part.length : 1) * V * 4;
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.buf.logits, 0, this.readLogits, 0, bytes);
      this.device.queue.submit([enc.finish()]);
      out.set(new Float32Array(await this.read(this.readLogits, bytes)), wanted === 'all' ? at * V : 0);
    }
    return out;
  }

  /**
   * Steps are submitted back to back, each copying its logits into its row of the staging buffer, and
   * read back once per staging buffer full: one readback per step would cost a GPU round trip each.
   */
  async forwardEach(ids: readonly number[]): Promise<Float32Array> {
    this.checkIds(ids);
    await this.reserve(this.cache.length + ids.length);
    const V = this.spec.vocabSize;
    const out = new Float32Array(ids.length * V);
    for (let at = 0; at < ids.length; at += this.logitRows) {
      const part = ids.slice(at, at + this.logitRows);
      part.forEach((id, r) => this.runSlice([id], 'last', null, (enc) => enc.copyBufferToBuffer(this.buf.logits, 0, this.readLogits, r * V * 4, V * 4)));
      out.set(new Float32Array(await this.read(this.readLogits, part.length * V * 4)), at * V);
    }
    return out;
  }

  /** Run `ids` and choose the next token on the GPU (argmax, or sampling); 4 bytes are read back. */
  async next(ids: readonly number[], sampler: Sampler): Promise<number> {
    this.checkIds(ids);
    const slice = await this.reservePrompt(ids);
    try {
      for (let at = 0; at < ids.length; at += slice) {
        const last = at + slice >= ids.length;
        this.runSlice(ids.slice(at, at + slice), 'last', last ? { sampler, u: sampler.draw() } : null);
      }
    } finally {
      this.cache.endPrefill();
    }
    return new Uint32Array(await this.read(this.readIds[0], 4))[0];
  }

  /**
   * Decode from `first` (chosen, not yet run), yielding each next id. Up to RUN_AHEAD steps are in flight:
   * each step's embedding reads the id the previous step chose, on the GPU, and the ids come back through
   * a ring of staging buffers while later steps run, so the GPU does not idle for a readback per token.
   * When the consumer stops early (a stop token or string, max tokens, an abort), the steps run past what
   * it consumed are dropped from the cache (GpuCache.length).
   */
  async *decodeIds(first: number, sampler: Sampler, maxSteps: number): AsyncGenerator<number, void, undefined> {
    this.checkIds([first]);
    const start = this.cache.length;
    const pending: Promise<number>[] = [];
    let submitted = 0;
    let consumed = 0;
    try {
      while (consumed < maxSteps) {
        while (submitted < maxSteps && submitted - consumed < RUN_AHEAD) {
          await this.reserve(this.cache.length + 1);
          const into = this.readIds[submitted % RUN_AHEAD];
          // The choice is also copied into the ids buffer: the next step's input, without a round trip.
          const chain = (enc: GPUCommandEncoder) => enc.copyBufferToBuffer(this.buf.chosen, 0, this.buf.ids, 0, 4);
          this.runSlice(submitted === 0 ? [first] : CHAINED, 'last', { sampler, u: sampler.draw(), into }, chain);
          const id = this.read(into, 4).then((b) => new Uint32Array(b)[0]);
          id.catch(() => {}); // awaited below or in finally; not an unhandled rejection meanwhile
          pending.push(id);
          submitted++;
        }
        const id = await pending.shift()!;
        consumed++;
        yield id;
      }
    } finally {
      await Promise.allSettled(pending);
      this.cache.length = start + consumed;
    }
  }

  close(): void {
    const mem = this.backend.memory;
    this.cache.destroy();
    for (const b of Object.values(this.buf)) mem.release(b);
    mem.release(this.readLogits);
    for (const b of this.readIds) mem.release(b);
    if (this.ropeTable) mem.release(this.ropeTable);
  }
}
