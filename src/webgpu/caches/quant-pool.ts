// Where the quantized GPU caches keep their rows: per layer a buffer of its fixed regions (f16 rings of
// tokens not quantized yet) followed by its pages of PAGE_TOKENS tokens, so no binding grows with the
// layer count (Qwen2.5-0.5B's 24 layers at 32K tokens in xquant-4 are ~400 MB; one layer's buffer ~17 MB).
// xquant-cl is the exception: rebuilding layer l reads the deltas of every earlier layer, so its layers
// share one buffer (fixed regions of all layers first, then per block one page per layer), and its longest
// context is what one binding holds. A page table gives every (block, layer) page's word offset in its
// buffer. Buffers double when full (old pages are copied, so offsets stay valid), never past the device's
// storage-binding limit: a context that needs more is a GpuOutOfMemoryError before anything is allocated.
// A sliding-window layer (not in xquant-cl) stops at its ring's pages: block b lives in page b mod their number.

import { GpuOutOfMemoryError } from '../../errors';
import type { GpuMemory } from '../memory';
import { PAGE_TOKENS } from '../../cache/cache-config';

export class QuantPool {
  private buffers: GPUBuffer[] = [];
  pages!: GPUBuffer;
  generation = 0;
  private blocks = 0;
  /** Words of one block (shared: every layer's page of it; per layer: the largest layer's page). */
  private readonly blockWords: number;
  /** Shared: where each layer's page starts inside a block's words. */
  private readonly layerStart: number[];
  /** Words per block of the buffers that grow with the context (0 when every layer is a ring). */
  private readonly growingWords: number;

  constructor(
    private readonly memory: GpuMemory,
    /** u32 words of the fixed regions at the start of each buffer. */
    private readonly fixedWords: number,
    /** u32 words of one layer's page. */
    private readonly pageWords: readonly number[],
    /** One buffer for all layers (xquant-cl). */
    private readonly shared: boolean,
    private readonly maxBindingBytes: number,
    /** Per layer the pages of its ring, or null where it keeps every block (per-layer buffers only). */
    private readonly ringPages: readonly (number | null)[] = pageWords.map(() => null),
  ) {
    if (shared && ringPages.some((r) => r !== null)) throw new Error('rings need a buffer per layer');
    this.blockWords = shared ? pageWords.reduce((a, w) => a + w, 0) : Math.max(...pageWords);
    this.growingWords = shared ? this.blockWords : Math.max(0, ...pageWords.filter((_, l) => ringPages[l] === null));
    this.layerStart = pageWords.map((_, l) => pageWords.slice(0, l).reduce((a, w) => a + w, 0));
    // The fixed regions (f16 rings of the residual window and of K blocks still filling) plus one page, or a whole ring.
    const first = Math.max(this.largestWords(1) * 4, ...pageWords.map((_, l) => (ringPages[l] === null ? 0 : this.layerBytes(l, Infinity))));
    if (first > maxBindingBytes) {
      throw new GpuOutOfMemoryError(
        `the cache's rings and first page need a ${first}-byte buffer${shared ? ' (xquant-cl keeps every layer in one)' : ' per layer'}; this device binds at most ${maxBindingBytes} bytes`,
        {
          field: 'residual',
          expected: 'a smaller residual window',
          requested: first,
        },
      );
    }
    this.grow(1);
  }

  get capacity(): number {
    return this.blocks * PAGE_TOKENS;
  }

  /** The buffer holding `layer`'s rows. */
  pool(layer: number): GPUBuffer {
    return this.buffers[this.shared ? 0 : layer];
  }

  /** Word offset of (block, layer)'s page in its buffer (what the page table holds). */
  pageOffset(block: number, layer: number): number {
    if (this.shared) return this.fixedWords + block * this.blockWords + this.layerStart[layer];
    const ring = this.ringPages[layer];
    return this.fixedWords + (ring === null ? block : block % ring) * this.pageWords[layer];
  }

  /** Pages of layer l's buffer when the table has `blocks` blocks (a ring's stop at its size). */
  private layerPages(l: number, blocks: number): number {
    const ring = this.ringPages[l];
    return ring === null ? blocks : Math.min(blocks, ring);
  }

  /** Bytes of layer l's buffer (per-layer buffers) at `blocks` blocks. */
  private layerBytes(l: number, blocks: number): number {
    return (this.fixedWords + this.layerPages(l, blocks) * this.pageWords[l]) * 4;
  }

  /** Each buffer's prefix that holds its fixed regions and the first `blocks` blocks' pages. */
  usedRegions(blocks: number): { buffer: GPUBuffer; bytes: number }[] {
    if (this.shared) return [{ buffer: this.buffers[0], bytes: (this.fixedWords + blocks * this.blockWords) * 4 }];
    return this.buffers.map((buffer, l) => ({ buffer, bytes: this.layerBytes(l, blocks) }));
  }

  /** The sizes that place rows in the buffers. */
  describe(): string {
    const rings = this.ringPages.some((r) => r !== null) ? `/ring${this.ringPages.map((r) => r ?? '-').join(',')}` : '';
    return `fixed${this.fixedWords}/page${this.pageWords.join(',')}/${this.shared ? 'shared' : 'per-layer'}${rings}`;
  }

  /** Words of the largest growing buffer at `blocks` blocks. */
  private largestWords(blocks: number): number {
    return this.fixedWords + blocks * (this.growingWords || this.blockWords);
  }

  ensure(tokens: number): boolean {
    if (tokens <= this.capacity) return false;
    const need = Math.ceil(tokens / PAGE_TOKENS);
    // Only the buffers of layers without rings grow with the context.
    const maxBlocks = this.growingWords > 0 ? Math.floor((this.maxBindingBytes / 4 - this.fixedWords) / this.growingWords) : Infinity;
    if (need > maxBlocks) {
      throw new GpuOutOfMemoryError(
        `a context of ${tokens} tokens needs a ${this.largestWords(need) * 4}-byte cache buffer${this.shared ? ' (xquant-cl keeps every layer in one)' : ' per layer'}; this device binds at most ${this.maxBindingBytes} bytes (${maxBlocks * PAGE_TOKENS} tokens)`,
        { field: 'context', expected: `at most ${maxBlocks * PAGE_TOKENS} tokens`, got: `${tokens} tokens`, requested: this.largestWords(need) * 4 },
      );
    }
    let blocks = this.blocks;
    while (blocks < need) blocks *= 2;
    this.grow(Math.min(blocks, maxBlocks));
    return true;
  }

  private grow(blocks: number): void {
    const layers = this.pageWords.length;
    const table = new Uint32Array(blocks * layers);
    if (this.shared) {
      const keep = (this.fixedWords + this.blocks * this.blockWords) * 4;
      this.buffers = [this.memory.grow(this.buffers[0] ?? null, 'cache', 'x.pool', (this.fixedWords + blocks * this.blockWords) * 4, keep)];
    } else {
      this.buffers = this.pageWords.map((_, l) => {
        const [had, want] = [this.layerBytes(l, this.blocks), this.layerBytes(l, blocks)];
        const old = this.buffers[l];
        return old && had === want ? old : this.memory.grow(old ?? null, 'cache', `x.pool[${l}]`, want, had);
      });
    }
    for (let b = 0; b < blocks; b++) for (let l = 0; l < layers; l++) table[b * layers + l] = this.pageOffset(b, l);
    if (this.pages) this.memory.release(this.pages);
    this.pages = this.memory.upload('cache', 'x.pages', table);
    this.blocks = blocks;
    this.generation++;
  }

  destroy(): void {
    for (const b of this.buffers) this.memory.release(b);
    this.memory.release(this.pages);
  }
}
