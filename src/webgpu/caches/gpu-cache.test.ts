import { describe, expect, it } from 'vitest';
import { chunking, decodeChunkLimit, MAX_CHUNKS } from './gpu-cache';

describe('key chunks of the attention split', () => {
  it('chunks hold at least 64 keys and cover every key', () => {
    expect(chunking(10)).toEqual({ chunks: 1, chunkLen: 10 });
    expect(chunking(200)).toEqual({ chunks: 3, chunkLen: 67 });
    expect(chunking(100_000)).toEqual({ chunks: MAX_CHUNKS, chunkLen: 6250 });
    expect(chunking(100_000, 400)).toEqual({ chunks: 400, chunkLen: 250 });
  });

  it('the tiled family spreads a decode step over about 512 workgroups, within the partials buffer', () => {
    expect(decodeChunkLimit('rowwise', 8, 2176)).toBe(MAX_CHUNKS);
    expect(decodeChunkLimit('tiled', 8, 2176)).toBe(64); // Llama-3.2-1B: 8 kv heads
    expect(decodeChunkLimit('tiled', 2, 2176)).toBe(256); // Qwen2.5-0.5B
    expect(decodeChunkLimit('tiled', 1, 100)).toBe(100); // a small partials buffer caps it
    expect(decodeChunkLimit('tiled', 32, 2176)).toBe(MAX_CHUNKS); // MHA: the heads alone give 512 workgroups
    // Llama-3.2-1B at 32K keys: 64 chunks of 512 keys, 8 x 64 = 512 workgroups (the rowwise family: 16 of 2,048).
    expect(chunking(32_768, decodeChunkLimit('tiled', 8, 2176))).toEqual({ chunks: 64, chunkLen: 512 });
  });
});
