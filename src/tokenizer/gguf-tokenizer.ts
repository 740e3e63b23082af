// A GGUF file's embedded tokenizer (llama.cpp's `tokenizer.*` keys) rewritten as the Hugging Face
// tokenizer.json + tokenizer_config.json that TextTokenizer already runs, so a GGUF model needs no other files.
//
// Two tokenizer models, as llama.cpp names them:
// - 'llama': SentencePiece BPE. Pieces carry "▁" for spaces, unknown characters fall back to <0xNN> byte
//   tokens, and the pair merged first is the one whose merged piece scores highest. A HF BPE model reproduces
//   that with merges ranked by the merged piece's score (how transformers converts SentencePiece models).
// - 'gpt2': byte-level BPE with an explicit merge list; `tokenizer.ggml.pre` names the pre-tokenizer
//   (splitting regex), which GGUF does not store, so each supported name maps to the settings of the
//   tokenizer.json it came from.

import { ModelFormatError, UnsupportedModelError } from '../errors';
import type { GgufMetadata, GgufValue } from '../model/gguf';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
export const GGUF_TOKEN_TYPE = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** The tokenizer.json pieces that a byte-level `tokenizer.ggml.pre` value stands for, and llama.cpp's defaults for it. */
export interface ByteLevelPre {
  normalizer: JsonValue;
  preTokenizer: JsonValue;
  /** A pre-token that is already a vocabulary entry is emitted whole (Llama-3; llama.cpp sets it for this pre). */
  ignoreMerges: boolean;
  /** llama.cpp's add_bos when the GGUF has no `tokenizer.ggml.add_bos_token`. */
  addBos: boolean;
  /** llama.cpp's clean_spaces (" ." -> "." and the like on decode), transformers' clean_up_tokenization_spaces. */
  cleanSpaces: boolean;
}

// The splitting regexes exactly as the models' own tokenizer.json files write them (Rust regex syntax).
const LLAMA3_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** OpenAI's o200k_base (GPT-4o; Phi-4-mini's vocabulary): case runs split apart, contractions kept on the word. */
const O200K_REGEX = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

const split = (regex: string): JsonValue => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = (useRegex: boolean, trimOffsets: boolean): JsonValue => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: trimOffsets,
  use_regex: useRegex,
});

/** Canonical `tokenizer.ggml.pre` names this module supports (llama.cpp's spelling of each family). */
export const GGUF_BYTE_LEVEL_PRE: Readonly<Record<'llama-bpe' | 'qwen2' | 'gpt-4o' | 'smollm' | 'gpt-2', ByteLevelPre>> = {
  // Llama-3 (meta-llama/Llama-3.x tokenizer.json)
  'llama-bpe': {
    normalizer: null,
    preTokenizer: { type: 'Sequence', pretokenizers: [split(LLAMA3_REGEX), byteLevel(false, true)] },
    ignoreMerges: true,
    addBos: true,
    cleanSpaces: true,
  },
  // Qwen2 / 2.5 / 3 (NFC first, as their tokenizer.json does; llama.cpp itself skips the NFC step)
  qwen2: {
    normalizer: { type: 'NFC' },
    preTokenizer: { type: 'Sequence', pretokenizers: [split(QWEN2_REGEX), byteLevel(false, false)] },
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: false,
  },
  // GPT-4o's o200k (Phi-4-mini's GGUFs say 'gpt-4o'). Written as Xenova/gpt-4o's tokenizer.json writes it, the file
  // llama.cpp names as this pre's reference: keep the matches (Removed, inverted), which is Isolated for a regex
  // that matches every character, as this one does.
  'gpt-4o': {
    normalizer: null,
    preTokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: O200K_REGEX }, behavior: 'Removed', invert: true }, byteLevel(false, true)],
    },
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: false,
  },
  // SmolLM / SmolLM2: every digit alone, then GPT-2's regex inside ByteLevel
  smollm: {
    normalizer: null,
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true, true)] },
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: false,
  },
  // GPT-2: ByteLevel with its built-in regex
  'gpt-2': {
    normalizer: null,
    preTokenizer: byteLevel(true, true),
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: true,
  },
};

/** Accepted `tokenizer.ggml.pre` values and the family each means (aliases as llama.cpp groups them). */
const PRE_NAMES: Record<string, keyof typeof GGUF_BYTE_LEVEL_PRE> = {
  'llama-bpe': 'llama-bpe',
  llama3: 'llama-bpe',
  'llama-v3': 'llama-bpe',
  qwen2: 'qwen2',
  'deepseek-r1-qwen': 'qwen2',
  'gpt-4o': 'gpt-4o',
  smollm: 'smollm',
  'gpt-2': 'gpt-2',
  // Older GGUFs without a pre name; llama.cpp's own 'default' regex is a degraded guess, GPT-2's is what such files mostly came from.
  default: 'gpt-2',
};

const BYTE_LEVEL_DECODER: JsonValue = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
/** "No token": how converters write an absent id in a u32 (or i32) field. */
const NO_TOKEN = new Set([-1, 0xffffffff]);

const K = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  types: 'tokenizer.ggml.token_type',
  scores: 'tokenizer.ggml.scores',
  merges: 'tokenizer.ggml.merges',
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
  template: 'tokenizer.chat_template',
  name: 'general.name',
} as const;

/** Phi-3's special tokens that keep the whitespace after them (llama.cpp's list). */
const PHI3_UNSTRIPPED = new Set(['<unk>', '<s>', '<|endoftext|>']);

/**
 * The tokenizer.json and tokenizer_config.json texts equivalent to the GGUF's tokenizer, for
 * `TextTokenizer.fromJson(tokenizer, tokenizerConfig, where)`. `where` names the GGUF file in errors.
 */
export function ggufTokenizerFiles(meta: GgufMetadata, where: string): { tokenizer: string; tokenizerConfig: string } {
  const r = new MetaReader(meta, where);
  const model = r.string(K.model, true);
  if (model !== 'llama' && model !== 'gpt2') {
    throw new UnsupportedModelError('tokenizer model not supported', {
      file: where,
      field: K.model,
      expected: "'llama' (SentencePiece BPE) or 'gpt2' (byte-level BPE)",
      got: JSON.stringify(model),
    });
  }
  const spm = model === 'llama';
  const tokens = r.strings(K.tokens);
  const n = tokens.length;
  const types = r.tokenTypes(n);

  // llama.cpp renames empty tokens and refuses duplicates (its text -> id map must be one to one).
  const texts = tokens.map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
  const idOf = new Map<string, number>();
  texts.forEach((t, i) => {
    const prev = idOf.get(t);
    if (prev !== undefined)
      throw new ModelFormatError('duplicate token', {
        file: where,
        field: `${K.tokens}[${i}]`,
        expected: 'each token once',
        got: `${JSON.stringify(t)} also at ${prev}`,
      });
    idOf.set(t, i);
  });

  // Special ids: llama.cpp's defaults for SentencePiece (unk 0, bos 1, eos 2) where the key is absent.
  const inRange = (id: number) => (id < n ? id : undefined);
  const bos = r.tokenId(K.bos, n, spm ? inRange(1) : undefined);
  const eos = r.tokenId(K.eos, n, spm ? inRange(2) : undefined);
  const unk = r.tokenId(K.unk, n, spm ? inRange(0) : undefined);
  const pad = r.tokenId(K.pad, n, undefined);

  let pre: ByteLevelPre | null = null;
  if (!spm) {
    const name = r.string(K.pre, false) ?? 'default';
    const family = Object.hasOwn(PRE_NAMES, name) ? PRE_NAMES[name] : undefined;
    if (!family) {
      throw new UnsupportedModelError('pre-tokenizer not supported', {
        file: where,
        field: K.pre,
        expected: `one of ${Object.keys(PRE_NAMES)
          .map((k) => `'${k}'`)
          .join(', ')}`,
        got: JSON.stringify(name),
      });
    }
    pre = GGUF_BYTE_LEVEL_PRE[family];
  }
  const addBos = r.bool(K.addBos) ?? (spm ? true : pre!.addBos);
  const addEos = r.bool(K.addEos) ?? false;
  if (addBos && bos === undefined)
    throw new ModelFormatError('BOS is to be added but there is no BOS token', { file: where, field: K.addBos, expected: `${K.bos}` });
  if (addEos && eos === undefined)
    throw new ModelFormatError('EOS is to be added but there is no EOS token', { file: where, field: K.addEos, expected: `${K.eos}` });

  const vocab: Record<string, number> = Object.create(null);
  texts.forEach((t, i) => (vocab[t] = i));

  // Control and unknown tokens are matched whole and skipped when decoding with skip_special_tokens; user-defined ones are matched whole and kept.
  // Phi-3's chat tokens eat the whitespace after them ("<|user|>\nHi" is <|user|> ▁Hi): its tokenizer.json says so
  // per token, a GGUF cannot, so llama.cpp tells Phi-3 by its general.name and sets it, as here.
  const rstrips = /phi-?3/.test((r.string(K.name, false) ?? '').toLowerCase());
  const added: JsonValue[] = [];
  types.forEach((type, id) => {
    if (type !== GGUF_TOKEN_TYPE.control && type !== GGUF_TOKEN_TYPE.unknown && type !== GGUF_TOKEN_TYPE.userDefined) return;
    const rstrip = rstrips && !PHI3_UNSTRIPPED.has(texts[id]);
    added.push({ id, content: texts[id], single_word: false, lstrip: false, rstrip, normalized: false, special: type !== GGUF_TOKEN_TYPE.userDefined });
  });

  // SentencePiece: unknown characters fall back to byte tokens; byte-level BPE never needs to.
  const bpe = (byteFallback: boolean, ignoreMerges: boolean, merges: [string, string][]): JsonValue => ({
    type: 'BPE',
    dropout: null,
    unk_token: unk === undefined ? null : texts[unk],
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: byteFallback,
    byte_fallback: byteFallback,
    ignore_merges: ignoreMerges,
    vocab,
    merges,
  });
  let tokenizer: Record<string, JsonValue>;
  if (spm) {
    const scores = r.scores(n);
    const addSpacePrefix = r.bool(K.addSpacePrefix) ?? true;
    const spaceToMeta: JsonValue = { type: 'Replace', pattern: { String: ' ' }, content: '▁' };
    tokenizer = {
      normalizer: addSpacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, spaceToMeta] } : spaceToMeta,
      pre_tokenizer: null,
      model: bpe(true, false, sentencePieceMerges(texts, scores, idOf)),
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
    };
  } else {
    tokenizer = {
      normalizer: pre!.normalizer,
      pre_tokenizer: pre!.preTokenizer,
      model: bpe(false, pre!.ignoreMerges, byteLevelMerges(r.strings(K.merges), idOf, where)),
      decoder: BYTE_LEVEL_DECODER,
    };
  }

  const full: Record<string, JsonValue> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: tokenizer.normalizer,
    pre_tokenizer: tokenizer.pre_tokenizer,
    post_processor: postProcessor(addBos ? texts[bos!] : null, addEos ? texts[eos!] : null, bos, eos),
    decoder: tokenizer.decoder,
    model: tokenizer.model,
  };

  const config: Record<string, JsonValue> = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    bos_token: bos === undefined ? null : texts[bos],
    eos_token: eos === undefined ? null : texts[eos],
    unk_token: unk === undefined ? null : texts[unk],
    pad_token: pad === undefined ? null : texts[pad],
    // llama.cpp decodes SentencePiece and most byte-level families without the " ." -> "." clean-up.
    clean_up_tokenization_spaces: spm ? false : pre!.cleanSpaces,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  const template = r.string(K.template, false);
  if (template !== undefined) config.chat_template = template;

  return { tokenizer: JSON.stringify(full), tokenizerConfig: JSON.stringify(config) };
}

/**
 * SentencePiece BPE as HF merges: every split of a piece into two vocabulary pieces is a merge, ranked by
 * the merged piece's score (highest first); ties keep piece id order, then the parts' ids, as transformers'
 * SentencePiece extractor orders them.
 */
function sentencePieceMerges(texts: string[], scores: number[], idOf: Map<string, number>): [string, string][] {
  const found: { piece: number; left: number; right: number }[] = [];
  texts.forEach((piece, id) => {
    // Split at code point boundaries only (SentencePiece pieces are sequences of characters).
    let at = 0;
    for (const ch of piece) {
      at += ch.length;
      if (at >= piece.length) break;
      const left = idOf.get(piece.slice(0, at));
      const right = idOf.get(piece.slice(at));
      if (left !== undefined && right !== undefined) found.push({ piece: id, left, right });
    }
  });
  found.sort((a, b) => scores[b.piece] - scores[a.piece] || a.piece - b.piece || a.left - b.left || a.right - b.right);
  return found.map((m) => [texts[m.left], texts[m.right]]);
}

/** GGUF merges are "left right" strings; llama.cpp splits at the first space after the first byte. */
function byteLevelMerges(merges: string[], idOf: Map<string, number>, where: string): [string, string][] {
  return merges.map((m, i) => {
    const at = m.indexOf(' ', 1);
    const field = `${K.merges}[${i}]`;
    if (at < 0) throw new ModelFormatError('merge is not two tokens separated by a space', { file: where, field, got: JSON.stringify(m) });
    const left = m.slice(0, at);
    const right = m.slice(at + 1);
    // A merge of or into a token the vocabulary lacks would yield ids that do not exist (Hugging Face refuses such files too).
    for (const t of [left, right, left + right]) {
      if (!idOf.has(t))
        throw new ModelFormatError('merge names a token that is not in the vocabulary', {
          file: where,
          field,
          expected: `${JSON.stringify(t)} in ${K.tokens}`,
          got: JSON.stringify(m),
        });
    }
    return [left, right];
  });
}

function postProcessor(bosText: string | null, eosText: string | null, bos: number | undefined, eos: number | undefined): JsonValue {
  if (bosText === null && eosText === null) return null;
  const special = (text: string | null, typeId: number): JsonValue[] => (text === null ? [] : [{ SpecialToken: { id: text, type_id: typeId } }]);
  const specials: Record<string, JsonValue> = {};
  if (bosText !== null) specials[bosText] = { id: bosText, ids: [bos!], tokens: [bosText] };
  if (eosText !== null) specials[eosText] = { id: eosText, ids: [eos!], tokens: [eosText] };
  return {
    type: 'TemplateProcessing',
    single: [...special(bosText, 0), { Sequence: { id: 'A', type_id: 0 } }, ...special(eosText, 0)],
    pair: [
      ...special(bosText, 0),
      { Sequence: { id: 'A', type_id: 0 } },
      ...special(eosText, 0),
      ...special(bosText, 1),
      { Sequence: { id: 'B', type_id: 1 } },
      ...special(eosText, 1),
    ],
    special_tokens: specials,
  };
}

/** Typed access to the metadata; every complaint is a ModelFormatError naming the key. */
class MetaReader {
  constructor(
    private readonly meta: GgufMetadata,
    private readonly file: string,
  ) {}

  private fail(field: string, message: string, expected: string, got: string): never {
    throw new ModelFormatError(message, { file: this.file, field, expected, got });
  }

  private static describe(v: GgufValue | undefined): string {
    if (v === undefined) return 'nothing';
    if (Array.isArray(v)) return `an array of ${v.length}`;
    if (typeof v === 'bigint') return `${v}n`;
    return typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
  }

  string(key: string, required: true): string;
  string(key: string, required: false): string | undefined;
  string(key: string, required: boolean): string | undefined {
    const v = this.meta.get(key);
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string') this.fail(key, v === undefined ? 'key missing' : 'wrong value type', 'a string', MetaReader.describe(v));
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(key, 'wrong value type', 'a bool', MetaReader.describe(v));
    return v;
  }

  strings(key: string): string[] {
    const v = this.meta.get(key);
    if (!Array.isArray(v)) this.fail(key, v === undefined ? 'key missing' : 'wrong value type', 'an array of strings', MetaReader.describe(v));
    if (key === K.tokens && v.length === 0) this.fail(key, 'empty vocabulary', 'at least one token', 'none');
    v.forEach((s, i) => {
      if (typeof s !== 'string') this.fail(`${key}[${i}]`, 'wrong element type', 'a string', MetaReader.describe(s));
    });
    return v as string[];
  }

  /** A per-token array: absent -> undefined, else exactly one finite number per token. */
  private perToken(key: string, n: number): number[] | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(key, 'wrong value type', `an array of ${n} numbers`, MetaReader.describe(v));
    if (v.length !== n) this.fail(key, 'array length differs from the token count', `${n} entries (one per ${K.tokens})`, String(v.length));
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(`${key}[${i}]`, 'wrong element', 'a finite number', MetaReader.describe(x));
    });
    return v as number[];
  }

  /** Token types (absent: all normal, as llama.cpp; byte fallback finds <0xNN> tokens by their text anyway). */
  tokenTypes(n: number): number[] {
    const v = this.perToken(K.types, n);
    if (!v) return new Array<number>(n).fill(GGUF_TOKEN_TYPE.normal);
    v.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t > 6)
        this.fail(`${K.types}[${i}]`, 'unknown token type', '0..6 (undefined, normal, unknown, control, user-defined, unused, byte)', String(t));
    });
    return v;
  }

  /** SentencePiece scores (absent: all 0, as llama.cpp; merges then fall back to id order). */
  scores(n: number): number[] {
    return this.perToken(K.scores, n) ?? new Array<number>(n).fill(0);
  }

  tokenId(key: string, n: number, fallback: number | undefined): number | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, 'wrong value type', 'a token id', MetaReader.describe(v));
    if (NO_TOKEN.has(v)) return undefined;
    if (v < 0 || v >= n) this.fail(key, 'token id out of range', `0..${n - 1} (or ${0xffffffff} for none)`, String(v));
    return v;
  }
}

/** Whether a token's text is a SentencePiece byte token such as <0x0A>. */
export function isByteToken(text: string): boolean {
  return BYTE_TOKEN.test(text);
}
