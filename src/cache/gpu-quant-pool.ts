// The one buffer the quantized GPU caches keep everything in: fixed regions first (f16 rings of tokens
// not quantized yet), then pages of PAGE_TOKENS tokens, one per (block, layer), each a fixed number of
// words per layer. A page table gives every page's word offset; the pool doubles when full (old pages
// are copied, so offsets stay valid).

import type { GpuMemory } from '../gpu/memory';
import { PAGE_TOKENS } from './cache-config';

export class QuantPool {
  pool!: GPUBuffer;
  pages!: GPUBuffer;
  generation = 0;
  private blocks = 0;
  private readonly blockWords: number;

  constructor(
    private readonly memory: GpuMemory,
    /** u32 words of the fixed regions at the start. */
    private readonly fixedWords: number,
    /** u32 words of one layer's page. */
    private readonly pageWords: readonly number[],
  ) {
    this.blockWords = pageWords.reduce((a, w) => a + w, 0);
    this.grow(1);
  }

  get capacity(): number {
    return this.blocks * PAGE_TOKENS;
  }

  ensure(tokens: number): boolean {
    if (tokens <= this.capacity) return false;
    let blocks = this.blocks;
    while (blocks * PAGE_TOKENS < tokens) blocks *= 2;
    this.grow(blocks);
    return true;
  }

  private grow(blocks: number): void {
    const old = this.blocks > 0 ? this.pool : null;
    const pool = this.memory.grow(old, 'cache', 'x.pool', (this.fixedWords + blocks * this.blockWords) * 4, (this.fixedWords + this.blocks * this.blockWords) * 4);
    if (old) this.memory.release(this.pages);
    const layers = this.pageWords.length;
    const table = new Uint32Array(blocks * layers);
    for (let b = 0; b < blocks; b++) {
      let at = this.fixedWords + b * this.blockWords;
      for (let l = 0; l < layers; l++) {
        table[b * layers + l] = at;
        at += this.pageWords[l];
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
