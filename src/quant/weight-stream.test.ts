import { describe, expect, it } from 'vitest';
import { fingerprinted, wordDigest, type WeightBlock, type WeightStream } from './weight-stream';

/** A stream of one 1 MiB f32 vector and one small matrix, `poke` changing a word of the vector first. */
function stream(poke?: (v: Float32Array) => void): WeightStream {
  const v = Float32Array.from({ length: 2 ** 18 }, (_, i) => Math.sin(i));
  poke?.(v);
  const blocks: WeightBlock[] = [
    { kind: 'vector', key: 'norm', data: v },
    { kind: 'matrix', key: 'embed', shape: { rows: 2, cols: 4, format: 'f32' } as never, row0: 0, rows: 2, data: new Uint32Array(8).fill(7), scales: null },
  ];
  return {
    format: 'f32',
    async run(sink) {
      for (const b of blocks) await sink.put(b);
    },
  };
}

async function fingerprintOf(s: WeightStream): Promise<string> {
  const f = fingerprinted(s);
  await f.stream.run({ put: () => {} });
  return f.fingerprint();
}

describe("the weights' fingerprint (a saved conversation's model identity)", () => {
  it('is the same for the same weights and differs when any word differs, the middle of a large block included', async () => {
    const base = await fingerprintOf(stream());
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await fingerprintOf(stream())).toBe(base);
    for (const at of [0, 77_777, 2 ** 17, 2 ** 18 - 1]) {
      expect(await fingerprintOf(stream((v) => (v[at] += 1e-6)))).not.toBe(base);
    }
  });

  it("wordDigest: every lane and the length count; a word's place counts", () => {
    const w = Uint32Array.from({ length: 11 }, (_, i) => i * 2654435761);
    const d = wordDigest(w);
    for (let i = 0; i < w.length; i++) {
      const v = w.slice();
      v[i] ^= 1;
      expect(wordDigest(v)).not.toEqual(d);
    }
    expect(wordDigest(w.subarray(0, 10))).not.toEqual(d);
    const swapped = w.slice();
    [swapped[0], swapped[4]] = [swapped[4], swapped[0]];
    expect(wordDigest(swapped)).not.toEqual(d);
  });
});
