// A prompt's transient rows in the quantized modes: the past's K (after RoPE) and V that each 128-token slice
// rebuilds (xquant-remat.wgsl) and its queries read as fp16 prefill reads its cache, freed when the prompt is done.
// f32 rows keep the reference's numbers; past 128 MiB per side (these rows are not part of the cache budget), or
// where f32 cannot be bound, they hold f16 pairs (the fp16 cache's rounding). Rows are kept per layer where every
// layer's fit LAYER_ROWS_BYTES, so a slice rebuilds only the rows settled since the slice before.

import { PAGE_TOKENS } from '../../cache/cache-config';
import type { GpuMemory } from '../memory';

/** The largest f32 transient rows (per side) a prompt may hold; longer pasts are rebuilt as f16 pairs. */
const F32_TRANSIENT_BYTES = 128 * 2 ** 20;
/**
 * Transient rows for every layer (K and V) up to this many bytes in all: a slice then rebuilds only the rows new
 * since the slice before. Past it one layer's rows serve all layers and each slice rebuilds its whole past
 * (a long prompt's rebuild work grows with its length squared): these modes are chosen to save memory, so
 * a prompt's peak stays bounded (Llama-3.2-1B: rows per layer up to 1,024 past tokens).
 */
const LAYER_ROWS_BYTES = 64 * 2 ** 20;

export interface RematRowBuffers {
  /** One per layer (perLayer), else one that every layer's slice rewrites. */
  k: GPUBuffer[];
  v: GPUBuffer[];
  /** The identity page table over the rows, for the standard attention kernels. */
  pages: GPUBuffer;
  tokens: number;
  f16: boolean;
  perLayer: boolean;
}

export class RematRows {
  private rows: RematRowBuffers | null = null;
  /**
   * Rows per layer: rows [0, rebuilt) already hold K/V rebuilt from a stored form that cannot change during this
   * prompt, so a slice rebuilds only the rows after them.
   */
  private rebuilt = 0;
  /** Changes whenever the rows are made or freed: dispatch lists that bind them are built again. */
  generation = 0;

  constructor(
    private readonly memory: GpuMemory,
    private readonly layers: number,
    /** Bytes of one token's f32 K (or V) row. */
    private readonly rowBytes: number,
    private readonly maxBinding: number,
    /** Most tokens one forward runs: a longer prompt has several slices. */
    private readonly maxBatch: number,
  ) {}

  get current(): RematRowBuffers | null {
    return this.rows;
  }

  /** Rows for a prompt of `prompt` tokens whose past is `pos0` tokens, the cache holding `capacity`; false when they cannot be bound. */
  reserve(pos0: number, prompt: number, capacity: number): boolean {
    const tokens = Math.max(1, pos0);
    if (this.rows && this.rows.tokens >= tokens) return true;
    const row = this.rowBytes;
    const f16 = tokens * row > Math.min(this.maxBinding, F32_TRANSIENT_BYTES);
    const rowBytes = f16 ? row / 2 : row;
    const limit = f16 ? this.maxBinding : Math.min(this.maxBinding, F32_TRANSIENT_BYTES);
    if (tokens * rowBytes > limit) return false;
    this.release();
    const L = this.layers;
    const pageRoom = Math.ceil(tokens / PAGE_TOKENS) * PAGE_TOKENS;
    // Rows per layer pay off only for a prompt of several slices (a chat turn's few tokens rebuild their past once).
    const perLayer = prompt > this.maxBatch && 2 * L * pageRoom * rowBytes <= LAYER_ROWS_BYTES && pageRoom * rowBytes <= limit;
    // Shared rows get room for the whole cache (decode-sized prompts reuse them); rows per layer the prompt's past only.
    const room = perLayer ? pageRoom : Math.min(Math.max(tokens, capacity), Math.floor(limit / rowBytes));
    const rows = (side: string) =>
      Array.from({ length: perLayer ? L : 1 }, (_, l) =>
        this.memory.create('activations', `transient.remat.${side}${perLayer ? `[${l}]` : ''}`, room * rowBytes, GPUBufferUsage.STORAGE, true),
      );
    const pages = Uint32Array.from({ length: Math.ceil(room / PAGE_TOKENS) }, (_, b) => b);
    this.rows = {
      k: rows('k'),
      v: rows('v'),
      pages: this.memory.upload('activations', 'transient.remat.pages', pages, 0, true),
      tokens: room,
      f16,
      perLayer,
    };
    this.generation++;
    return true;
  }

  /**
   * The first past token a slice must rebuild (rows before it are the same numbers again), given its first key
   * rebuilt from the store and the tokens settled once the slice is stored; records the latter for the next slice.
   */
  rematFrom(firstKey: number, settled: number): number {
    const from = Math.min(this.rebuilt, firstKey);
    if (this.rows?.perLayer) this.rebuilt = Math.min(firstKey, settled);
    return from;
  }

  release(): void {
    if (!this.rows) return;
    for (const b of [...this.rows.k, ...this.rows.v, this.rows.pages]) this.memory.release(b);
    this.rows = null;
    this.rebuilt = 0;
    this.generation++;
  }
}
