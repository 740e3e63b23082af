import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { writeGguf, type GgufTensorData } from '../test-support/gguf-writer';
import { sharedPath } from '../test-support/shared-models';
import { MemoryFileSource } from './file-source';
import { parseGgufHeader, readGgufHeader, type GgufValue } from './gguf';

const STORIES_GGUF = sharedPath('models/stories260K/original/stories260K.gguf');

function errorOf(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

const small = (meta: [string, GgufValue][] = [], tensors: GgufTensorData[] = []) => writeGguf(new Map(meta), tensors);
const vec = (name: string, n: number): GgufTensorData => ({ name, dims: [n], type: 'F32', data: new Uint8Array(4 * n) });

describe('GGUF header reader', () => {
  it("reads llama.cpp's own stories260K.gguf: version, metadata, tensor infos and offsets", async () => {
    const h = await readGgufHeader(new MemoryFileSource('shared', new Map([['s.gguf', readFileSync(STORIES_GGUF).buffer as ArrayBuffer]])), 's.gguf');
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(32);
    expect(h.tensors.size).toBe(48); // 5 layers x 9 + embedding, final norm, output
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(h.metadata.get('llama.embedding_length')).toBe(64);
    expect(h.metadata.get('llama.attention.head_count_kv')).toBe(4);
    // Stored as the f32 nearest 1e-5, read back as the decimal it stands for.
    expect(h.metadata.get('llama.attention.layer_norm_rms_epsilon')).toBe(1e-5);
    expect((h.metadata.get('tokenizer.ggml.tokens') as string[]).slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    const embd = h.tensors.get('token_embd.weight')!;
    expect(embd).toMatchObject({ dims: [64, 512], typeName: 'F32', begin: h.dataOffset });
    expect(embd.end! - embd.begin).toBe(64 * 512 * 4);
    expect(h.dataOffset % 32).toBe(0);
  });

  it('reads a header longer than the first range in growing ranges, and only the header', async () => {
    const tokens = Array.from({ length: 40_000 }, (_, i) => `token-${i}`);
    const bytes = small([['tokenizer.ggml.tokens', tokens]], [vec('a', 8)]);
    const source = new MemoryFileSource('m', new Map([['x.gguf', bytes.buffer as ArrayBuffer]]));
    const h = await readGgufHeader(source, 'x.gguf');
    expect((h.metadata.get('tokenizer.ggml.tokens') as string[])[39_999]).toBe('token-39999');
    const read = source.ranges.reduce((a, r) => a + r.end - r.begin, 0);
    expect(read).toBeLessThan(2 * h.dataOffset + 65536);
    expect(source.ranges.every((r, i) => i === 0 || r.begin === source.ranges[i - 1].end)).toBe(true); // nothing read twice
  });

  it('round-trips every metadata value type', () => {
    const meta: [string, GgufValue][] = [
      ['s', 'héllo'],
      ['b', true],
      ['u', 4_000_000_000],
      ['i', -5],
      ['f', 0.25],
      ['strings', ['a', 'b']],
      ['ints', [1, -2, 3]],
      ['floats', [0.5, -1.5]],
    ];
    const h = parseGgufHeader(small(meta), small(meta).byteLength, 'x.gguf');
    for (const [k, v] of meta) expect(h.metadata.get(k)).toEqual(v);
  });

  describe('refuses broken files with typed errors naming the field', () => {
    const good = small([['general.architecture', 'llama']], [vec('a', 8), vec('b', 8)]);
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
    const parse = (b: Uint8Array, size = b.byteLength) => errorOf(() => parseGgufHeader(b, size, 'bad.gguf'));

    it('not GGUF, big-endian, version 1', () => {
      expect(parse(new TextEncoder().encode('PK\x03\x04 not a gguf file'))).toMatchObject({ code: 'MODEL_FORMAT', field: 'magic' });
      const be = good.slice();
      view(be).setUint32(4, 3, false);
      expect(parse(be)).toMatchObject({ code: 'UNSUPPORTED_MODEL', field: 'version' });
      const v1 = good.slice();
      view(v1).setUint32(4, 1, true);
      expect(parse(v1)).toMatchObject({ code: 'UNSUPPORTED_MODEL', field: 'version', got: '1' });
    });

    it('truncated header, truncated data, counts larger than the file', () => {
      expect(parse(good.slice(0, 40))).toMatchObject({ code: 'MODEL_FORMAT' });
      expect(parse(good.slice(0, good.byteLength - 4))).toMatchObject({
        code: 'MODEL_FORMAT',
        field: 'tensor b',
        message: expect.stringContaining('truncated'),
      });
      const huge = good.slice();
      view(huge).setBigUint64(8, 2n ** 40n, true);
      expect(parse(huge)).toMatchObject({ code: 'MODEL_FORMAT', field: 'tensor_count' });
      const arr = small([['t', ['x', 'y']]]);
      // The array's length field: after magic, version and counts (24), general.alignment (key, type, u32 value),
      // the key "t" (8 + 1), its value type (4) and element type (4).
      view(arr).setBigUint64(24 + (8 + 17 + 4 + 4) + (8 + 1) + 4 + 4, 2n ** 50n, true);
      expect(parse(arr)).toMatchObject({ code: 'MODEL_FORMAT' });
    });

    it('misaligned, overlapping and out-of-range tensors, unknown types', () => {
      const at = (name: string, b: Uint8Array) => {
        // Find the tensor info by name: its offset is the last 8 bytes of the info.
        const key = new TextEncoder().encode(name);
        for (let i = 0; i < b.byteLength; i++)
          if (b[i] === key[0] && b.subarray(i, i + key.length).every((x, k) => x === key[k]) && b[i - 8] === key.length) return i + key.length;
        throw new Error(name);
      };
      const info = (b: Uint8Array) => at('b', b); // n_dims (4), ne (8), type (4), offset (8)
      const mis = good.slice();
      view(mis).setBigUint64(info(mis) + 16, 4n, true);
      expect(parse(mis)).toMatchObject({ code: 'MODEL_FORMAT', field: 'tensor b offset' });
      const over = good.slice();
      view(over).setBigUint64(info(over) + 16, 0n, true);
      expect(parse(over)).toMatchObject({ code: 'MODEL_FORMAT', message: expect.stringContaining('overlap') });
      const past = good.slice();
      view(past).setBigUint64(info(past) + 4, 2n ** 40n, true);
      expect(parse(past)).toMatchObject({ code: 'MODEL_FORMAT', field: 'tensor b' });
      const unknown = good.slice();
      view(unknown).setUint32(info(unknown) + 12, 99, true);
      expect(parse(unknown)).toMatchObject({ code: 'MODEL_FORMAT', field: 'tensor b type', got: '99' });
    });
  });
});
