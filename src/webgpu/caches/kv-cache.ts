// The KV cache on the GPU for the `f32` and `fp16` modes: post-RoPE K and V of every past token, per
// layer, in pages of PAGE_TOKENS tokens. A page table (shared by all layers) maps a token's block to its
// page in the layer's pool; fp16 values are stored as f16 pairs packed in u32, so no shader-f16 is needed.
// Pools start at one page and double when full (old pages are copied; page numbers stay valid).
// Its byte accounting is the reference's (cacheBytesPerToken), so the modes of src/cache line up.

import { GpuOutOfMemoryError, InvalidArgumentError } from '../../errors';
import type { GpuMemory } from '../memory';
import { layerAttentionOps } from '../ops/attention';
import type { Dispatch, OpContext } from '../ops/dispatch';
import { kvDim, layerWindow, type ModelSpec } from '../../model/model-spec';
import { cacheBytesPerToken } from '../../cache/cache-bytes';
import { cacheModeName, MODE_TRAITS, PAGE_TOKENS, type CacheConfig } from '../../cache/cache-config';
import { chunking, copyRuns, MAX_CHUNKS, type ChunkPlan, type GpuCache, type LayerAttention, type ShiftIo } from './gpu-cache';

export interface LayerPools {
  k: GPUBuffer;
  v: GPUBuffer;
}

export class GpuKvCache implements GpuCache {
  readonly kvDim: number;
  readonly f16: boolean;
  /** Tokens stored. */
  length = 0;
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
  ) {
    if (MODE_TRAITS[config.mode].quantized) {
      throw new InvalidArgumentError('a quantized mode runs in GpuQuantCache', { field: 'cache', expected: 'f32 or fp16', got: config.mode });
    }
    this.kvDim = kvDim(spec);
    this.f16 = config.mode === 'fp16';
    this.grow(1);
  }

  get capacity(): number {
    return this.pageCount * PAGE_TOKENS;
  }

  bytesPerToken(): number {
    return cacheBytesPerToken(this.spec, this.config);
  }

  storedBytes(): number {
    return this.length * this.bytesPerToken();
  }

  readonly prefillGeneration = 0;

  /** fp16 prefill reads the cache itself: nothing transient. */
  reservePrefill(): boolean {
    return true;
  }

  endPrefill(): void {}

  plan(pos0: number, tokens: number, decodeChunks = MAX_CHUNKS): ChunkPlan {
    return { firstKey: 0, rematFrom: 0, ...chunking(pos0 + tokens, tokens === 1 ? decodeChunks : MAX_CHUNKS), xChunks: 1, xChunkLen: 1 };
  }

  /** Pages are handed out in order: the first ceil(length / PAGE_TOKENS) pages of each pool hold the tokens. */
  savedRegions(): { buffer: GPUBuffer; bytes: number }[] {
    const bytes = Math.ceil(this.length / PAGE_TOKENS) * this.bytesPerPage;
    return this.pools.flatMap((p) => [
      { buffer: p.k, bytes },
      { buffer: p.v, bytes },
    ]);
  }

  /** Pages are in token order, so a layer's rows are one run: moved down whole, then K turned back. */
  shift(from: number, to: number, io: ShiftIo): boolean {
    const moved = this.length - to;
    const words = (this.kvDim * (this.f16 ? 2 : 4)) / 4;
    if (moved > 0) {
      const scratch = io.scratch(moved * words * 4);
      this.pools.forEach((p, layer) => {
        for (const pool of [p.k, p.v]) {
          copyRuns(io.encoder, pool, scratch, [[to * words, 0, moved * words]]);
          copyRuns(io.encoder, scratch, pool, [[0, from * words, moved * words]]);
        }
        io.rotateK(p.k, from, moved, this.f16, layer);
      });
    }
    this.length = from + moved;
    return true;
  }

  snapshotLayout(): string {
    return `gpu-kv/${cacheModeName(this.config)}/L${this.spec.numLayers}/kv${this.kvDim}/page${PAGE_TOKENS}`;
  }

  preRopeOps(): Dispatch[] {
    return [];
  }

  layerOps(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    const pools = this.pools[a.layer];
    // The split kernel stores the step's K/V as it attends (it reads them from a.k/a.v, not the pools).
    return layerAttentionOps(
      ctx,
      { ...s, slidingWindow: layerWindow(s, a.layer) },
      a,
      { pages: this.pages, kPool: pools.k, vPool: pools.v, page: PAGE_TOKENS, kvF16: this.f16 },
      false,
      true,
      !a.prefill,
    );
  }

  /** Make room for `tokens` tokens in total; returns true when buffers were replaced. */
  ensure(tokens: number): boolean {
    if (tokens <= this.capacity) return false;
    const need = Math.ceil(tokens / PAGE_TOKENS);
    const maxPages = Math.floor(this.maxBindingBytes / this.bytesPerPage);
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

  private grow(pages: number): void {
    const bytesPerPage = this.bytesPerPage;
    const keep = this.pageCount * bytesPerPage;
    const old = this.pools;
    this.pools = Array.from({ length: this.spec.numLayers }, (_, l) => ({
      k: this.memory.grow(old[l]?.k ?? null, 'cache', `kv.k[${l}]`, pages * bytesPerPage, keep),
      v: this.memory.grow(old[l]?.v ?? null, 'cache', `kv.v[${l}]`, pages * bytesPerPage, keep),
    }));
    // One session, so pages are handed out in order; the table is what lets kernels stay unaware of that.
    if (this.pages) this.memory.release(this.pages);
    this.pages = this.memory.upload(
      'cache',
      'kv.pages',
      Uint32Array.from({ length: pages }, (_, i) => i),
    );
    this.pageCount = pages;
    this.generation++;
  }

  destroy(): void {
    for (const p of this.pools) {
      this.memory.release(p.k);
      this.memory.release(p.v);
    }
    this.memory.release(this.pages);
    this.pools = [];
  }
}
