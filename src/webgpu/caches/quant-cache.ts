// The quantized cache modes on the GPU. Everything lives in a QuantPool (a buffer per layer; one shared
// buffer for xquant-cl): f16 rings for tokens not quantized yet (residual window; kivi / xquant-gqa K blocks
// still filling), then pages of PAGE_TOKENS tokens per (block, layer). Past K and V are never stored. Decode rebuilds K tile by tile inside the
// attention kernels and absorbs V (xquant-scores / xquant-absorb / xquant-values.wgsl; xquant-cl first sums each delta
// layer's X̂ once into f32 rows, xquant-cl-rows.wgsl, where they fit SUMMED_ROWS_BYTES); a prompt slice
// rebuilds the past's K and V into transient rows (xquant-remat.wgsl), which the slice's queries read as
// fp16 prefill reads its cache, and which are freed after the prompt. Rows are kept per layer where they fit
// LAYER_ROWS_BYTES (64 MiB, remat-rows.ts), so each slice rebuilds only the rows settled since the slice before. The step's own tokens
// attend with exact K/V, as in the reference. Byte accounting is the reference's.
//
//   xquant-B, xquant-cl-B: per-token rows of X (or XQuant-CL deltas); K = X̂ W_kᵀ + b_k, V = X̂ W_vᵀ + b_v.
//   kivi-B:       pre-RoPE K per channel over 128-token blocks, V per token; the rows are K and V.
//   xquant-gqa-B: the latents X·U_k (per channel) and X·U_v (per token), with K = latent · Σ_k B_kᵀ + b_k.
// A tiered cache (config.hot = H) also keeps the newest H tokens' fp16 K/V, so decode rematerializes only
// the older ones (beyond the paper; H = 0 is pure XQuant).
// A sliding-window layer (Gemma 3's local layers, Mistral) keeps its pages as a ring (QuantPool, sliding-rings.ts),
// except in xquant-cl, whose global layers read every earlier layer's deltas. The rebuilding kernels (decode's and a
// prompt slice's) start at the first query's window.

import { GpuOutOfMemoryError } from '../../errors';
import type { GpuMatrix } from '../gpu-matrix';
import type { GpuMemory } from '../memory';
import { layerAttentionOps } from '../ops/attention';
import type { Dispatch, OpContext } from '../ops/dispatch';
import { kvAppendOp } from '../ops/kv-append';
import { linearOps } from '../ops/linear';
import {
  attendOps,
  clRowsOp,
  hotGatherOp,
  kCommitOp,
  kRingOp,
  rematOps,
  rowAppendOps,
  type RematSides,
  type StoreBuffers,
  type StoreLayout,
} from '../ops/xquant';
import { kvDim, layerWindow, type ModelSpec } from '../../model/model-spec';
import { packedWords } from '../../quant/quantize';
import { pad32 } from '../../quant/weight-format';
import { cacheBytesPerToken, fp16KvBytesPerToken, ringTokens } from '../../cache/cache-bytes';
import { SUMMED_ROWS_BYTES } from '../../cache/cache-cost';
import {
  cacheModeName,
  clBaseBits,
  clBaseLayers,
  GROUP_SIZE,
  hotRingTokens,
  layerBits,
  MODE_TRAITS,
  PAGE_TOKENS,
  type CacheConfig,
} from '../../cache/cache-config';
import { chunking, OVERSHOOT_TOKENS, xChunkLimit, type ChunkPlan, type GpuCache, type LayerAttention, type PromptOrder, type ShiftIo } from './gpu-cache';
import { canShift } from '../../cache/keep';
import { QuantPool } from './quant-pool';
import { RematRows } from './remat-rows';
import { kReformBytes, moveRingRows, ringRuns, shiftStore } from './quant-shift';
import { ringExactPrefix, shiftedHeld, SlidingRings } from './sliding-rings';
import { gpuLatents, type GpuLatents } from './gpu-latents';
import { quantRowWords } from '../../cache/row-layout';
import type { CacheHost } from './cache-host';
import { rematShapes } from '../workgroup-memory';
import { absorbTiling, rematTiling, scoresTiling } from '../ops/xquant-tiling';

/** A mode whose kernels cannot fit the device's workgroup memory fails here, when the session is made. */
function checkWorkgroupFit(spec: ModelSpec, config: CacheConfig, limit: number): void {
  const shape = rematShapes(spec)[MODE_TRAITS[config.mode].stores];
  if (!shape) return;
  scoresTiling(shape, limit);
  absorbTiling(shape, limit);
  rematTiling(shape.kWidth, shape.identityK, shape, limit);
  rematTiling(shape.vWidth, shape.identityV, shape, limit);
}

/**
 * Steps run past a stop can be dropped (GpuCache.length): every store and commit kernel decides from the
 * step's positions alone, and re-running a position rewrites what it wrote; the rings keep OVERSHOOT_TOKENS
 * spare slots (an early block commit is redone from the ring when its position comes again), and the tiered
 * cache's hot ring holds one page more than its H tokens.
 */
export class GpuQuantCache implements GpuCache {
  private stored = 0;
  /** The sliding layers' rings; null when every layer keeps every token. */
  private readonly rings: SlidingRings | null;
  /** xquant and xquant-cl store X, xquant-gqa projects it; kivi stores K and V only. */
  readonly readsInput: boolean;
  readonly needsPreRopeK: boolean;
  readonly layout: StoreLayout;
  private readonly memory: GpuMemory;
  private readonly spec: ModelSpec;
  private readonly store: QuantPool;
  private readonly maxTokens: number;
  /** Width of the per-token rows: X (hidden) or the V side (kv width). */
  private readonly rowWidth: number;
  private readonly latents: GpuLatents[] | null;
  /** xquant-gqa: this step's latents X·U_k and X·U_v (freed while parked, made by ensure()). */
  private zk: GPUBuffer | null = null;
  private zv: GPUBuffer | null = null;
  /** Tiered cache: fp16 K/V of the newest `hot` tokens per layer, a ring addressed through a page table. */
  private readonly hot: number;
  /** Tokens the hot ring holds (hotRingTokens: `hot` plus a spare page). */
  private readonly hotRing: number;
  private readonly hotPools: { k: GPUBuffer; v: GPUBuffer }[] = [];
  private hotPages: GPUBuffer | null = null;
  /** Per layer the uniform with its index, bound to every store and attend kernel of that layer. */
  private readonly layerParams: GPUBuffer[];
  /**
   * Decode: per (head, past chunk) the (max, sum, Σ p·row) of the rebuilding attention, then from
   * scoresBase the scaled score of every past token and head (xquant-scores → xquant-absorb → xquant-values).
   * One buffer, so each kernel stays within 8 storage bindings.
   */
  private xPartial: GPUBuffer | null = null;
  private readonly scoresBase: number;
  /** XQuant-CL decode: the current layer's X̂ of every past token (clRowsOp), where it fits `summedBytes`; made by ensure(). */
  private summed: GPUBuffer | null = null;
  private readonly summedBytes: number;
  /** Most chunks a decode step splits the past tokens into (xChunkLimit). */
  private readonly maxXChunks: number;
  /** Prefill: the past's K (after RoPE) and V rebuilt per slice (remat-rows.ts). */
  private readonly remat: RematRows;
  private readonly maxBinding: number;

  constructor(
    host: CacheHost,
    readonly config: CacheConfig,
  ) {
    this.memory = host.memory;
    this.maxBinding = host.maxBindingBytes;
    this.summedBytes = Math.min(host.maxBindingBytes, host.clRowsBytes ?? SUMMED_ROWS_BYTES);
    this.spec = host.spec;
    checkWorkgroupFit(host.spec, config, host.workgroupBytes);
    this.maxTokens = host.maxBatch;
    this.remat = new RematRows(this.memory, host.spec.numLayers, kvDim(host.spec) * 4, host.maxBindingBytes, host.maxBatch, host.layerRowsBytes);
    const s = this.spec;
    const L = s.numLayers;
    const kv = kvDim(s);
    const R = config.residual;
    const traits = MODE_TRAITS[config.mode];
    const base = traits.crossLayer ? clBaseLayers(s) : 0;
    const bits = Array.from({ length: L }, (_, l) => (l < base ? Math.max(clBaseBits(config), layerBits(config, l)) : layerBits(config, l)));
    this.rowWidth = traits.stores === 'x' ? s.hiddenSize : kv;
    this.maxXChunks = xChunkLimit(host.kernels, s.numHeads, s.numKvHeads, this.rowWidth);
    this.scoresBase = this.maxXChunks * s.numHeads * (this.rowWidth + 2);
    const rowWords = bits.map((b) => quantRowWords(this.rowWidth, b));
    const ringRowWords = Math.ceil(this.rowWidth / 2);
    let fixed = 0;
    let k: StoreLayout['k'];
    let kBlockWords = bits.map(() => 0);
    if (traits.kBlocks) {
      // K blocks still filling: up to PAGE - 1 committed-pending tokens, the window, one batch, and the overshoot.
      const ring = PAGE_TOKENS + R + this.maxTokens + OVERSHOOT_TOKENS;
      k = { width: kv, ring, ringBase: 0, ringRowWords: Math.ceil(kv / 2), groupWords: bits.map((b) => packedWords(PAGE_TOKENS, b)) };
      kBlockWords = bits.map((b) => kv * (1 + packedWords(PAGE_TOKENS, b)));
      fixed = ring * k.ringRowWords;
    }
    // Every layer has its own buffer (rings first), except xquant-cl's, which all layers share.
    const shared = traits.crossLayer;
    const ringBase = fixed;
    const ringSlots = R > 0 ? R + OVERSHOOT_TOKENS : 0;
    fixed += (shared ? L : 1) * ringSlots * ringRowWords;
    this.layout = {
      layers: L,
      page: PAGE_TOKENS,
      group: GROUP_SIZE,
      clBase: base,
      layerBits: bits,
      rowWords,
      rowOffset: kBlockWords,
      groupWords: bits.map((b) => packedWords(GROUP_SIZE, b)),
      residual: R,
      ringSlots,
      ringBase,
      ringStride: shared ? ringSlots : 0,
      ringRowWords,
      k,
    };
    this.hot = config.hot ?? 0;
    this.hotRing = hotRingTokens(this.hot);
    if (this.hotRing * kv * 2 > this.maxBinding) {
      const most = Math.max(0, Math.floor(this.maxBinding / (kv * 2) / PAGE_TOKENS - 1) * PAGE_TOKENS);
      throw new GpuOutOfMemoryError(
        `a hot tier of ${this.hot} tokens needs ${this.hotRing * kv * 2}-byte K and V rings per layer; this device binds at most ${this.maxBinding} bytes`,
        {
          field: 'hot',
          expected: `at most ${most} tokens`,
          got: `${this.hot} tokens`,
          requested: this.hotRing * kv * 2,
        },
      );
    }
    this.rings = SlidingRings.of(s, config, this.maxTokens);
    // Checked (above and in QuantPool) before anything is allocated: a throw here leaves nothing behind.
    this.store = new QuantPool(
      this.memory,
      fixed,
      rowWords.map((w, l) => kBlockWords[l] + w * PAGE_TOKENS),
      shared,
      this.maxBinding,
      bits.map((_, l) => {
        const ring = ringTokens(s, config, l);
        return ring === null ? null : ring / PAGE_TOKENS;
      }),
    );
    this.layerParams = Array.from({ length: L }, (_, l) => {
      const buffer = this.memory.create('activations', `layer[${l}]`, 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.memory.device.queue.writeBuffer(buffer, 0, new Uint32Array([l, 0, 0, 0]));
      return buffer;
    });
    if (this.hot > 0) {
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      for (let l = 0; l < L; l++) {
        this.hotPools.push({
          k: this.memory.create('cache', `kv.hot.k[${l}]`, this.hotRing * kv * 2, usage),
          v: this.memory.create('cache', `kv.hot.v[${l}]`, this.hotRing * kv * 2, usage),
        });
      }
      this.writeHotPages();
    }
    this.latents = traits.latents ? gpuLatents(host) : null;
    this.readsInput = traits.stores !== 'kv';
    this.needsPreRopeK = traits.preRopeK;
    this.makeLatentRows();
  }

  /** xquant-gqa's rows of this step's latents (maxBatch tokens of the kv width, each side). */
  private makeLatentRows(): void {
    if (!this.latents || this.zk) return;
    const rows = Math.ceil(this.maxTokens / 4) * 4;
    const bytes = rows * pad32(kvDim(this.spec)) * 4;
    this.zk = this.memory.create('activations', 'latent.k', bytes, GPUBufferUsage.STORAGE);
    this.zv = this.memory.create('activations', 'latent.v', bytes, GPUBufferUsage.STORAGE);
  }

  get generation(): number {
    return this.store.generation;
  }

  /** Tokens stored. Setting it back drops the tokens past it; storing more overwrites a ring's oldest rows. */
  get length(): number {
    return this.stored;
  }

  set length(n: number) {
    this.rings?.stored(this.stored, n);
    this.stored = n;
  }

  get capacity(): number {
    return this.store.capacity;
  }

  ensure(tokens: number): boolean {
    const grew = this.store.ensure(tokens);
    if (grew && this.hot > 0) this.writeHotPages();
    this.makeLatentRows();
    if (grew || !this.xPartial) {
      if (this.xPartial) this.memory.release(this.xPartial);
      this.xPartial = this.memory.create('activations', 'attn.x-partial', (this.scoresBase + this.capacity * this.spec.numHeads) * 4, GPUBufferUsage.STORAGE);
    }
    const summed = this.layout.clBase > 0 ? this.capacity * this.spec.hiddenSize * 4 : 0;
    if (grew || (!this.summed && summed > 0)) {
      if (this.summed) this.memory.release(this.summed);
      this.summed = summed > 0 && summed <= this.summedBytes ? this.memory.create('activations', 'x.summed', summed, GPUBufferUsage.STORAGE) : null;
    }
    return grew;
  }

  get prefillGeneration(): number {
    return this.remat.generation;
  }

  reservePrefill(pos0: number, prompt: number, layered: boolean): PromptOrder {
    return this.remat.reserve(pos0, prompt, this.capacity, layered);
  }

  restartRows(): void {
    this.remat.restart();
  }

  endPrefill(): void {
    this.remat.release();
  }

  /**
   * Leading tokens whose stored form is final once `n` tokens are stored: rows older than the residual window
   * are quantized for good, and a K block (kivi, xquant-gqa) once committed. Younger rows still sit in f16 rings
   * and are requantized later, so their rebuilt K/V would change.
   */
  private settledTokens(n: number): number {
    const quantized = Math.max(0, n - this.config.residual);
    return this.layout.k ? Math.floor(quantized / PAGE_TOKENS) * PAGE_TOKENS : quantized;
  }

  /** Block b of the hot tier lives in ring page b mod (hot / PAGE_TOKENS + 1). */
  private writeHotPages(): void {
    if (this.hotPages) this.memory.release(this.hotPages);
    const ring = this.hotRing / PAGE_TOKENS;
    this.hotPages = this.memory.upload(
      'cache',
      'kv.hot.pages',
      Uint32Array.from({ length: this.capacity / PAGE_TOKENS }, (_, b) => b % ring),
    );
  }

  bytesPerToken(): number {
    return cacheBytesPerToken(this.spec, this.config);
  }

  /** What the reference counts: quantized rows and groups, plus the f16 rows still waiting; a ring's layer holds its ring's. */
  storedBytes(): number {
    const n = this.length;
    const R = this.config.residual;
    const quantized = Math.max(0, n - R);
    const held = (l: number, tokens: number) => Math.min(tokens, ringTokens(this.spec, this.config, l) ?? Infinity);
    let total = 0;
    this.layout.rowWords.forEach((w, l) => (total += held(l, quantized) * w * 4 + (n - quantized) * this.rowWidth * 2));
    total += Math.min(n, this.hot) * fp16KvBytesPerToken(this.spec);
    if (this.layout.k) {
      const k = this.layout.k;
      const committed = Math.floor(quantized / PAGE_TOKENS) * PAGE_TOKENS;
      this.layout.layerBits.forEach(
        (_, l) => (total += (held(l, committed) / PAGE_TOKENS) * k.width * (1 + k.groupWords[l]) * 4 + (n - committed) * k.width * 2),
      );
    }
    return total;
  }

  /** The pool's rings and used pages, then the hot tier's rings whole. */
  savedRegions(): { buffer: GPUBuffer; bytes: number }[] {
    const hot = this.hotPools.flatMap((p) => [
      { buffer: p.k, bytes: p.k.size },
      { buffer: p.v, bytes: p.v.size },
    ]);
    return [...this.store.usedRegions(Math.ceil(this.length / PAGE_TOKENS)), ...hot];
  }

  /**
   * Drop tokens [from, to) where canShift allows (quant-shift.ts says what moves). The hot tier's K/V rows of the kept
   * tail move to their new slots and K, stored after RoPE, is turned back by the shift. A sliding layer's ring maps
   * positions to slots mod its size, so the same copies serve it; what it holds after them is shiftedHeld's, and a cut
   * that leaves it without the next query's window is refused (false, nothing changed), as is any cut of K blocks kept
   * in page rings (re-formed blocks would mix in tokens the ring no longer holds) or one whose re-formed K side passes
   * a binding.
   */
  shift(from: number, to: number, io: ShiftIo): boolean {
    const len = this.length;
    if (!canShift(this.config, len, to)) return false;
    const moved = len - to;
    if (this.layout.k && (this.rings || kReformBytes(this.layout, from, len, to) > this.maxBinding)) return false;
    const held = this.rings ? shiftedHeld(this.rings.heldFrom, this.rings.tokens, from, to, moved) : 0;
    if (this.rings && !this.rings.holdsWindow(from + moved, held)) return false;
    shiftStore(io, this.layout, this.store, this.storeBuffers(), from, to, len);
    const newLength = from + moved;
    const hot = Math.min(this.hot, newLength);
    const words = kvDim(this.spec) / 2;
    this.hotPools.forEach((p, l) => {
      for (const pool of [p.k, p.v]) moveRingRows(io, pool, 0, words, this.hotRing, newLength - hot, hot, to - from);
      for (const [slot, n] of ringRuns(newLength - hot, hot, this.hotRing)) io.rotateK(p.k, slot, n, true, l);
    });
    this.length = newLength;
    if (this.rings) this.rings.heldFrom = held;
    return true;
  }

  exactPrefix(n: number): number {
    return ringExactPrefix(this.rings, this.config, this.length, n);
  }

  /** The decode partials (capacity-sized) and xquant-gqa's latent rows go; ensure() makes them again. */
  park(): void {
    for (const b of [this.xPartial, this.zk, this.zv, this.summed]) if (b) this.memory.release(b);
    this.xPartial = this.zk = this.zv = this.summed = null;
  }

  get ringsHeld(): number | undefined {
    return this.rings?.heldFrom;
  }

  /** A snapshot holds every token's stored form, as the cache did, and how far back its rings are whole. */
  restored(held: number | undefined): void {
    this.rings?.restored(this.length, held);
  }

  snapshotLayout(): string {
    return `gpu-quant/${cacheModeName(this.config)}/L${this.spec.numLayers}/${this.store.describe()}/hot${this.hotRing}`;
  }

  plan(pos0: number, tokens: number): ChunkPlan {
    // Keys from firstKey on have K/V at hand: the hot tier's fp16 and the step's own exact K/V.
    const firstKey = Math.max(0, pos0 - this.hot);
    if (tokens > 1) {
      // Prefill: every key through the standard attention, older ones from the transient rows, of which only
      // those past the previous slice's settled ones are rebuilt (the rest are the same numbers again).
      const rematFrom = this.remat.rematFrom(firstKey, this.settledTokens(pos0));
      return { firstKey, rematFrom, ...chunking(pos0 + tokens), xChunks: 1, xChunkLen: 1 };
    }
    const own = chunking(pos0 + tokens - firstKey);
    const past = firstKey > 0 ? chunking(firstKey, this.maxXChunks) : { chunks: 1, chunkLen: 1 };
    return { firstKey, rematFrom: 0, chunks: own.chunks, chunkLen: own.chunkLen, xChunks: past.chunks, xChunkLen: past.chunkLen };
  }

  /** kivi: K enters its ring before RoPE; xquant-gqa: the latents are computed, K's into its ring. */
  preRopeOps(ctx: OpContext, a: LayerAttention): Dispatch[] {
    if (!this.layout.k) return [];
    const b = this.storeBuffers();
    const kvStride = pad32(kvDim(this.spec));
    if (!this.latents) return [kRingOp(ctx, this.layout, b, a.layer, a.k, a.kvStride)];
    const lat = this.latents[a.layer];
    const lin = (m: GpuMatrix, y: GPUBuffer) =>
      linearOps(ctx, 'latent', m, { x: a.x, y, bias: null, xStride: a.xStride, yStride: kvStride, tileM: 4, accumulate: false, lastOnly: false });
    return [...lin(lat.downK, this.zk!), ...lin(lat.downV, this.zv!), kRingOp(ctx, this.layout, b, a.layer, this.zk!, kvStride)];
  }

  private storeBuffers(): StoreBuffers {
    return { pages: this.store.pages, pool: (layer) => this.store.pool(layer), layerParams: this.layerParams };
  }

  /** What K and V are made of in this mode, for the rebuilding kernels. */
  private sides(a: LayerAttention): RematSides {
    const s = this.spec;
    const lat = this.latents?.[a.layer];
    const kivi = MODE_TRAITS[this.config.mode].stores === 'kv';
    return {
      layer: a.layer,
      rope: a.rope,
      kMatrix: kivi ? null : (lat?.upK ?? a.wk),
      kBias: kivi ? null : a.bk,
      // kivi stores K after the norm; a K rebuilt from X (or latents) is normed as it is rebuilt.
      kNorm: kivi || !a.kNorm ? null : { gamma: a.kNorm, eps: a.normEps },
      vMatrix: kivi ? null : (lat?.upV ?? a.wv),
      vBias: kivi ? null : a.bv,
      kWidth: this.layout.k?.width ?? s.hiddenSize,
      vWidth: this.rowWidth,
      headDim: s.headDim,
      heads: s.numHeads,
      kvHeads: s.numKvHeads,
    };
  }

  private decodeAttention(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    let b = this.storeBuffers();
    let layout = this.layout;
    const rows: Dispatch[] = [];
    const summed = this.summed;
    if (summed && a.layer >= layout.clBase) {
      // XQuant-CL: the layer's X̂ summed once, then read by the attend kernels through their pool binding.
      rows.push(clRowsOp(ctx, layout, b, a.layer, summed, s.hiddenSize, layerWindow(s, a.layer) ?? 0));
      layout = { ...layout, summedStride: s.hiddenSize };
      b = { ...b, pool: () => summed };
    }
    return [
      ...rows,
      ...attendOps(ctx, layout, b, {
        ...this.sides(a),
        q: a.q,
        xPartial: this.xPartial!,
        scoresBase: this.scoresBase,
        partial: a.partial,
        window: layerWindow(s, a.layer) ?? 0,
        maxXChunks: this.maxXChunks,
      }),
      ...layerAttentionOps(
        ctx,
        { ...s, slidingWindow: layerWindow(s, a.layer) },
        a,
        {
          pages: this.hotPages ?? ctx.empty,
          kPool: this.hotPools[a.layer]?.k ?? ctx.empty,
          vPool: this.hotPools[a.layer]?.v ?? ctx.empty,
          page: PAGE_TOKENS,
          kvF16: true,
        },
        true,
      ),
    ];
  }

  private prefillAttention(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    const t = this.remat.current;
    if (!t) throw new Error('reservePrefill must run before a prefill list is built');
    const b = this.storeBuffers();
    const rows = { k: t.k[t.perLayer ? a.layer : 0], v: t.v[t.perLayer ? a.layer : 0] };
    const out = rematOps(ctx, this.layout, b, { ...this.sides(a), outK: rows.k, outV: rows.v, f16: t.f16, window: layerWindow(s, a.layer) ?? 0 });
    if (this.hot > 0) {
      const pools = this.hotPools[a.layer];
      out.push(
        hotGatherOp(ctx, {
          pages: this.hotPages!,
          kPool: pools.k,
          vPool: pools.v,
          outK: rows.k,
          outV: rows.v,
          kvDim: kvDim(s),
          page: PAGE_TOKENS,
          f16: t.f16,
          hot: this.hot,
        }),
      );
    }
    out.push(
      ...layerAttentionOps(
        ctx,
        { ...s, slidingWindow: layerWindow(s, a.layer) },
        a,
        { pages: t.pages, kPool: rows.k, vPool: rows.v, page: PAGE_TOKENS, kvF16: t.f16 },
        false,
      ),
    );
    return out;
  }

  layerOps(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    const b = this.storeBuffers();
    const out = a.prefill ? this.prefillAttention(ctx, a) : this.decodeAttention(ctx, a);
    if (this.hot > 0) {
      const pools = this.hotPools[a.layer];
      out.push(
        kvAppendOp(ctx, {
          k: a.k,
          v: a.v,
          pages: this.hotPages!,
          kPool: pools.k,
          vPool: pools.v,
          kvDim: kvDim(s),
          kStride: a.kvStride,
          page: PAGE_TOKENS,
          kvF16: true,
          ring: this.hotRing,
        }),
      );
    }
    if (this.layout.k) out.push(kCommitOp(ctx, this.layout, b, a.layer));
    const rowSource = this.layout.k ? (this.zv ?? a.v) : a.x;
    const rowStride = this.layout.k ? (this.zv ? pad32(kvDim(s)) : a.kvStride) : a.xStride;
    out.push(...rowAppendOps(ctx, this.layout, b, a.layer, rowSource, this.rowWidth, rowStride));
    return out;
  }

  destroy(): void {
    this.store.destroy();
    for (const b of this.layerParams) this.memory.release(b);
    for (const p of this.hotPools) {
      this.memory.release(p.k);
      this.memory.release(p.v);
    }
    if (this.hotPages) this.memory.release(this.hotPages);
    if (this.zk) this.memory.release(this.zk);
    if (this.zv) this.memory.release(this.zv);
    if (this.xPartial) this.memory.release(this.xPartial);
    if (this.summed) this.memory.release(this.summed);
    this.endPrefill();
  }
}
