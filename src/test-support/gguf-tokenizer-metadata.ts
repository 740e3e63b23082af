// The inverse of src/tokenizer/gguf-tokenizer.ts, for tests and for writing GGUF files: the `tokenizer.*` keys that
// llama.cpp's convert_hf_to_gguf.py writes for a Hugging Face tokenizer.json + tokenizer_config.json.
//
// Value types as GGUF stores them (a writer must choose these, the Map cannot say): tokens and merges are
// string arrays, scores f32[], token_type i32[], *_token_id u32, add_* and add_space_prefix bool, the chat template
// a string.
//
// Two shapes are representable:
// - SentencePiece-style BPE with byte fallback ("▁" for spaces): model 'llama' with scores. llama.cpp merges the
//   adjacent pair whose merged piece scores highest, so each piece's score follows the rank of the first merge
//   that makes it (0, -1, -2, ...); control, unknown and byte tokens score 0, as in llama.cpp's own files.
// - Byte-level BPE (GPT-2 family): model 'gpt2' with the merges, and `pre` recognised from the pre-tokenizer.

import type { GgufValue } from '../model/gguf';
import { GGUF_BYTE_LEVEL_PRE, GGUF_TOKEN_TYPE, isByteToken, type JsonValue } from '../tokenizer/gguf-tokenizer';

export interface GgufTokenizerMetadataOptions {
  /**
   * The model's vocabulary size (config.json vocab_size) when it exceeds the tokenizer's: ids beyond become unused
   * "[PADn]" tokens, as the converter writes them.
   */
  vocabSize?: number;
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

type Obj = { [key: string]: JsonValue };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function cannot(why: string): never {
  throw new Error(`cannot represent this tokenizer in GGUF: ${why}`);
}

export function ggufTokenizerMetadata(tokenizerJson: string, tokenizerConfigJson: string, options: GgufTokenizerMetadataOptions = {}): Map<string, GgufValue> {
  const tj: unknown = JSON.parse(tokenizerJson);
  const tc: unknown = JSON.parse(tokenizerConfigJson);
  if (!isObj(tj) || !isObj(tc)) cannot('tokenizer.json and tokenizer_config.json must be JSON objects');
  const model = tj.model;
  if (!isObj(model) || (model.type !== undefined && model.type !== 'BPE'))
    cannot(`only BPE models are supported, got ${isObj(model) ? String(model.type) : 'no model'}`);
  if (!isObj(model.vocab)) cannot('model.vocab missing');
  if (model.dropout !== undefined && model.dropout !== null) cannot('BPE dropout');
  if (model.continuing_subword_prefix || model.end_of_word_suffix) cannot('subword prefixes / suffixes');

  const vocab = model.vocab;
  const added: AddedToken[] = (Array.isArray(tj.added_tokens) ? tj.added_tokens : []).map((a) => {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string') cannot('malformed added_tokens entry');
    return { id: a.id, content: a.content, special: a.special === true };
  });
  const addedById = new Map(added.map((a) => [a.id, a]));

  let n = options.vocabSize ?? 0;
  for (const id of Object.values(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) cannot(`vocabulary id ${String(id)}`);
    n = Math.max(n, id + 1);
  }
  for (const a of added) n = Math.max(n, a.id + 1);

  const texts: (string | undefined)[] = new Array(n);
  for (const [text, id] of Object.entries(vocab)) texts[id as number] = text;

  const spm = model.byte_fallback === true;
  const preName = spm ? null : byteLevelPreName(tj, model);
  if (spm) checkSentencePieceStyle(tj);

  const unkText = typeof model.unk_token === 'string' ? model.unk_token : null;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < n; id++) {
    const a = addedById.get(id);
    let text = a ? a.content : texts[id];
    let type: number = GGUF_TOKEN_TYPE.normal;
    if (text === undefined) {
      text = `[PAD${id}]`;
      type = GGUF_TOKEN_TYPE.unused;
    } else if (spm && text === unkText) {
      type = GGUF_TOKEN_TYPE.unknown;
    } else if (a && (a.special || looksSpecial(text))) {
      type = GGUF_TOKEN_TYPE.control;
    } else if (a) {
      // llama.cpp matches user-defined tokens in the raw text, so the converter stores their spaces as spaces.
      text = text.replaceAll('▁', ' ');
      type = GGUF_TOKEN_TYPE.userDefined;
    } else if (spm && isByteToken(text)) {
      type = GGUF_TOKEN_TYPE.byte;
    }
    tokens.push(text);
    types.push(type);
  }

  const merges = readMerges(model.merges);
  const meta = new Map<string, GgufValue>();
  meta.set('tokenizer.ggml.model', spm ? 'llama' : 'gpt2');
  if (preName) meta.set('tokenizer.ggml.pre', preName);
  meta.set('tokenizer.ggml.tokens', tokens);
  if (spm) meta.set('tokenizer.ggml.scores', sentencePieceScores(tokens, types, merges));
  meta.set('tokenizer.ggml.token_type', types);
  if (!spm) {
    meta.set(
      'tokenizer.ggml.merges',
      merges.map(([l, r]) => {
        if (l.includes(' ') || r.includes(' ')) cannot(`a merge part contains a space (${JSON.stringify([l, r])})`);
        return `${l} ${r}`;
      }),
    );
  }

  // Special ids as the converter's SpecialVocab finds them: the config's *_token text looked up among the added tokens.
  const idOfAdded = new Map(added.map((a) => [a.content, a.id]));
  const specialText = (kind: string): string | null => {
    const v = tc[`${kind}_token`];
    return typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : null;
  };
  const keys: [string, string][] = [
    ['bos', 'bos_token_id'],
    ['eos', 'eos_token_id'],
    ['unk', 'unknown_token_id'],
    ['sep', 'seperator_token_id'], // llama.cpp's spelling
    ['pad', 'padding_token_id'],
    ['cls', 'cls_token_id'],
    ['mask', 'mask_token_id'],
  ];
  for (const [kind, key] of keys) {
    const text = specialText(kind);
    const id = text === null ? undefined : idOfAdded.get(text);
    if (id !== undefined) meta.set(`tokenizer.ggml.${key}`, id);
  }

  const template = postProcessorAdds(tj.post_processor);
  const addBos = typeof tc.add_bos_token === 'boolean' ? tc.add_bos_token : template ? template.first === specialText('bos') : undefined;
  const addEos = typeof tc.add_eos_token === 'boolean' ? tc.add_eos_token : template ? template.last === specialText('eos') : undefined;
  if (addBos !== undefined) meta.set('tokenizer.ggml.add_bos_token', addBos);
  if (addEos !== undefined) meta.set('tokenizer.ggml.add_eos_token', addEos);
  if (spm) meta.set('tokenizer.ggml.add_space_prefix', addsSpacePrefix(tj));

  const ct = tc.chat_template;
  if (typeof ct === 'string') meta.set('tokenizer.chat_template', ct);
  else if (Array.isArray(ct)) {
    // Named templates: 'default' is the chat template, the others get their own keys.
    for (const t of ct) {
      if (!isObj(t) || typeof t.name !== 'string' || typeof t.template !== 'string') cannot('malformed chat_template entry');
      meta.set(t.name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${t.name}`, t.template);
    }
  }
  return meta;
}

/** The converter's does_token_look_special: added tokens shaped like control tokens become control even when not special. */
function looksSpecial(t: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

function readMerges(raw: JsonValue | undefined): [string, string][] {
  if (!Array.isArray(raw)) cannot('model.merges missing');
  return raw.map((m) => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2) cannot(`merge ${JSON.stringify(m)}`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    return cannot(`merge ${JSON.stringify(m)}`);
  });
}

/**
 * Normal pieces score by the rank of the first merge that makes them: 0, -1, -2, ... in that order; pieces no
 * merge makes (single characters) follow in id order. Control, unknown and byte tokens score 0; user-defined and
 * unused ones score below every normal piece so llama.cpp never prefers merging into them.
 */
function sentencePieceScores(tokens: string[], types: number[], merges: [string, string][]): number[] {
  const firstMerge = new Map<string, number>();
  merges.forEach(([l, r], rank) => {
    if (!firstMerge.has(l + r)) firstMerge.set(l + r, rank);
  });
  const normal = tokens.map((_, id) => id).filter((id) => types[id] === GGUF_TOKEN_TYPE.normal);
  const rankOf = (id: number) => firstMerge.get(tokens[id]) ?? Infinity;
  normal.sort((a, b) => rankOf(a) - rankOf(b) || a - b);
  const scores = new Array<number>(tokens.length).fill(0);
  normal.forEach((id, position) => (scores[id] = 0 - position));
  types.forEach((t, id) => {
    if (t === GGUF_TOKEN_TYPE.userDefined || t === GGUF_TOKEN_TYPE.unused) scores[id] = 0 - normal.length;
  });
  return scores;
}

/** Only the "▁" convention of SentencePiece is representable: Prepend/Replace normalizers or a Metaspace pre-tokenizer. */
function checkSentencePieceStyle(tj: Obj): void {
  const model = tj.model as Obj;
  const norms = normalizerSteps(tj.normalizer);
  const escapes = (s: Obj) => s.type === 'Replace' && isObj(s.pattern) && s.pattern.String === ' ' && s.content === '▁';
  const prepends = (s: Obj) => s.type === 'Prepend' && s.prepend === '▁';
  const viaNormalizer = norms.length > 0 && norms.every((s) => escapes(s) || prepends(s)) && norms.some(escapes);
  const pre = tj.pre_tokenizer;
  const viaMetaspace = norms.length === 0 && isObj(pre) && pre.type === 'Metaspace' && (pre.replacement ?? '▁') === '▁';
  if (!viaNormalizer && !viaMetaspace) cannot('byte-fallback BPE without the SentencePiece "▁" normalizer / Metaspace pre-tokenizer');
  // Gemma 3's Split on " " runs after the normalizer has turned every space into "▁": it never splits.
  const noOpSplit = isObj(pre) && pre.type === 'Split' && isObj(pre.pattern) && pre.pattern.String === ' ';
  if (viaNormalizer && pre !== null && pre !== undefined && !noOpSplit) cannot('a pre-tokenizer beside the SentencePiece normalizer');
  if (model.ignore_merges === true) cannot('ignore_merges with SentencePiece-style BPE');
}

function addsSpacePrefix(tj: Obj): boolean {
  if (normalizerSteps(tj.normalizer).some((s) => s.type === 'Prepend')) return true;
  const pre = tj.pre_tokenizer;
  if (!isObj(pre) || pre.type !== 'Metaspace') return false;
  // prepend_scheme 'first' is closest to llama.cpp's (which prefixes every text after a special token, like 'always').
  if (typeof pre.prepend_scheme === 'string') return pre.prepend_scheme !== 'never';
  return pre.add_prefix_space !== false;
}

function normalizerSteps(n: JsonValue | undefined): Obj[] {
  if (n === null || n === undefined) return [];
  if (!isObj(n)) cannot('malformed normalizer');
  if (n.type === 'Sequence') return (Array.isArray(n.normalizers) ? n.normalizers : []).flatMap(normalizerSteps);
  return [n];
}

/** Steps of a pre-tokenizer reduced to what changes the ids (trim_offsets, for one, does not). */
function preSignature(p: JsonValue | undefined): string[] {
  if (p === null || p === undefined) return [];
  if (!isObj(p)) cannot('malformed pre_tokenizer');
  switch (p.type) {
    case 'Sequence':
      return (Array.isArray(p.pretokenizers) ? p.pretokenizers : []).flatMap(preSignature);
    case 'Split':
      return [`split ${JSON.stringify(p.pattern)} ${String(p.behavior)} ${String(p.invert)}`];
    case 'Digits':
      return [`digits ${p.individual_digits === true}`];
    case 'ByteLevel':
      // Hugging Face's defaults: add_prefix_space and use_regex true.
      return [`bytelevel regex=${p.use_regex !== false} prefix=${p.add_prefix_space !== false}`];
    default:
      return [`other ${JSON.stringify(p)}`];
  }
}

function normalizerSignature(n: JsonValue | undefined): string {
  return JSON.stringify(normalizerSteps(n).map((s) => s.type));
}

function byteLevelPreName(tj: Obj, model: Obj): string {
  const pre = preSignature(tj.pre_tokenizer).join(' | ');
  const norm = normalizerSignature(tj.normalizer);
  for (const [name, flavour] of Object.entries(GGUF_BYTE_LEVEL_PRE)) {
    if (preSignature(flavour.preTokenizer).join(' | ') !== pre) continue;
    if (normalizerSignature(flavour.normalizer) !== norm) cannot(`the '${name}' pre-tokenizer with normalizer ${norm}`);
    if ((model.ignore_merges === true) !== flavour.ignoreMerges)
      cannot(`ignore_merges ${model.ignore_merges === true} with the '${name}' pre-tokenizer (llama.cpp ties it to the pre name)`);
    return name;
  }
  if (!pre.includes('bytelevel')) cannot('a BPE that is neither byte-level nor byte-fallback');
  return cannot(`a byte-level pre-tokenizer that matches none of ${Object.keys(GGUF_BYTE_LEVEL_PRE).join(', ')}: ${pre}`);
}

/** The special tokens the post-processor puts first and last in a single sequence (TemplateProcessing, alone or in a Sequence). */
function postProcessorAdds(p: JsonValue | undefined): { first: string | null; last: string | null } | null {
  if (!isObj(p)) return null;
  if (p.type === 'Sequence') {
    for (const q of Array.isArray(p.processors) ? p.processors : []) {
      const found = postProcessorAdds(q);
      if (found) return found;
    }
    return null;
  }
  if (p.type !== 'TemplateProcessing' || !Array.isArray(p.single) || p.single.length === 0) return null;
  const specialId = (item: JsonValue): string | null =>
    isObj(item) && isObj(item.SpecialToken) && typeof item.SpecialToken.id === 'string' ? item.SpecialToken.id : null;
  return { first: specialId(p.single[0]), last: specialId(p.single[p.single.length - 1]) };
}
