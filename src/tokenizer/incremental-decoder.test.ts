import { describe, expect, it } from 'vitest';
import { sharedModel, sharedText, type SharedModel } from '../test-support/shared-models';
import { IncrementalDecoder } from './incremental-decoder';

/** Deterministic pseudo-random ids (byte-fallback tokens included: they sit at the start of these vocabularies). */
function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % 4 === 0 ? 3 + (s % 256) : s % vocab;
  });
}

describe.each(['stories260K', 'aidreams260K', 'tinystories-656k'] as SharedModel[])('IncrementalDecoder on the %s tokenizer', (name) => {
  const cases = async () => {
    const m = await sharedModel(name);
    const text = `${sharedText('tinystories-valid-head.txt').slice(0, 3000)} naïve café — 東京 😀`;
    return { m, sequences: [m.tokenizer.encode(text), randomIds(400, m.spec.vocabSize, 7), randomIds(400, m.spec.vocabSize, 99)] };
  };

  it('the text after each token is a prefix of decoding all tokens so far, and finish() equals it', async () => {
    const { m, sequences } = await cases();
    const decode = (ids: number[]) => m.tokenizer.decode(ids);
    for (const ids of sequences) {
      const d = new IncrementalDecoder(decode);
      let longest = 0;
      ids.forEach((id, t) => {
        const text = d.push(id);
        const full = decode(ids.slice(0, t + 1));
        expect(full.startsWith(text)).toBe(true);
        expect(text.endsWith('\uFFFD')).toBe(false);
        longest = Math.max(longest, full.length - text.length);
      });
      expect(d.finish()).toBe(decode(ids));
      expect(longest).toBeLessThan(64); // text is held back only briefly
    }
  });

  it('decodes a short window per token, not the whole sequence', async () => {
    const { m, sequences } = await cases();
    let decoded = 0;
    const d = new IncrementalDecoder((ids) => ((decoded += ids.length), m.tokenizer.decode(ids)));
    for (const id of sequences[0]) d.push(id);
    expect(decoded).toBeLessThan(sequences[0].length * 16);
  });
});
