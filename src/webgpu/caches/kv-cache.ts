// The KV cache on the GPU for the `f32` and `fp16` modes: post-RoPE K and V of every past token, per
// layer, in pages of PAGE_TOKENS tokens. A page table (shared by all layers) maps a token's block to its
// page in the layer's pool; fp16 values are stored as f16 pairs packed in u32, so no shader-f16 is needed.
// Pools start at one page and double when full (old pages are copied; page numbers stay valid).
// A sliding-window layer (Gemma 3's local layers, Mistral) keeps a ring instead: its window plus
// RING_SLACK_TOKENS, through a second page table that maps block b to page b mod the ring's pages. The attention
// kernels read only the keys of a query's window and take the step's own keys from its rows, so they run on a
// ring unchanged; a ring costs rollback (keep) and shift what its overwritten rows held (sliding-rings.ts).
// Its byte accounting is the reference's (cacheBytesFor), so the modes of src/cache line up.

import { GpuOutOfMemoryError, InvalidArgumentError } from '../../errors';
import { ringExactPrefix, SlidingRings } from './sliding-rings';
import type { GpuMemory } from '../memory';
import { layerAttentionOps } from '../ops/attention';
import type { Dispatch, OpContext } from '../ops/dispatch';
import { kvDim, layerWindow, type ModelSpec } from '../../model/model-spec';
import { cacheBytesPerToken, storedCacheBytes } from '../../cache/cache-bytes';
import { cacheModeName, MODE_TRAITS, PAGE_TOKENS, type CacheConfig } from '../../cache/cache-config';
import { chunking, copyRuns, MAX_CHUNKS, type ChunkPlan, type GpuCache, type LayerAttention, type PromptOrder, type ShiftIo } from './gpu-cache';

export interface LayerPools {
  k: GPUBuffer;
  v: GPUBuffer;
}

export class GpuKvCache implements GpuCache {
  readonly kvDim: number;
  readonly f16: boolean;
  private stored = 0;
  /** The sliding layers' rings; null when every layer keeps every token. */
  private readonly rings: SlidingRings | null;
  /** Block b's page in a ring: b mod the ring's pages. */
  private ringTable: GPUBuffer | null = null;
  readonly readsInput = false;
  readonly needsPreRopeK = false;
  /** Bumped whenever buffers are replaced, so bind groups that hold them are rebuilt. */
  generation = 0;
  pages!: GPUBuffer;
  pools: LayerPools[] = [];
  private pageCount = 0;

  constructor(
    private readonly memory: GpuMemory,
    private readonly spec: ModelSpec,
    readonly config: CacheConfig,
    /** The device's storage-binding limit: one layer's K (or V) pool never grows past it. */
    private readonly maxBindingBytes = Infinity,
    /** Most tokens one forward stores: a ring must hold them beside the window. */
    maxBatch = PAGE_TOKENS,
  ) {
    if (MODE_TRAITS[config.mode].quantized) {
      throw new InvalidArgumentError('a quantized mode runs in GpuQuantCache', { field: 'cache', expected: 'f32 or fp16', got: config.mode });
    }
    this.kvDim = kvDim(spec);
    this.f16 = config.mode === 'fp16';
    this.rings = SlidingRings.of(spec, config, maxBatch);
    this.grow(1);
  }

  /** Tokens stored. Setting it back drops the tokens past it; storing more overwrites a ring's oldest rows. */
  get length(): number {
    return this.stored;
  }

  set length(n: number) {
    this.rings?.stored(this.stored, n);
    this.stored = n;
  }

  /**
   * How many of the first n tokens can be kept exactly: every one, except that the token after them needs its
   * window's keys, which a ring may have overwritten since (then none: the caller re-runs the prompt).
   */
  exactPrefix(n: number): number {
    return ringExactPrefix(this.rings, this.config, this.stored, n);
  }

  /** Nothing but the cache itself. */
  park(): void {}

  get ringsHeld(): number | undefined {
    return this.rings?.heldFrom;
  }

  restored(held: number | undefined): void {
    this.rings?.restored(this.stored, held);
  }

  get capacity(): number {
    return this.pageCount * PAGE_TOKENS;
  }

  bytesPerToken(): number {
    return cacheBytesPerToken(this.spec, this.config);
  }

  storedBytes(): number {
    return storedCacheBytes(this.spec, this.config, this.stored);
  }

  readonly prefillGeneration = 0;

  /** fp16 prefill reads the cache itself: nothing transient. */
  reservePrefill(): PromptOrder {
    return 'slices';
  }

  restartRows(): void {}

  endPrefill(): void {}

  plan(pos0: number, tokens: number, decodeChunks = MAX_CHUNKS): ChunkPlan {
    return { firstKey: 0, rematFrom: 0, ...chunking(pos0 + tokens, tokens === 1 ? decodeChunks : MAX_CHUNKS), xChunks: 1, xChunkLen: 1 };
  }

  /** Pages are handed out in order: the first ceil(length / PAGE_TOKENS) pages of each pool hold the tokens (a ring: all it has). */
  savedRegions(): { buffer: GPUBuffer; bytes: number }[] {
    const pages = Math.ceil(this.stored / PAGE_TOKENS);
    return this.pools.flatMap((p, l) => {
      const bytes = Math.min(pages, this.poolPages(l)) * this.bytesPerPage;
      return [
        { buffer: p.k, bytes },
        { buffer: p.v, bytes },
      ];
    });
  }

  /**
   * Pages are in token order, so a full layer's rows are one run: moved down whole, then K turned back. A ring that
   * has wrapped holds position p at slot p mod its size: it turns by the shift as a whole (two runs), which leaves the
   * rows before `from` at other tokens' slots. So a ring shifts only when the kept tail covers the window, and then
   * holds nothing before `from`; otherwise nothing changes (false) and the caller re-runs the kept messages.
   */
  shift(from: number, to: number, io: ShiftIo): boolean {
    const moved = this.stored - to;
    const rings = this.rings;
    const wrapped = rings !== null && this.pageCount * PAGE_TOKENS > rings.tokens;
    let held = rings?.heldFrom ?? 0;
    if (rings && moved > 0 && wrapped) held = Math.max(from, held - (to - from));
    if (rings && !rings.holdsWindow(from + moved, held)) return false;
    const words = (this.kvDim * (this.f16 ? 2 : 4)) / 4;
    if (moved > 0) {
      const ringRows = wrapped ? rings.tokens : 0;
      const scratch = io.scratch(Math.max(moved, ringRows) * words * 4);
      this.pools.forEach((p, layer) => {
        const ring = wrapped && this.isRing(layer);
        for (const pool of [p.k, p.v]) {
          if (ring) {
            // New slot s holds the row at old slot (s + turn) mod size.
            const size = ringRows * words;
            const turn = ((to - from) % ringRows) * words;
            copyRuns(io.encoder, pool, scratch, [[0, 0, size]]);
            copyRuns(io.encoder, scratch, pool, [
              [turn, 0, size - turn],
              [0, size - turn, turn],
            ]);
          } else {
            copyRuns(io.encoder, pool, scratch, [[to * words, 0, moved * words]]);
            copyRuns(io.encoder, scratch, pool, [[0, from * words, moved * words]]);
          }
        }
        if (ring) io.rotateK(p.k, 0, ringRows, this.f16, layer);
        else io.rotateK(p.k, from, moved, this.f16, layer);
      });
    }
    this.stored = from + moved;
    if (rings) rings.heldFrom = held;
    return true;
  }

  snapshotLayout(): string {
    const ring = this.rings ? `/ring${this.rings.tokens}` : '';
    return `gpu-kv/${cacheModeName(this.config)}/L${this.spec.numLayers}/kv${this.kvDim}/page${PAGE_TOKENS}${ring}`;
  }

  preRopeOps(): Dispatch[] {
    return [];
  }

  layerOps(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    const pools = this.pools[a.layer];
    // The split kernel stores the step's K/V as it attends (it reads them from a.k/a.v, not the pools).
    const table = this.isRing(a.layer) && this.ringTable ? this.ringTable : this.pages;
    return layerAttentionOps(
      ctx,
      { ...s, slidingWindow: layerWindow(s, a.layer) },
      a,
      { pages: table, kPool: pools.k, vPool: pools.v, page: PAGE_TOKENS, kvF16: this.f16 },
      false,
      true,
      !a.prefill,
    );
  }

  /** Make room for `tokens` tokens in total; returns true when buffers were replaced. */
  ensure(tokens: number): boolean {
    if (tokens <= this.capacity) return false;
    const need = Math.ceil(tokens / PAGE_TOKENS);
    // Only full layers grow with the context (a ring's pool stops at its size).
    const full = this.pools.some((_, l) => !this.isRing(l));
    const maxPages = full ? Math.floor(this.maxBindingBytes / this.bytesPerPage) : Infinity;
    if (need > maxPages) {
      throw new GpuOutOfMemoryError(
        `a context of ${tokens} tokens needs ${need * this.bytesPerPage}-byte K and V buffers per layer; this device binds at most ${this.maxBindingBytes} bytes (${maxPages * PAGE_TOKENS} tokens)`,
        { field: 'context', expected: `at most ${maxPages * PAGE_TOKENS} tokens`, got: `${tokens} tokens`, requested: need * this.bytesPerPage },
      );
    }
    let pages = this.pageCount;
    while (pages < need) pages *= 2;
    this.grow(Math.min(pages, maxPages));
    return true;
  }

  private get bytesPerPage(): number {
    return PAGE_TOKENS * this.kvDim * (this.f16 ? 2 : 4);
  }

  private isRing(layer: number): boolean {
    return this.rings !== null && layerWindow(this.spec, layer) !== null;
  }

  /** Pages of layer l's pools when the table has `pages` (a ring's stop at its size). */
  private poolPages(l: number, pages = this.pageCount): number {
    return this.rings && this.isRing(l) ? Math.min(pages, this.rings.tokens / PAGE_TOKENS) : pages;
  }

  private grow(pages: number): void {
    const bytesPerPage = this.bytesPerPage;
    const old = this.pools;
    this.pools = Array.from({ length: this.spec.numLayers }, (_, l) => {
      const [had, want] = [this.poolPages(l), this.poolPages(l, pages)];
      const pool = (b: GPUBuffer | undefined, name: string) =>
        b && had === want ? b : this.memory.grow(b ?? null, 'cache', `kv.${name}[${l}]`, want * bytesPerPage, had * bytesPerPage);
      return { k: pool(old[l]?.k, 'k'), v: pool(old[l]?.v, 'v') };
    });
    // One session, so pages are handed out in order; the table is what lets kernels stay unaware of that.
    if (this.pages) this.memory.release(this.pages);
    this.pages = this.memory.upload(
      'cache',
      'kv.pages',
      Uint32Array.from({ length: pages }, (_, i) => i),
    );
    if (this.rings) {
      const ringPages = this.rings.tokens / PAGE_TOKENS;
      if (this.ringTable) this.memory.release(this.ringTable);
      this.ringTable = this.memory.upload(
        'cache',
        'kv.ring-pages',
        Uint32Array.from({ length: pages }, (_, i) => i % ringPages),
      );
    }
    this.pageCount = pages;
    this.generation++;
  }

  destroy(): void {
    for (const p of this.pools) {
      this.memory.release(p.k);
      this.memory.release(p.v);
    }
    this.memory.release(this.pages);
    if (this.ringTable) this.memory.release(this.ringTable);
    this.pools = [];
  }
}
