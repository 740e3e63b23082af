// GGUF tokenizers against llama.cpp's own tokenizer test: its vocabulary-only GGUF files of five families (Phi-3,
// Llama 2 SentencePiece, Llama 3 and Qwen byte-level BPE, GPT-2) and, for each, 46 texts (whitespace runs, emoji,
// Cyrillic, CJK, code, digits, apostrophes) with the ids llama.cpp gives them, fetched by `npm run fixtures`.
// The GGUF is turned into a tokenizer.json by ggufTokenizerFiles and encoded by @huggingface/tokenizers, so this
// checks the conversion against the engine users compare us with.

import { describe, expect, it } from 'vitest';
import { LLAMA_CPP_VOCABS, llamaCppTokenizerCases, llamaCppVocabTokenizer, type LlamaCppVocab } from '../test-support/llama-cpp-files';

const CLEANS = new Set<LlamaCppVocab>(['llama-bpe', 'gpt-2']);

/** transformers' clean_up_tokenization (what llama.cpp's clean_spaces does on decode). */
function cleanUp(text: string): string {
  return text
    .replace(/ ([.?!,])/g, '$1')
    .replace(/ ' /g, "'")
    .replace(/ (n't|'m|'s|'ve|'re)/g, '$1');
}

describe("llama.cpp's tokenizer test cases through the engine's GGUF tokenizer", () => {
  for (const vocab of Object.keys(LLAMA_CPP_VOCABS) as LlamaCppVocab[]) {
    it(`${vocab}: ${LLAMA_CPP_VOCABS[vocab]}: every text encodes to llama.cpp's ids and decodes back`, async () => {
      const t = await llamaCppVocabTokenizer(vocab);
      const cases = llamaCppTokenizerCases(vocab);
      expect(cases.length).toBe(46);
      const wrong = cases.filter((c) => JSON.stringify(t.encode(c.text)) !== JSON.stringify(c.ids)).map((c) => JSON.stringify(c.text));
      expect(wrong).toEqual([]);
      // Decoding gives each text back (SentencePiece drops the space it put in front); where llama.cpp cleans spaces
      // (Llama 3, GPT-2), with transformers' clean-up of " ?", " 's" and the like.
      const expected = (text: string) => (CLEANS.has(vocab) ? cleanUp(text) : text);
      const back = cases.filter((c) => c.ids.length > 0 && t.decode(c.ids) !== expected(c.text)).map((c) => JSON.stringify(c.text));
      expect(back).toEqual([]);
    }, 60_000);
  }

  it('literal ids: "Hello world" in each family, as llama.cpp lists them', async () => {
    const hello = (v: LlamaCppVocab) => llamaCppTokenizerCases(v).find((c) => c.text === 'Hello world')?.ids;
    expect(hello('phi-3')).toEqual([15043, 3186]);
    expect(hello('llama-spm')).toEqual([15043, 3186]);
    expect(hello('llama-bpe')).toEqual([9906, 1917]);
    expect(hello('qwen2')).toEqual([9707, 1879]);
    expect(hello('gpt-2')).toEqual([15496, 995]);
    expect((await llamaCppVocabTokenizer('qwen2')).encode('Hello world')).toEqual([9707, 1879]);
  });
});
