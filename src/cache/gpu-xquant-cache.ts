// `xquant-B` and `xquant-cl-B` on the GPU: the cache holds only quantized X rows (or XQuant-CL deltas) in
// pages of PAGE_TOKENS tokens, one page per (block, layer), all in one pool buffer; a page table gives
// each page's word offset. With a residual window R, the newest R tokens' X waits in an f16 ring at the
// start of the pool until it leaves the window. Past K and V are never stored: xquant-attend.wgsl rematerializes them from X̂
// inside the attention kernel. The step's own tokens attend with exact K/V, as in the reference.

import type { WebGpuBackend } from '../engine/webgpu-backend';
import type { GpuMemory } from '../gpu/memory';
import { attentionOps } from '../gpu/ops/attention';
import type { Dispatch, OpContext } from '../gpu/ops/dispatch';
import { xquantAppendOps, xquantAttendOps, type XStoreLayout } from '../gpu/ops/xquant';
import type { ModelSpec } from '../model/model-spec';
import { packedWords } from '../quant/quantize';
import { cacheBytesPerToken } from './cache-bytes';
import { clBaseBits, clBaseLayers, GROUP_SIZE, layerBits, type CacheConfig } from './cache-config';
import { chunking, MAX_CHUNKS, type ChunkPlan, type GpuCache, type LayerAttention } from './gpu-cache';
import { PAGE_TOKENS } from './gpu-kv-cache';
import { quantRowWords } from './row-stores';

export class GpuXQuantCache implements GpuCache {
  length = 0;
  generation = 0;
  private readonly memory: GpuMemory;
  private readonly spec: ModelSpec;
  readonly layout: XStoreLayout;
  /** u32 words of one block (PAGE_TOKENS tokens of every layer). */
  private readonly blockWords: number;
  /** u32 words of the residual window's f16 ring at the start of the pool. */
  private readonly ringWords: number;
  private blocks = 0;
  /** Most tokens one forward runs (the backend's batch). */
  private readonly maxTokens: number;
  pool!: GPUBuffer;
  pages!: GPUBuffer;

  constructor(
    backend: WebGpuBackend,
    readonly config: CacheConfig,
  ) {
    this.memory = backend.memory;
    this.spec = backend.spec;
    this.maxTokens = backend.maxBatch;
    const L = this.spec.numLayers;
    const cl = config.mode === 'xquant-cl';
    const base = cl ? clBaseLayers(this.spec) : 0;
    const bits = Array.from({ length: L }, (_, l) => (l < base ? Math.max(clBaseBits(config), layerBits(config, l)) : layerBits(config, l)));
    const d = this.spec.hiddenSize;
    this.layout = {
      layers: L,
      page: PAGE_TOKENS,
      group: GROUP_SIZE,
      clBase: base,
      layerBits: bits,
      rowWords: bits.map((b) => quantRowWords(d, b)),
      groupWords: bits.map((b) => packedWords(GROUP_SIZE, b)),
      residual: config.residual,
      ringRowWords: Math.ceil(d / 2),
    };
    this.ringWords = L * config.residual * this.layout.ringRowWords;
    this.blockWords = this.layout.rowWords.reduce((a, w) => a + w * PAGE_TOKENS, 0);
    this.grow(1);
  }

  get capacity(): number {
    return this.blocks * PAGE_TOKENS;
  }

  bytesPerToken(): number {
    return cacheBytesPerToken(this.spec, this.config);
  }

  /** Quantized rows of the tokens out of the window, plus the window's f16 rows (as the reference counts). */
  storedBytes(): number {
    const R = this.config.residual;
    const quantized = Math.max(0, this.length - R);
    const window = this.length - quantized;
    return this.layout.rowWords.reduce((a, w) => a + quantized * w * 4 + window * this.spec.hiddenSize * 2, 0);
  }

  xPartialFloats(): number {
    return Math.max(this.maxTokens, MAX_CHUNKS) * this.spec.numHeads * (this.spec.hiddenSize + 2);
  }

  plan(pos0: number, tokens: number): ChunkPlan {
    const own = chunking(tokens);
    // The x-partial buffer holds max(maxTokens, MAX_CHUNKS) (m, head) rows of chunks.
    const fit = Math.max(1, Math.floor(Math.max(this.maxTokens, MAX_CHUNKS) / tokens));
    const past = pos0 > 0 ? chunking(pos0, Math.min(MAX_CHUNKS, fit)) : { chunks: 1, chunkLen: 1 };
    return { chunks: own.chunks, chunkLen: own.chunkLen, xChunks: past.chunks, xChunkLen: past.chunkLen };
  }

  layerOps(ctx: OpContext, a: LayerAttention): Dispatch[] {
    const s = this.spec;
    const b = { pages: this.pages, pool: this.pool };
    return [
      ...xquantAttendOps(ctx, this.layout, b, {
        layer: a.layer,
        q: a.q,
        xPartial: a.xPartial,
        partial: a.partial,
        rope: a.rope,
        wk: a.wk,
        wv: a.wv,
        bk: a.bk,
        bv: a.bv,
        d: s.hiddenSize,
        headDim: s.headDim,
        heads: s.numHeads,
        kvHeads: s.numKvHeads,
        qStride: a.qStride,
        window: s.slidingWindow ?? 0,
        maxXChunks: MAX_CHUNKS,
      }),
      ...attentionOps(ctx, {
        q: a.q,
        kCur: a.k,
        vCur: a.v,
        pages: ctx.empty,
        kPool: ctx.empty,
        vPool: ctx.empty,
        partial: a.partial,
        out: a.out,
        headDim: s.headDim,
        heads: s.numHeads,
        kvHeads: s.numKvHeads,
        qStride: a.qStride,
        kStride: a.kvStride,
        page: PAGE_TOKENS,
        kvF16: true,
        window: s.slidingWindow ?? 0,
        ownOnly: true,
      }),
      ...xquantAppendOps(ctx, this.layout, b, a.layer, a.x, s.hiddenSize, a.xStride),
    ];
  }

  ensure(tokens: number): boolean {
    if (tokens <= this.capacity) return false;
    let blocks = this.blocks;
    while (blocks * PAGE_TOKENS < tokens) blocks *= 2;
    this.grow(blocks);
    return true;
  }

  private grow(blocks: number): void {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const pool = this.memory.create('cache', 'x.pool', (this.ringWords + blocks * this.blockWords) * 4, usage);
    if (this.blocks > 0) {
      const enc = this.memory.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.pool, 0, pool, 0, (this.ringWords + this.blocks * this.blockWords) * 4);
      this.memory.device.queue.submit([enc.finish()]);
      this.memory.release(this.pool);
      this.memory.release(this.pages);
    }
    // Pages are laid out block by block, layer by layer; the table is what lets kernels not care.
    const table = new Uint32Array(blocks * this.layout.layers);
    for (let blk = 0; blk < blocks; blk++) {
      let at = this.ringWords + blk * this.blockWords;
      for (let l = 0; l < this.layout.layers; l++) {
        table[blk * this.layout.layers + l] = at;
        at += this.layout.rowWords[l] * PAGE_TOKENS;
      }
    }
    this.pool = pool;
    this.pages = this.memory.upload('cache', 'x.pages', table);
    this.blocks = blocks;
    this.generation++;
  }

  destroy(): void {
    this.memory.release(this.pool);
    this.memory.release(this.pages);
  }
}
