// A prompt's transient rows in the quantized modes: the past's K (after RoPE) and V that each 128-token slice
// rebuilds (xquant-remat.wgsl) and its queries read as fp16 prefill reads its cache, freed when the prompt is done.
// f32 rows keep the reference's numbers; past 128 MiB per side (these rows are not part of the cache budget), or
// where f32 cannot be bound, they hold f16 pairs (the fp16 cache's rounding). Rows are kept per layer where every
// layer's fit LAYER_ROWS_BYTES, so a slice rebuilds only the rows settled since the slice before. Where they do
// not, a prompt of several slices keeps one layer's rows and runs layer by layer (PromptOrder 'layers'): each
// layer rebuilds its rows once per group of slices instead of once per slice.

import { PAGE_TOKENS } from '../../cache/cache-config';
import type { GpuMemory } from '../memory';
import type { PromptOrder } from './gpu-cache';

/** The largest f32 transient rows (per side) a prompt may hold; longer pasts are rebuilt as f16 pairs. */
const F32_TRANSIENT_BYTES = 128 * 2 ** 20;
/**
 * Transient rows for every layer (K and V) up to this many bytes in all: a slice then rebuilds only the rows new
 * since the slice before. Past it a prompt of several slices keeps one layer's rows and runs layer by layer:
 * these modes are chosen to save memory, so a prompt's peak stays bounded (Llama-3.2-1B: rows per layer up to
 * 1,024 past tokens).
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
  /** Rows [0, rebuilt) still hold this layer's K/V from the slice before (per layer, or one layer run layer by layer). */
  tracked: boolean;
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
    /** Rows for every layer up to this many bytes (LAYER_ROWS_BYTES). */
    private readonly layerRowsBytes = LAYER_ROWS_BYTES,
  ) {}

  get current(): RematRowBuffers | null {
    return this.rows;
  }

  /**
   * Rows for a prompt of `prompt` tokens whose past is `pos0` tokens, the cache holding `capacity`, and the order
   * the prompt runs in ('tokens' when they cannot be bound); 'layers' only where the caller can run it (`layered`).
   */
  reserve(pos0: number, prompt: number, capacity: number, layered: boolean): PromptOrder {
    const tokens = Math.max(1, pos0);
    if (this.rows && this.rows.tokens >= tokens && !this.rows.tracked && prompt <= this.maxBatch) return 'slices';
    const row = this.rowBytes;
    const f16 = tokens * row > Math.min(this.maxBinding, F32_TRANSIENT_BYTES);
    const rowBytes = f16 ? row / 2 : row;
    const limit = f16 ? this.maxBinding : Math.min(this.maxBinding, F32_TRANSIENT_BYTES);
    if (tokens * rowBytes > limit) return 'tokens';
    this.release();
    const L = this.layers;
    const pageRoom = Math.ceil(tokens / PAGE_TOKENS) * PAGE_TOKENS;
    // Tracked rows pay off only for a prompt of several slices (a chat turn's few tokens rebuild their past once):
    // rows per layer where every layer's fit the cap, else one layer's, the prompt then running layer by layer.
    const several = prompt > this.maxBatch && pageRoom * rowBytes <= limit;
    const perLayer = several && 2 * L * pageRoom * rowBytes <= this.layerRowsBytes;
    // Layer by layer pays off for slices of several tokens (one-token slices rebuild inside the decode kernels).
    const tracked = perLayer || (several && layered && this.maxBatch > 1);
    // Shared rows get room for the whole cache (decode-sized prompts reuse them); tracked rows the prompt's past only.
    const room = tracked ? pageRoom : Math.min(Math.max(tokens, capacity), Math.floor(limit / rowBytes));
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
      tracked,
    };
    this.generation++;
    return tracked && !perLayer ? 'layers' : 'slices';
  }

  /**
   * The first past token a slice must rebuild (rows before it are the same numbers again), given its first key
   * rebuilt from the store and the tokens settled once the slice is stored; records the latter for the next slice.
   */
  rematFrom(firstKey: number, settled: number): number {
    const from = Math.min(this.rebuilt, firstKey);
    if (this.rows?.tracked) this.rebuilt = Math.min(firstKey, settled);
    return from;
  }

  /** One layer's rows, run layer by layer: the next slice's rows are another layer's, rebuilt from the start. */
  restart(): void {
    this.rebuilt = 0;
  }

  release(): void {
    if (!this.rows) return;
    for (const b of [...this.rows.k, ...this.rows.v, this.rows.pages]) this.memory.release(b);
    this.rows = null;
    this.rebuilt = 0;
    this.generation++;
  }
}
