// OpenAI-compatible request and response shapes for chat and text completions, and the translation to
// and from the engine's GenerateRequest / GenerationStats. Extensions are marked: the cache mode per
// request, `token_ids` on completion choices, and speed and cache figures in `usage`.

import { InvalidArgumentError, UnsupportedFieldError } from '../errors';
import type { ChatMessage, ToolCall, ToolDefinition } from '../tokenizer/tokenizer';
import type { ContextShift, GenerateRequest, GenerationStats } from './engine';
import type { ConstraintSpec } from '../grammar/constraint';
import type { ToolCallShape } from '../grammar/json-schema';
import type { SamplingOptions, TokenLogprob } from './sampling';

interface SamplingFields {
  max_tokens?: number;
  /** OpenAI's newer name for max_tokens (one of the two). */
  max_completion_tokens?: number;
  /** OpenAI's default is 1. 0 means greedy. */
  temperature?: number;
  top_p?: number;
  /** Extension: 0 (default) means no top-k cut. */
  top_k?: number;
  /** Extension (as in llama.cpp's and vLLM's servers): keep tokens with at least min_p x the top token's probability. */
  min_p?: number;
  /** Subtracted per occurrence of a token in the reply so far, in [-2, 2]. */
  frequency_penalty?: number;
  /** Subtracted once for a token that occurs in the reply so far, in [-2, 2]. */
  presence_penalty?: number;
  /** Extension (Hugging Face's): for tokens of the prompt or the reply, a positive logit is divided by it, a negative one multiplied. */
  repetition_penalty?: number;
  /** Token id (as a string key) -> bias added to its logit, in [-100, 100]. */
  logit_bias?: Record<string, number>;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  /** Choices to generate (1 by default, at most MAX_CHOICES): choice i samples with seed + i, each with its own prefill. */
  n?: number;
  /** Extension: the cache mode for this request ('auto' by default). */
  cache?: string;
  /**
   * As in OpenAI's Responses API: 'disabled' (default) refuses a prompt longer than the context; 'auto' drops chat
   * messages whole, oldest first (never a system message or the last), and a completion prompt's middle, keeping its
   * first tokens.
   */
  truncation?: 'disabled' | 'auto';
  /** Extension: reuse a kept conversation's cache for the prompt's shared start (default true); false runs the whole prompt. */
  reuse?: boolean;
  /**
   * Extension: when older messages of a kept conversation were dropped (truncation 'auto'), 'keep' keeps the later
   * messages' cache entries at re-based positions, 'prefill' runs them again (default: DEFAULT_CONTEXT_SHIFT).
   */
  context_shift?: ContextShift;
  /**
   * Structured output: { type: 'text' } (default), { type: 'json_object' }, { type: 'json_schema', json_schema: { name,
   * schema, strict? } }; extensions: { type: 'grammar', grammar: GBNF text } and { type: 'regex', regex }.
   */
  response_format?: ResponseFormat;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: unknown; strict?: boolean | null; description?: string } }
  | { type: 'grammar'; grammar: string }
  | { type: 'regex'; regex: string };

/** Most alternatives per token that logprobs returns. */
export const MAX_TOP_LOGPROBS = 20;

/** Which function the model may call: any or none (`auto`, the default with tools), or a forced call (the reply is then constrained to calls). */
export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatCompletionRequest extends SamplingFields {
  messages: ChatMessage[];
  /** Return each generated token's log-probability (of the model's raw distribution). */
  logprobs?: boolean;
  /** With logprobs: this many most likely alternatives per token (0 to MAX_TOP_LOGPROBS). */
  top_logprobs?: number;
  /** Functions the chat template shows the model; its calls come back as `tool_calls`. */
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  /** Several calls in one reply (true, the default; false is enforced where calls are forced, and refused with 'auto'). */
  parallel_tool_calls?: boolean;
  /** Variables for the chat template, as vLLM and llama.cpp's server take them (Qwen3: `{ enable_thinking: false }`). */
  chat_template_kwargs?: Record<string, unknown>;
  model?: string;
  /** OpenAI's end-user id: informational, kept nowhere. */
  user?: string;
}

export interface CompletionRequest extends SamplingFields {
  /** Text (encoded with BOS) or token ids. */
  prompt: string | number[];
  /** Return each token's log-probability and this many alternatives (the legacy completions shape). */
  logprobs?: number;
  model?: string;
  user?: string;
}

const COMMON_FIELDS = [
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'n',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'logit_bias',
  'seed',
  'stop',
  'stream',
  'cache',
  'truncation',
  'reuse',
  'context_shift',
  'response_format',
  'logprobs',
  'model',
  'user',
];
const CHAT_FIELDS = new Set([...COMMON_FIELDS, 'messages', 'tools', 'tool_choice', 'parallel_tool_calls', 'top_logprobs', 'chat_template_kwargs']);
const COMPLETION_FIELDS = new Set([...COMMON_FIELDS, 'prompt']);

/**
 * OpenAI fields accepted only at the value that asks for nothing, so clients that always send them work:
 * usage on the last chunk (as this engine sends it).
 */
const NO_OP_FIELDS: Record<string, { ok: (v: unknown) => boolean; expected: string }> = {
  stream_options: {
    ok: (v) => JSON.stringify(v) === '{"include_usage":true}',
    expected: '{ include_usage: true } (usage always comes on the last chunk)',
  },
};

/**
 * Refuse what the engine would otherwise ignore: a field it does not implement (tools, logit_bias, ...)
 * or a no-op field at another value is an UnsupportedFieldError naming it; null and undefined count as absent.
 */
export function checkRequestFields(r: object, kind: 'chat' | 'completion'): void {
  const known = kind === 'chat' ? CHAT_FIELDS : COMPLETION_FIELDS;
  for (const [field, value] of Object.entries(r)) {
    if (value === undefined || value === null || known.has(field)) continue;
    const noOp = NO_OP_FIELDS[field];
    if (noOp?.ok(value)) continue;
    throw new UnsupportedFieldError(noOp ? 'this value is not implemented' : 'this request field is not implemented by this engine', {
      field,
      expected: noOp ? noOp.expected : `only ${[...known].join(', ')}`,
      got: JSON.stringify(value)?.slice(0, 80),
    });
  }
  const mc = (r as SamplingFields).max_completion_tokens;
  if (mc !== undefined && mc !== null && (r as SamplingFields).max_tokens !== undefined && (r as SamplingFields).max_tokens !== null) {
    throw new InvalidArgumentError('max_tokens and max_completion_tokens are the same limit: give one', { field: 'max_completion_tokens' });
  }
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** cached_tokens: prompt tokens a kept conversation already held (not run again). */
  prompt_tokens_details: { cached_tokens: number };
  // Extensions:
  prefill_tokens_per_second: number;
  decode_tokens_per_second: number;
  time_to_first_token_ms: number;
  cache_mode: string;
  cache_bytes: number;
  /** Prompt tokens dropped by `truncation: 'auto'`. */
  truncated_prompt_tokens: number;
  /** Chat messages dropped whole by `truncation: 'auto'` (the oldest, never a system message or the last). */
  truncated_messages: number;
  /** Of cached_tokens, those restored from a saved conversation (IndexedDB) rather than a kept one. */
  restored_tokens: number;
  /** Of cached_tokens, those kept across a context shift (entries after dropped messages, positions re-based). */
  shifted_tokens: number;
  /** Saved conversations that could not be used (stale or damaged, deleted), when there were any. */
  saved_cache_notes?: string[];
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  /** content is '' (not null) when the reply is only function calls. */
  choices: {
    index: number;
    /** reasoning_content: a reasoning model's thinking, apart from the answer (src/engine/reasoning.ts). */
    message: { role: 'assistant'; content: string; reasoning_content?: string; tool_calls?: ToolCall[] };
    finish_reason: FinishReason;
    logprobs?: { content: ChatTokenLogprob[] } | null;
  }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; reasoning_content?: string; tool_calls?: (ToolCall & { index: number })[] };
    finish_reason: FinishReason | null;
    /** The tokens chosen since the previous chunk, when logprobs were asked for. */
    logprobs?: { content: ChatTokenLogprob[] } | null;
  }[];
  /** Only on the last chunk. */
  usage?: Usage;
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason /** Extension */; token_ids: number[]; logprobs?: CompletionLogprobs | null }[];
  usage: Usage;
}

export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: FinishReason | null; logprobs?: CompletionLogprobs | null }[];
  usage?: Usage;
}

export const DEFAULT_MAX_TOKENS = 256;

/** The penalty fields as the sampler's Penalties (undefined when none is set). */
function penaltiesOf(r: SamplingFields): SamplingOptions['penalties'] {
  const set = (v: unknown) => v !== undefined && v !== null;
  if (![r.frequency_penalty, r.presence_penalty, r.repetition_penalty, r.logit_bias].some(set)) return undefined;
  const bias = new Map<number, number>();
  if (set(r.logit_bias)) {
    if (typeof r.logit_bias !== 'object' || Array.isArray(r.logit_bias))
      throw new InvalidArgumentError('must be an object of token id -> bias', { field: 'logit_bias' });
    for (const [key, value] of Object.entries(r.logit_bias!)) {
      const id = Number(key);
      if (!/^\d+$/.test(key) || !Number.isSafeInteger(id)) throw new InvalidArgumentError('keys must be token ids', { field: 'logit_bias', got: key });
      bias.set(id, value);
    }
  }
  return { frequency: r.frequency_penalty ?? 0, presence: r.presence_penalty ?? 0, repetition: r.repetition_penalty ?? 1, bias };
}

export function samplingOf(r: SamplingFields): SamplingOptions {
  return {
    temperature: r.temperature ?? 1,
    topP: r.top_p ?? 1,
    topK: r.top_k ?? 0,
    minP: r.min_p ?? 0,
    penalties: penaltiesOf(r),
    seed: r.seed ?? Math.floor(Math.random() * 2 ** 31),
  };
}

const MESSAGE_KEYS: Record<ChatMessage['role'], readonly string[]> = {
  system: ['role', 'content'],
  user: ['role', 'content'],
  assistant: ['role', 'content', 'tool_calls', 'reasoning_content'],
  tool: ['role', 'content', 'tool_call_id'],
};

/**
 * Messages as the engine reads them, checked: roles system, user, assistant (with `tool_calls`, content may then
 * be null) and tool (with `tool_call_id`); any other message field is refused.
 */
export function checkMessages(messages: unknown): asserts messages is ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidArgumentError('must be a non-empty array', { field: 'messages', expected: '[{ role, content }, ...]' });
  }
  messages.forEach((m: Record<string, unknown>, i) => {
    const keys = MESSAGE_KEYS[String(m?.role) as ChatMessage['role']];
    if (!keys)
      throw new InvalidArgumentError('unknown role', { field: `messages[${i}].role`, expected: 'system, user, assistant or tool', got: String(m?.role) });
    const calls = m.tool_calls;
    if (calls !== undefined && calls !== null) {
      const ok =
        Array.isArray(calls) &&
        calls.every((c) => typeof c?.id === 'string' && typeof c?.function?.name === 'string' && typeof c?.function?.arguments === 'string');
      if (!ok) throw new InvalidArgumentError('must be [{ id, type: "function", function: { name, arguments } }]', { field: `messages[${i}].tool_calls` });
    }
    const contentOk = typeof m.content === 'string' || (m.content === null && Array.isArray(calls));
    if (!contentOk) throw new InvalidArgumentError('must be a string', { field: `messages[${i}].content`, got: typeof m.content });
    if (m.reasoning_content !== undefined && m.reasoning_content !== null && typeof m.reasoning_content !== 'string')
      throw new InvalidArgumentError('must be a string', { field: `messages[${i}].reasoning_content`, got: typeof m.reasoning_content });
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string')
      throw new InvalidArgumentError('must name the call it answers', { field: `messages[${i}].tool_call_id` });
    for (const key of Object.keys(m)) {
      if (!keys.includes(key) && m[key] != null) {
        throw new UnsupportedFieldError('this message field is not implemented by this engine', { field: `messages[${i}].${key}`, expected: keys.join(', ') });
      }
    }
  });
}

/** chat_template_kwargs, checked: a plain object of JSON values, or absent. */
export function templateKwargs(r: ChatCompletionRequest): Record<string, unknown> {
  const k = r.chat_template_kwargs;
  if (k === undefined || k === null) return {};
  if (typeof k !== 'object' || Array.isArray(k))
    throw new InvalidArgumentError('must be an object of template variables', {
      field: 'chat_template_kwargs',
      expected: '{ "enable_thinking": false }',
      got: JSON.stringify(k),
    });
  return k;
}

/** Messages with a null content (an assistant turn that only called tools) as empty text, for the template. */
export function templateMessages(messages: ChatMessage[]): ChatMessage[] {
  return messages.map((m) => (m.content === null ? { ...m, content: '' } : m));
}

/**
 * The tools a request shows the model, checked; undefined when there are none or `tool_choice` is 'none'.
 * `parallel_tool_calls: false` can be enforced only where calls are forced (toolCallConstraint); with 'auto' it is refused.
 */
export function requestTools(r: ChatCompletionRequest): ToolDefinition[] | undefined {
  const tools = r.tools ?? [];
  if (!Array.isArray(tools) || !tools.every((t) => t?.type === 'function' && typeof t.function?.name === 'string')) {
    throw new InvalidArgumentError('must be [{ type: "function", function: { name, description?, parameters? } }]', { field: 'tools' });
  }
  const choice = r.tool_choice ?? 'auto';
  const named = typeof choice === 'object' && choice !== null && choice.type === 'function' && typeof choice.function?.name === 'string';
  if (choice !== 'auto' && choice !== 'none' && choice !== 'required' && !named) {
    throw new InvalidArgumentError("must be 'auto', 'none', 'required' or { type: 'function', function: { name } }", {
      field: 'tool_choice',
      got: JSON.stringify(choice),
    });
  }
  if (choice !== 'none' && choice !== 'auto' && tools.length === 0) throw new InvalidArgumentError('a forced call needs tools', { field: 'tool_choice' });
  if (named && !tools.some((t) => t.function.name === choice.function.name)) {
    throw new InvalidArgumentError('names no function of tools', { field: 'tool_choice.function.name', got: choice.function.name });
  }
  if (r.parallel_tool_calls === false && choice === 'auto' && tools.length) {
    throw new UnsupportedFieldError("one call per reply is enforced only with tool_choice 'required' or a named function", {
      field: 'parallel_tool_calls',
      expected: "true with tool_choice 'auto'",
    });
  }
  return tools.length && choice !== 'none' ? tools : undefined;
}

/**
 * For a forced call (tool_choice 'required' or a named function): the constraint that makes the reply only calls
 * in the template's format, each call's arguments valid under its function's parameters schema.
 */
export function toolCallConstraint(r: ChatCompletionRequest, shape: ToolCallShape): ConstraintSpec | undefined {
  const choice = r.tool_choice ?? 'auto';
  if (choice === 'auto' || choice === 'none' || !r.tools?.length) return undefined;
  if (r.response_format && r.response_format.type !== 'text')
    throw new InvalidArgumentError('a forced tool call and response_format both constrain the reply: give one', { field: 'response_format' });
  const tools = (typeof choice === 'object' ? r.tools.filter((t) => t.function.name === choice.function.name) : r.tools).map((t) => ({
    name: t.function.name,
    parameters: t.function.parameters,
  }));
  return { type: 'tool_calls', tools, shape, parallel: choice === 'required' && r.parallel_tool_calls !== false };
}

/** The engine request for a prompt (ids) and the OpenAI sampling fields. */
export function generateRequest(prompt: number[] | string, r: SamplingFields, signal?: AbortSignal): GenerateRequest {
  return {
    prompt,
    maxTokens: r.max_tokens ?? r.max_completion_tokens ?? DEFAULT_MAX_TOKENS,
    cache: r.cache,
    sampling: samplingOf(r),
    stop: r.stop === undefined ? [] : Array.isArray(r.stop) ? r.stop : [r.stop],
    truncation: r.truncation,
    reuse: r.reuse,
    contextShift: contextShiftOf(r.context_shift),
    constraint: constraintOf(r.response_format),
    signal,
  };
}

function contextShiftOf(v: unknown): ContextShift | undefined {
  if (v === undefined || v === 'keep' || v === 'prefill') return v;
  throw new InvalidArgumentError("must be 'keep' or 'prefill'", { field: 'context_shift', got: JSON.stringify(v) });
}

/** response_format as the engine's constraint (undefined for plain text). */
export function constraintOf(f: ResponseFormat | null | undefined): ConstraintSpec | undefined {
  if (f === undefined || f === null) return undefined;
  const field = 'response_format';
  if (typeof f !== 'object') throw new InvalidArgumentError('must be an object', { field, got: JSON.stringify(f) });
  const keys = (allowed: string[]) => {
    for (const k of Object.keys(f)) if (!allowed.includes(k)) throw new UnsupportedFieldError('this field is not implemented', { field: `${field}.${k}` });
  };
  switch (f.type) {
    case 'text':
      keys(['type']);
      return undefined;
    case 'json_object':
      keys(['type']);
      return { type: 'json_object' };
    case 'json_schema': {
      keys(['type', 'json_schema']);
      const js = f.json_schema;
      if (typeof js !== 'object' || js === null || typeof js.name !== 'string')
        throw new InvalidArgumentError('must be { name, schema, strict? }', { field: `${field}.json_schema` });
      for (const k of Object.keys(js))
        if (!['name', 'schema', 'strict', 'description'].includes(k))
          throw new UnsupportedFieldError('this field is not implemented', { field: `${field}.json_schema.${k}` });
      return { type: 'json_schema', schema: js.schema ?? {} };
    }
    case 'grammar':
      keys(['type', 'grammar']);
      if (typeof f.grammar !== 'string') throw new InvalidArgumentError('must be GBNF text', { field: `${field}.grammar` });
      return { type: 'grammar', grammar: f.grammar };
    case 'regex':
      keys(['type', 'regex']);
      if (typeof f.regex !== 'string') throw new InvalidArgumentError('must be a regular expression', { field: `${field}.regex` });
      return { type: 'regex', regex: f.regex };
    default:
      throw new InvalidArgumentError('unknown type', {
        field: `${field}.type`,
        expected: 'text, json_object, json_schema, grammar or regex',
        got: String((f as { type: unknown }).type),
      });
  }
}

/** How many alternatives per token a request's logprobs asks for (undefined: no logprobs). */
export function logprobsOf(r: ChatCompletionRequest | CompletionRequest, kind: 'chat' | 'completion'): number | undefined {
  const check = (n: unknown, field: string): number => {
    if (!(Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_TOP_LOGPROBS))
      throw new InvalidArgumentError(`must be an integer from 0 to ${MAX_TOP_LOGPROBS}`, { field, got: String(n) });
    return n as number;
  };
  if (kind === 'completion') {
    const n = (r as CompletionRequest).logprobs;
    return n === undefined || n === null ? undefined : check(n, 'logprobs');
  }
  const c = r as ChatCompletionRequest;
  if (c.logprobs !== undefined && c.logprobs !== null && typeof c.logprobs !== 'boolean')
    throw new InvalidArgumentError('must be a boolean', { field: 'logprobs' });
  const top = c.top_logprobs ?? undefined;
  if (top !== undefined && !c.logprobs) throw new InvalidArgumentError('needs logprobs: true', { field: 'top_logprobs' });
  return c.logprobs ? (top === undefined ? 0 : check(top, 'top_logprobs')) : undefined;
}

/** One token's entry in a chat choice's logprobs.content. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** Chat logprobs entries for recorded tokens; `text` gives a token's text. */
export function chatLogprobs(entries: readonly TokenLogprob[], text: (id: number) => string): ChatTokenLogprob[] {
  const bytes = (t: string) => Array.from(new TextEncoder().encode(t));
  return entries.map((e) => ({
    token: text(e.id),
    logprob: e.logprob,
    bytes: bytes(text(e.id)),
    top_logprobs: e.top.map((a) => ({ token: text(a.id), logprob: a.logprob, bytes: bytes(text(a.id)) })),
  }));
}

/** The legacy completions logprobs object. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export function completionLogprobs(entries: readonly TokenLogprob[], text: (id: number) => string, offset = 0): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const e of entries) {
    const t = text(e.id);
    out.tokens.push(t);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(Object.fromEntries(e.top.map((a) => [text(a.id), a.logprob])));
    out.text_offset.push(at);
    at += t.length;
  }
  return out;
}

export function usageOf(s: GenerationStats): Usage {
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.ids.length,
    total_tokens: s.promptTokens + s.ids.length,
    prompt_tokens_details: { cached_tokens: s.cachedTokens },
    prefill_tokens_per_second: s.prefillTokensPerSecond,
    decode_tokens_per_second: s.decodeTokensPerSecond,
    time_to_first_token_ms: s.timeToFirstTokenMs,
    cache_mode: s.cache,
    cache_bytes: s.cacheBytes,
    truncated_prompt_tokens: s.truncatedTokens,
    truncated_messages: s.truncatedMessages ?? 0,
    restored_tokens: s.restoredTokens,
    shifted_tokens: s.shiftedTokens ?? 0,
    ...(s.savedCacheNotes?.length ? { saved_cache_notes: s.savedCacheNotes } : {}),
  };
}

/** Most choices one request may ask for (each runs its own prefill: the prompt's cache is not shared yet). */
export const MAX_CHOICES = 16;

/** The request's choice count and the seed of each choice (seed + i: a given seed reproduces every choice). */
export function choiceSeeds(r: SamplingFields): number[] {
  const n = r.n ?? 1;
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_CHOICES))
    throw new InvalidArgumentError(`must be an integer from 1 to ${MAX_CHOICES}`, { field: 'n', got: String(n) });
  const base = r.seed ?? Math.floor(Math.random() * 2 ** 31);
  return Array.from({ length: n }, (_, i) => base + i);
}

/** Usage of several choices: the prompt once, every choice's completion tokens; speed, time and cache figures are the first choice's. */
export function usageOfChoices(stats: readonly GenerationStats[]): Usage {
  const first = usageOf(stats[0]);
  const completion = stats.reduce((a, s) => a + s.ids.length, 0);
  return { ...first, completion_tokens: completion, total_tokens: first.prompt_tokens + completion };
}

let counter = 0;
export function completionId(prefix: 'chatcmpl' | 'cmpl'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}${counter.toString(36)}`;
}
