// One sequence on the GPU: its cache, its activation buffers and its prebuilt dispatch lists (layers.ts),
// encoded into one command buffer per forward. Decode runs a few steps ahead: each step's input id is the
// previous step's choice, copied on the GPU, and ids come back through a ring of staging buffers.

import { storedCacheBytes } from '../cache/cache-bytes';
import type { CacheConfig } from '../cache/cache-config';
import { type EngineError, GpuError, GpuOutOfMemoryError, InvalidArgumentError } from '../errors';
import type { DecodeSession, PromptCheckpoint, SessionSnapshot } from '../engine/backend';
import type { Sampler } from '../engine/sampling';
import { kvDim, type ModelSpec } from '../model/model-spec';
import { pad32 } from '../quant/weight-format';
import type { LogitsWanted } from '../reference/decoder';
import type { CacheHost } from './caches/cache-host';
import { createGpuCache } from './caches/create-gpu-cache';
import { decodeChunkLimit, MAX_CHUNKS, OVERSHOOT_TOKENS, type ChunkPlan, type GpuCache, type PromptOrder } from './caches/gpu-cache';
import type { GpuWeights } from './gpu-weights';
import { scopedAllocation, type AllocationErrors } from './memory';
import { encodeDispatches, STEP_BYTES, timeDispatchGroups, type Dispatch, type OpContext } from './ops/dispatch';
import { checkShift } from '../cache/keep';
import { checkSnapshot, restoreCache, saveCache, shiftCache } from './cache-state';
import { GEMM_TILE, SHORT_GEMM_TILE } from './ops/linear';
import { RopeTables } from './rope-tables';
import { GpuTokenChoice } from './token-choice';
import { promptStream, runLayerMajor, type LayerMajorRun, type PromptStream } from './layer-major';
import type { PipelineCache } from './pipelines';
import { forwardSections, headDispatches, sectionsInOrder, PREFILL_TILE, SLICE_BUFFERS, sliceBuffers } from './layers';
import type { Activations, Forward, ForwardSections, Strides } from './layers';

/** What a session needs from the backend that made it (WebGpuBackend). */
export interface SessionBackend extends CacheHost {
  readonly device: GPUDevice;
  readonly pipelines: PipelineCache;
  readonly weights: GpuWeights;
  /** The tiled family multiplies in f16 (src/webgpu/backend.ts says when). */
  readonly f16Math: boolean;
  /** The device has subgroups and the backend may use them. */
  readonly subgroups: boolean;
  /** Bound where a kernel variant reads nothing (no bias, no scales). */
  readonly empty: GPUBuffer;
  /** Most bytes of a layer-by-layer prompt's residual stream (PROMPT_STREAM_BYTES when absent). */
  readonly promptStreamBytes?: number;
  /** Throws DeviceLostError once the device is gone, GpuError once WebGPU has rejected any of our work. */
  checkAlive(): void;
  /** After a failed GPU call: DeviceLostError when the device is being lost, else the error. */
  settleFailure(e: unknown): Promise<never>;
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

/** One sequence on the GPU: its KV cache, its activation buffers and its prebuilt dispatches. */
export class GpuDecodeSession implements DecodeSession {
  readonly cache: GpuCache;
  private readonly device: GPUDevice;
  private readonly spec: ModelSpec;
  private readonly buf: Activations & { chosen: GPUBuffer; step: GPUBuffer };
  private readonly stride: Strides;
  /** RoPE tables per kind the layers use, as many positions as the cache holds. */
  private readonly rope: RopeTables;
  /** Dispatches per forward kind: decode (one token, GEMV tiles) and prefill (GEMM tiles). */
  private built: { generation: number; decode: Dispatch[]; sections: ForwardSections; head: Record<LogitsWanted, Dispatch[]> } | null = null;
  /** The prefill list also binds the cache's transient buffers, so it has its own key. */
  private builtPrefill = new Map<number, { key: string; sections: ForwardSections; list: Dispatch[] }>();
  private readLogits: GPUBuffer;
  /** Kept between requests with its logits and their readback freed (park()); reserve() allocates them again. */
  private parked = false;
  /** Staging buffers the chosen ids are copied into: a ring, so run-ahead decode keeps several readbacks pending. */
  private readonly readIds: GPUBuffer[];
  /** The token choice at the end of a step (argmax or sampling, penalties, a constraint's mask). */
  private readonly choice: GpuTokenChoice;
  private readonly logitRows: number;
  /** Most key chunks of a decode step's attention (the partials buffer holds MAX_CHUNKS + 1 slots per head and token). */
  private readonly decodeChunks: number;
  /** A prompt run layer by layer: its group's residual stream between layers (made in reserve(), freed by endPrompt()). */
  private promptStream: PromptStream | null = null;
  /** What the error scopes around the constructor's allocations caught; checked by the first reserve(). */
  pendingAllocation: Promise<AllocationErrors> | null = null;
  /** Set when an allocation failed: the session's buffers cannot be trusted, so every later call fails. */
  private failure: EngineError | null = null;

  constructor(
    private readonly backend: SessionBackend,
    config: CacheConfig,
  ) {
    const s = backend.spec;
    this.spec = s;
    this.device = backend.device;
    this.cache = createGpuCache(backend, config);
    this.rope = new RopeTables(backend.memory, s);
    const mem = backend.memory;
    const B = backend.maxBatch;
    this.decodeChunks = decodeChunkLimit(backend.kernels, s.numKvHeads, B * (MAX_CHUNKS + 1));
    this.stride = { d: pad32(s.hiddenSize), q: pad32(s.numHeads * s.headDim), kv: pad32(kvDim(s)), f: pad32(s.intermediateSize) };
    // 'all' logits for a whole slice must fit one binding.
    this.logitRows = Math.max(1, Math.min(B, Math.floor(backend.maxBindingBytes / (4 * s.vocabSize))));
    const vocab = this.vocabBuffers();
    this.buf = {
      ...sliceBuffers(mem, s, B, this.stride),
      logits: vocab.logits,
      chosen: mem.create('activations', 'chosen', 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
      step: mem.create('activations', 'step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
    };
    this.readLogits = vocab.read;
    this.readIds = Array.from({ length: RUN_AHEAD }, (_, i) =>
      mem.create('staging', `chosen.read[${i}]`, 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    );
    this.choice = new GpuTokenChoice(mem, backend.kernels, s.vocabSize, this.buf.chosen);
  }

  get length(): number {
    return this.cache.length;
  }

  /** The vocabulary-sized buffers: a slice's logits and their readback. */
  private vocabBuffers(): { logits: GPUBuffer; read: GPUBuffer } {
    const bytes = this.logitRows * this.spec.vocabSize * 4;
    const mem = this.backend.memory;
    return {
      logits: mem.create('activations', 'logits', bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
      read: mem.create('staging', 'logits.read', bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    };
  }

  /**
   * While kept, hold the cache and little else: free the vocabulary-sized buffers (logits, their readback, penalty
   * counts, a token mask), a forward's working rows, the RoPE tables and the cache's decode partials.
   */
  park(): void {
    if (this.parked) return;
    const mem = this.backend.memory;
    mem.release(this.buf.logits);
    mem.release(this.readLogits);
    for (const key of SLICE_BUFFERS) mem.release(this.buf[key]);
    this.rope.release();
    this.cache.park();
    this.choice.release();
    // The dispatch lists bind the logits: built again for the new buffers.
    this.built = null;
    this.builtPrefill.clear();
    this.parked = true;
  }

  bytesPerToken(): number {
    return this.cache.bytesPerToken();
  }

  storedBytes(): number {
    return this.cache.storedBytes();
  }

  /** Whether the cache and the RoPE table already hold `tokens` positions (nothing to allocate). */
  private holds(tokens: number): boolean {
    return tokens <= this.cache.capacity && this.rope.cover(this.cache.capacity);
  }

  private ensurePositions(tokens: number): void {
    if (this.holds(tokens)) return;
    this.cache.ensure(tokens);
    this.rope.make(this.cache.capacity);
    this.built = null;
    this.builtPrefill.clear();
  }

  /**
   * Compile every kernel this session's forwards use (decode, prefill, LM head, argmax, sampling) with
   * asynchronous pipeline creation, in parallel, without running anything; returns how many were new.
   */
  async compileAll(): Promise<number> {
    const batched = (await this.reserve(2, 2)) !== 'tokens';
    const compiled = await this.backend.pipelines.compileAhead(() => {
      this.built = null;
      this.builtPrefill.clear();
      this.choice.release();
      this.build();
      this.choice.prepare(this.opContext(), this.buf.logits);
      if (batched) {
        this.buildPrefill(2);
        this.buildPrefill(this.backend.maxBatch);
      }
    });
    // The lists built while compiling hold no pipelines: the next forward builds them again.
    this.built = null;
    this.builtPrefill.clear();
    this.choice.release();
    return compiled;
  }

  private build(): NonNullable<GpuDecodeSession['built']> {
    if (this.built && this.built.generation === this.cache.generation) return this.built;
    const f = this.forwardSource();
    const sections = forwardSections(f, 1);
    this.built = {
      generation: this.cache.generation,
      decode: sectionsInOrder(sections),
      sections,
      head: { last: headDispatches(f, true), all: headDispatches(f, false) },
    };
    return this.built;
  }

  /** The prefill list for a slice of `tokens` tokens: the tiled family's GEMM tiles are 16 tokens tall for short slices. */
  private buildPrefill(tokens: number): { sections: ForwardSections; list: Dispatch[] } {
    const gemmTokens = this.backend.kernels === 'tiled' && tokens <= SHORT_GEMM_TILE ? SHORT_GEMM_TILE : GEMM_TILE;
    const key = `${this.cache.generation}/${this.cache.prefillGeneration}`;
    let built = this.builtPrefill.get(gemmTokens);
    if (built?.key !== key) {
      const sections = forwardSections(this.forwardSource(), PREFILL_TILE, gemmTokens);
      this.builtPrefill.set(gemmTokens, (built = { key, sections, list: sectionsInOrder(sections) }));
    }
    return built;
  }

  /** What this session's dispatch lists are built from (layers.ts). */
  private forwardSource(): Forward {
    return {
      ctx: this.opContext(),
      spec: this.spec,
      weights: this.backend.weights,
      buf: this.buf,
      stride: this.stride,
      cache: this.cache,
      rope: this.rope.byKind,
    };
  }

  private opContext(): OpContext {
    return {
      device: this.device,
      pipelines: this.backend.pipelines,
      step: this.buf.step,
      empty: this.backend.empty,
      workgroupBytes: this.backend.workgroupBytes,
      kernels: this.backend.kernels,
      subgroups: this.backend.subgroups,
      f16: this.backend.f16Math,
    };
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
    encodeDispatches(pass, M === 1 ? built.decode : this.buildPrefill(M).list, M, plan);
    this.encodeHead(enc, pass, M, wanted, plan, pick);
    then?.(enc);
    this.device.queue.submit([enc.finish()]);
    this.cache.length = pos0 + M;
  }

  /** Between a prompt's slices: with a checkpoint, wait for the GPU to run what was submitted, then call it (an abort lands there). */
  private async between(checkpoint?: PromptCheckpoint): Promise<void> {
    if (!checkpoint) return;
    await this.device.queue.onSubmittedWorkDone().catch((e: unknown) => this.backend.settleFailure(e));
    this.backend.checkAlive();
    checkpoint();
  }

  /** A prompt of several slices run layer by layer (layer-major.ts), ending in `pick` if any. */
  private async runLayers(ids: readonly number[], slice: number, pick: Pick | null, checkpoint?: PromptCheckpoint): Promise<void> {
    this.backend.checkAlive();
    const stream = this.promptStream;
    if (!stream) throw new Error('reserve() makes the stream of a prompt run layer by layer');
    const run: LayerMajorRun = {
      device: this.device,
      cache: this.cache,
      stream,
      layers: this.spec.numLayers,
      rowBytes: this.stride.d * 4,
      ids: this.buf.ids,
      h: this.buf.h,
      sections: (tokens) => (tokens === 1 ? this.build().sections : this.buildPrefill(tokens).sections),
      plan: (pos0, tokens) => this.cache.plan(pos0, tokens, this.decodeChunks),
      writeStep: (pos0, tokens, plan, final) => this.writeStep(pos0, tokens, final ? pick : null, plan),
      encodeHead: (enc, pass, tokens, plan) => this.encodeHead(enc, pass, tokens, 'last', plan, pick),
      between: () => this.between(checkpoint),
    };
    await runLayerMajor(run, ids, slice);
  }

  /** The LM head, then the token choice if any, ending `pass`; a choice's id is copied to its staging buffer. */
  private encodeHead(enc: GPUCommandEncoder, pass: GPUComputePassEncoder, M: number, wanted: LogitsWanted, plan: ChunkPlan, pick: Pick | null): void {
    // One token's 'all' is its 'last' (row 0): the decode list may have fused the final norm into that head.
    encodeDispatches(pass, this.build().head[M === 1 ? 'last' : wanted], M, plan);
    // A token choice rides in the same submission, and its 4 bytes are copied out with it. A choice whose log-probability
    // is wanted first copies the raw logits out, between two passes.
    if (pick) {
      const { sampler } = pick;
      let choose = pass;
      if (sampler.wantsLogits) {
        pass.end();
        enc.copyBufferToBuffer(this.buf.logits, 0, this.readLogits, 0, this.spec.vocabSize * 4);
        choose = enc.beginComputePass();
      }
      encodeDispatches(choose, this.choice.ops(this.opContext(), this.buf.logits, sampler), 1);
      choose.end();
    } else pass.end();
    if (pick) enc.copyBufferToBuffer(this.buf.chosen, 0, pick.into ?? this.readIds[0], 0, 4);
  }

  private writeStep(pos0: number, M: number, pick: Pick | null, plan: ChunkPlan = this.cache.plan(pos0, M, this.decodeChunks)): ChunkPlan {
    const step = new DataView(new ArrayBuffer(STEP_BYTES));
    [M, pos0, plan.chunks, plan.chunkLen, plan.xChunks, plan.xChunkLen, plan.firstKey].forEach((v, i) => step.setUint32(i * 4, v, true));
    step.setUint32(48, plan.rematFrom, true);
    if (pick) {
      const o = pick.sampler.options;
      step.setFloat32(28, o.minP ?? 0, true);
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
    await this.reserve(pos0 + 1);
    const built = this.build();
    const plan = this.writeStep(pos0, 1, null);
    return timeDispatchGroups(this.device, [...built.decode, ...built.head.last], plan, reps);
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
  private async reserve(tokens: number, prompt = 1, layered = false): Promise<PromptOrder> {
    if (this.pendingAllocation) {
      const first = this.pendingAllocation;
      this.pendingAllocation = null;
      const own = [...Object.values(this.buf), this.readLogits, ...this.readIds].reduce((n, b) => n + b.size, 0);
      this.settle(await first, "allocating the session's buffers", own + storedCacheBytes(this.spec, this.cache.config, this.cache.capacity));
    }
    if (this.failure) throw this.failure;
    if (this.parked) {
      const woke = scopedAllocation(this.device, () => {
        ({ logits: this.buf.logits, read: this.readLogits } = this.vocabBuffers());
        Object.assign(this.buf, sliceBuffers(this.backend.memory, this.spec, this.backend.maxBatch, this.stride));
        this.parked = false;
      });
      const bytes = [...SLICE_BUFFERS.map((k) => this.buf[k]), this.buf.logits, this.readLogits].reduce((n, b) => n + b.size, 0);
      this.settle(await woke.errors, "allocating the session's working buffers", bytes);
    }
    if (prompt <= 1 && this.holds(tokens)) return 'slices'; // most decode steps: no allocation, no error-scope round trip
    const grown = scopedAllocation(this.device, (): PromptOrder => {
      this.ensurePositions(tokens);
      // A prompt's slices start before `tokens - 1`: the quantized modes' transient rows must hold that past.
      const order = prompt <= 1 ? 'slices' : this.cache.reservePrefill(tokens - 1, prompt, layered);
      if (order === 'layers')
        this.promptStream = promptStream(this.backend.memory, prompt, this.backend.maxBatch, this.stride.d * 4, this.backend.promptStreamBytes);
      return order;
    });
    this.settle(await grown.errors, `growing the cache to ${this.cache.capacity} tokens`, storedCacheBytes(this.spec, this.cache.config, this.cache.capacity));
    return grown.value;
  }

  /** After a prompt: its transient buffers go. */
  private endPrompt(): void {
    this.cache.endPrefill();
    if (this.promptStream) this.backend.memory.release(this.promptStream.buffer);
    this.promptStream = null;
  }

  /** Tokens per slice of a prompt (1: its rows could not be bound) and its order ('all' logits: slice by slice). */
  private async reservePrompt(ids: readonly number[], wanted: LogitsWanted): Promise<{ slice: number; order: PromptOrder }> {
    const order = await this.reserve(this.cache.length + ids.length, ids.length, wanted === 'last');
    return { slice: order === 'tokens' ? 1 : this.backend.maxBatch, order };
  }

  private settle(caught: AllocationErrors, what: string, bytes: number): void {
    if (!caught.outOfMemory && !caught.invalid) return;
    this.failure = caught.outOfMemory
      ? new GpuOutOfMemoryError(`${what} failed (${caught.outOfMemory.message})`, { expected: `${bytes} bytes of GPU memory`, requested: bytes })
      : new GpuError(`${what} failed: ${caught.invalid!.message}`);
    throw this.failure;
  }

  async forward(ids: readonly number[], wanted: LogitsWanted, checkpoint?: PromptCheckpoint): Promise<Float32Array> {
    this.checkIds(ids);
    const { slice, order } = await this.reservePrompt(ids, wanted);
    try {
      if (order !== 'layers') return await this.forwardSlices(ids, wanted, slice, checkpoint);
      await this.runLayers(ids, slice, null, checkpoint);
      return await this.readLogitRows(1);
    } finally {
      this.endPrompt();
    }
  }

  private async forwardSlices(ids: readonly number[], wanted: LogitsWanted, batch: number, checkpoint?: PromptCheckpoint): Promise<Float32Array> {
    const V = this.spec.vocabSize;
    const out = new Float32Array((wanted === 'all' ? ids.length : 1) * V);
    const slice = wanted === 'all' ? Math.min(batch, this.logitRows) : batch;
    for (let at = 0; at < ids.length; at += slice) {
      if (at > 0) await this.between(checkpoint);
      const part = ids.slice(at, at + slice);
      const last = at + slice >= ids.length;
      if (wanted === 'last' && !last) {
        this.runSlice(part, 'last');
        continue;
      }
      this.runSlice(part, wanted);
      out.set(await this.readLogitRows(wanted === 'all' ? part.length : 1), wanted === 'all' ? at * V : 0);
    }
    return out;
  }

  /** The first `rows` rows of the logits buffer, read back. */
  private async readLogitRows(rows: number): Promise<Float32Array> {
    const bytes = rows * this.spec.vocabSize * 4;
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buf.logits, 0, this.readLogits, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    return new Float32Array(await this.read(this.readLogits, bytes));
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
  async next(ids: readonly number[], sampler: Sampler, checkpoint?: PromptCheckpoint): Promise<number> {
    this.checkIds(ids);
    const { slice, order } = await this.reservePrompt(ids, 'last');
    try {
      if (order === 'layers') await this.runLayers(ids, slice, { sampler, u: sampler.draw() }, checkpoint);
      for (let at = 0; order !== 'layers' && at < ids.length; at += slice) {
        if (at > 0) await this.between(checkpoint);
        const last = at + slice >= ids.length;
        this.runSlice(ids.slice(at, at + slice), 'last', last ? { sampler, u: sampler.draw() } : null);
      }
    } finally {
      this.endPrompt();
    }
    const id = this.checkChosen(new Uint32Array(await this.read(this.readIds[0], 4))[0]);
    sampler.chosen(id, await this.chosenLogits(sampler));
    return id;
  }

  /** A choice past the vocabulary: no logit compared as a number (NaN everywhere, from an overflow upstream). */
  private checkChosen(id: number): number {
    if (id < this.spec.vocabSize) return id;
    throw new GpuError(`the GPU chose no token (id ${id}): its logits were NaN, from an overflow in the forward pass; please report the model and the device`);
  }

  /** The raw logits of the step just read, when the sampler records log-probabilities. */
  private async chosenLogits(sampler: Sampler): Promise<Float32Array | undefined> {
    return sampler.wantsLogits ? new Float32Array(await this.read(this.readLogits, this.spec.vocabSize * 4)) : undefined;
  }

  /**
   * Decode from `first` (chosen, not yet run), yielding each next id. Up to RUN_AHEAD steps are in flight:
   * each step's embedding reads the id the previous step chose, on the GPU, and the ids come back through
   * a ring of staging buffers while later steps run, so the GPU does not idle for a readback per token.
   * When the consumer stops early (a stop token or string, max tokens, an abort), the steps run past what
   * it consumed are dropped from the cache (GpuCache.length). A constrained choice needs the mask that the
   * previous id leads to, and a log-probability needs its step's logits: those steps run one at a time.
   */
  async *decodeIds(first: number, sampler: Sampler, maxSteps: number): AsyncGenerator<number, void, undefined> {
    this.checkIds([first]);
    const start = this.cache.length;
    const pending: Promise<number>[] = [];
    const ahead = sampler.constraint || sampler.wantsLogits ? 1 : RUN_AHEAD;
    let submitted = 0;
    let consumed = 0;
    try {
      while (consumed < maxSteps) {
        while (submitted < maxSteps && submitted - consumed < ahead) {
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
        const id = this.checkChosen(await pending.shift()!);
        consumed++;
        sampler.chosen(id, await this.chosenLogits(sampler));
        yield id;
      }
    } finally {
      await Promise.allSettled(pending);
      this.cache.length = start + consumed;
    }
  }

  get capacity(): number {
    return this.cache.capacity;
  }

  keep(n: number): number {
    const m = this.cache.exactPrefix(n);
    this.cache.length = m;
    return m;
  }

  shift(from: number, to: number): boolean {
    checkShift(this.cache.length, from, to);
    if (this.failure) throw this.failure;
    return shiftCache(this.backend, this.cache, this.opContext(), from, to);
  }

  async save(): Promise<SessionSnapshot> {
    if (this.failure) throw this.failure;
    return saveCache(this.backend, this.cache, (buffer, bytes) => this.read(buffer, bytes));
  }

  async restore(snap: SessionSnapshot): Promise<void> {
    checkSnapshot(this.cache, snap);
    await this.reserve(Math.max(1, snap.length));
    restoreCache(this.backend, this.cache, snap);
  }

  close(): void {
    const mem = this.backend.memory;
    this.cache.destroy();
    for (const b of Object.values(this.buf)) mem.release(b);
    mem.release(this.readLogits);
    for (const b of this.readIds) mem.release(b);
    this.rope.release();
    this.choice.release();
  }
}
