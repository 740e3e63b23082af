// Text <-> token ids and chat templates, on the lean cores of the transformers.js family
// (@huggingface/tokenizers and @huggingface/jinja; see README "Tokenizer choice" for the measurement).

import { Template, parse, tokenize } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFormatError } from '../errors';
import { isPlainObject } from '../model/safetensors';

/** A function call the model made (OpenAI's shape: `arguments` is a JSON string). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A function the model may call (OpenAI's `tools` entries). */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** An assistant turn's function calls. */
  tool_calls?: ToolCall[];
  /** An assistant turn's thinking, as a reasoning model's reply returned it (templates that show it read it). */
  reasoning_content?: string;
  /** A tool message: the call it answers. */
  tool_call_id?: string;
}

/** The message as chat templates read it: a call's arguments as an object (templates print them with tojson). */
function templateMessage(m: ChatMessage): Record<string, unknown> {
  if (!m.tool_calls) return { ...m };
  const calls = m.tool_calls.map((c) => {
    let args: unknown = c.function.arguments;
    try {
      args = JSON.parse(c.function.arguments);
    } catch {
      // not JSON: the template prints the string as it is
    }
    return { id: c.id, type: c.type, function: { name: c.function.name, arguments: args } };
  });
  return { ...m, tool_calls: calls };
}

/** Tokens that end a turn in the supported families' chat formats, by text; llama.cpp ends generation on them too. */
export const END_OF_TURN = ['<|eot_id|>', '<|eom_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>'] as const;

export class TextTokenizer {
  private readonly template: Template | null;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: Record<string, unknown>,
    private readonly source: string | null,
  ) {
    this.template = source ? withEnglishDates(new Template(source)) : null;
  }

  static fromJson(tokenizerJson: string, configJson: string, where = '.'): TextTokenizer {
    const tj = parseObject(tokenizerJson, `${where}/tokenizer.json`);
    const tc = parseObject(configJson, `${where}/tokenizer_config.json`);
    if (!isPlainObject(tj.model)) {
      throw new ModelFormatError('model section missing', { file: `${where}/tokenizer.json`, field: 'model' });
    }
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, tc);
    } catch (e) {
      throw new ModelFormatError(`tokenizer could not be built (${(e as Error).message})`, { file: `${where}/tokenizer.json` });
    }
    let template: string | null = null;
    const t = tc.chat_template;
    if (typeof t === 'string') template = t;
    else if (Array.isArray(t)) {
      const named = t.find((x) => isPlainObject(x) && x.name === 'default') ?? t[0];
      if (isPlainObject(named) && typeof named.template === 'string') template = named.template;
    }
    try {
      return new TextTokenizer(tok, tc, template);
    } catch (e) {
      throw new ModelFormatError(`chat_template does not parse (${(e as Error).message})`, {
        file: `${where}/tokenizer_config.json`,
        field: 'chat_template',
      });
    }
  }

  /** Token ids of `text`; `addSpecialTokens` adds what the tokenizer's post-processor adds (BOS for Llama). */
  encode(text: string, addSpecialTokens = false): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * The ids a reply ends at: the model's EOS ids and the vocabulary's end-of-turn tokens (END_OF_TURN), which end a
   * turn whatever config.json's eos_token_id says (Phi-3.5's names <|endoftext|>, yet its turns end with <|end|>).
   * Apart from the spec, which names the model in saved conversations' keys and stays as config.json has it.
   */
  endOfReplyIds(eosTokenIds: readonly number[], vocabSize: number): number[] {
    const vocab = this.tokenizer.get_vocab(true);
    const turns = END_OF_TURN.map((t) => vocab.get(t)).filter((id) => id !== undefined && id < vocabSize) as number[];
    return [...new Set([...eosTokenIds, ...turns])];
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  private texts: (string | null)[] | null = null;

  /**
   * Each token's text as it reads after other text (a SentencePiece "▁the" is " the" there, not "the"), by id;
   * null for special tokens and for tokens that are part of a character (byte-fallback pieces). Computed once:
   * constrained decoding matches tokens by their text.
   */
  tokenTexts(): readonly (string | null)[] {
    if (this.texts) return this.texts;
    const vocab = this.tokenizer.get_vocab(true);
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);
    const anchor = this.encode('a', false).at(-1)!;
    const base = this.decode([anchor]);
    const texts: (string | null)[] = new Array(size).fill(null);
    for (let id = 0; id < size; id++) {
      const full = this.decode([anchor, id]);
      const piece = full.startsWith(base) ? full.slice(base.length) : '';
      texts[id] = piece === '' || piece.includes('\uFFFD') ? null : piece;
    }
    this.texts = texts;
    return texts;
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** Render the model's chat template; models without one get a plain "role: content" transcript. */
  /** The template's text (null without one): what tool-call format the family uses is read from it. */
  get templateSource(): string | null {
    return this.source;
  }

  /**
   * `tools`: the functions the template shows the model (only templates that take a `tools` variable use them).
   * `kwargs`: more variables for the template (OpenAI-style servers' `chat_template_kwargs`, e.g. Qwen3's
   * `enable_thinking`); they cannot replace messages, tools or the generation prompt.
   */
  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true, tools?: readonly ToolDefinition[], kwargs: Record<string, unknown> = {}): string {
    if (!this.template) {
      return messages.map((m) => `${m.role}: ${m.content}\n`).join('') + (addGenerationPrompt ? 'assistant:' : '');
    }
    const str = (k: string): string => {
      const v = this.config[k];
      return typeof v === 'string' ? v : isPlainObject(v) && typeof v.content === 'string' ? v.content : '';
    };
    return this.template.render({
      ...kwargs,
      messages: messages.map(templateMessage),
      ...(tools?.length ? { tools: tools as unknown as Record<string, unknown>[] } : {}),
      add_generation_prompt: addGenerationPrompt,
      bos_token: str('bos_token'),
      eos_token: str('eos_token'),
      [STRFTIME_NOW]: strftimeNow,
    });
  }
}

const STRFTIME_NOW = '__xquant_strftime_now';

/** The template's first statement rebinds `strftime_now` to ours (@huggingface/jinja refuses render() variables that shadow its globals). */
function withEnglishDates(template: Template): Template {
  template.parsed.body.unshift(...parse(tokenize(`{% set strftime_now = ${STRFTIME_NOW} %}`)).body);
  return template;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * `strftime_now` for templates (Llama-3.2 writes "Today Date: " + strftime_now("%d %b %Y")), as Python's strftime in
 * the C locale formats it, like transformers: "26 Jul 2024". @huggingface/jinja's own names the month in the page's
 * locale ("26 juil. 2024" in French), a date format the model never saw.
 */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number) => String(n).padStart(2, '0');
  return String(format).replace(/%[YmdbBHM%]/g, (code) => {
    switch (code) {
      case '%Y':
        return String(d.getFullYear());
      case '%m':
        return pad2(d.getMonth() + 1);
      case '%d':
        return pad2(d.getDate());
      case '%b':
        return MONTHS[d.getMonth()].slice(0, 3);
      case '%B':
        return MONTHS[d.getMonth()];
      case '%H':
        return pad2(d.getHours());
      case '%M':
        return pad2(d.getMinutes());
      default:
        return '%';
    }
  });
}

function parseObject(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`not valid JSON (${(e as Error).message})`, { file });
  }
  if (!isPlainObject(v)) throw new ModelFormatError('not a JSON object', { file });
  return v;
}
