// Function calls in a model's reply, in the formats the supported families' chat templates teach:
//   hermes       Qwen2.5 / Qwen3: one `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` block per call,
//                text around them is content;
//   llama3-json  Llama-3.1 / 3.2: the whole reply is `{"name": …, "parameters": {…}}` (several joined by ';'),
//                optionally after <|python_tag|>.
//   phi4-mini    Phi-4-mini: the whole reply is a JSON array `[{"name": …, "arguments": {…}}, …]`. The model
//                writes it after its <|tool_call|> token (special: the reply's text does not show it); other
//                servers' templates teach a "functools" prefix (vLLM, SGLang) or a closing <|/tool_call|>
//                (Ollama): all are read.
// A reply whose calls do not parse is returned as plain content (finish_reason 'stop'): nothing is dropped, and
// the caller sees what the model wrote.

import type { ToolCallShape } from '../grammar/json-schema';
import type { ChatMessage, ToolCall, ToolDefinition } from '../tokenizer/tokenizer';

export type ToolCallFormat = 'hermes' | 'llama3-json' | 'phi4-mini';

/** How each format writes a call, for constraining a reply to calls (tool_choice 'required' or a named function). */
export const TOOL_CALL_SHAPES: Record<ToolCallFormat, ToolCallShape> = {
  hermes: { open: '<tool_call>\n', close: '\n</tool_call>', separator: '\n', argsKey: 'arguments' },
  'llama3-json': { open: '', close: '', separator: '; ', argsKey: 'parameters' },
  'phi4-mini': { open: '', close: '', separator: ', ', argsKey: 'arguments', around: ['[', ']'] },
};

/** The format a chat template teaches, from its text; null when it teaches none the engine reads. */
export function toolCallFormat(template: string | null): ToolCallFormat | null {
  if (!template) return null;
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('"parameters"') && template.includes('tools')) return 'llama3-json';
  if (template.includes('<|tool|>') && template.includes("message['tools']")) return 'phi4-mini';
  return null;
}

/** Phi-4-mini's tokens around a call list (Ollama's template writes both; the model card's replies end at <|end|>). */
const PHI4_CALL = '<|tool_call|>';
const PHI4_CALL_END = '<|/tool_call|>';
/** What vLLM's and SGLang's Phi-4-mini templates teach the model to write before the list. */
const FUNCTOOLS = 'functools';

/**
 * The messages as the format's template needs them, and the `tools` variable it reads (if any). Phi-4-mini's
 * template reads the tool list from the system message (`tools`, a JSON string of the functions, as the model card
 * passes it) and prints only an assistant turn's content. So the list goes into the system message (one worded as
 * the model card's is added where there is none), and an earlier turn's calls into its content, written as Ollama's
 * template writes them: `<|tool_call|>[{"name": …, "arguments": {…}}]<|/tool_call|>`. Otherwise nothing changes.
 */
export function templateToolMessages(
  format: ToolCallFormat | null,
  messages: ChatMessage[],
  tools: readonly ToolDefinition[] | undefined,
): { messages: ChatMessage[]; tools: readonly ToolDefinition[] | undefined } {
  if (format !== 'phi4-mini') return { messages, tools };
  const out: ChatMessage[] = messages.map((m) => {
    if (!m.tool_calls?.length) return m;
    // The caller's arguments text as it is where it is JSON (it reads as the model wrote it), else as a string.
    const args = (a: string) => (parseJson(a) === undefined ? JSON.stringify(a) : a);
    const calls = m.tool_calls.map((c) => `{"name": ${JSON.stringify(c.function.name)}, "arguments": ${args(c.function.arguments)}}`);
    return { ...m, tool_calls: undefined, content: `${m.content ?? ''}${PHI4_CALL}[${calls.join(', ')}]${PHI4_CALL_END}` };
  });
  if (tools?.length) {
    const list = JSON.stringify(tools.map((t) => t.function));
    const at = out.findIndex((m) => m.role === 'system');
    const system: ChatMessage & { tools: string } =
      at >= 0 ? { ...out[at], tools: list } : { role: 'system', content: 'You are a helpful assistant with some tools.', tools: list };
    if (at >= 0) out[at] = system;
    else out.unshift(system);
  }
  return { messages: out, tools: undefined };
}

export interface ParsedReply {
  /** Text outside the calls (null when there is none and calls were made). */
  content: string | null;
  toolCalls: ToolCall[];
}

const OPEN = '<tool_call>';
const CLOSE = '</tool_call>';
const PYTHON_TAG = '<|python_tag|>';

let nextCall = 0;
const callId = () => `call_${Date.now().toString(36)}${(++nextCall).toString(36)}`;

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/** One call from its JSON, or null when it is not a call (a name and an arguments / parameters object). */
function callOf(json: string, argsKey: 'arguments' | 'parameters'): ToolCall | null {
  return callFrom(parseJson(json), argsKey);
}

function callFrom(v: unknown, argsKey: 'arguments' | 'parameters'): ToolCall | null {
  const o = v as Record<string, unknown> | null | undefined;
  const args = o?.[argsKey] ?? o?.arguments ?? o?.parameters;
  if (!o || typeof o.name !== 'string' || typeof args !== 'object' || args === null || Array.isArray(args)) return null;
  return { id: callId(), type: 'function', function: { name: o.name, arguments: JSON.stringify(args) } };
}

/** The calls in a finished reply, or the reply as plain content when any call is malformed. */
export function parseToolCalls(text: string, format: ToolCallFormat): ParsedReply {
  const plain: ParsedReply = { content: text, toolCalls: [] };
  if (format === 'hermes') {
    if (!text.includes(OPEN)) return plain;
    const calls: ToolCall[] = [];
    let rest = '';
    let at = 0;
    for (;;) {
      const open = text.indexOf(OPEN, at);
      if (open < 0) break;
      const close = text.indexOf(CLOSE, open);
      if (close < 0) return plain; // cut off (max_tokens) or malformed
      const call = callOf(text.slice(open + OPEN.length, close).trim(), 'arguments');
      if (!call) return plain;
      calls.push(call);
      rest += text.slice(at, open);
      at = close + CLOSE.length;
    }
    rest = (rest + text.slice(at)).trim();
    return { content: rest || null, toolCalls: calls };
  }
  if (format === 'phi4-mini') return parsePhi4(text);
  const body = text.trim().replace(PYTHON_TAG, '').trim();
  if (!body.startsWith('{')) return plain;
  const calls = body.split(/;\s*(?=\{)/).map((part) => callOf(part, 'parameters'));
  if (calls.some((c) => c === null)) return plain;
  return { content: null, toolCalls: calls as ToolCall[] };
}

/** Phi-4-mini: the reply is a non-empty JSON array of calls, after an optional marker and before an optional end token. */
function parsePhi4(text: string): ParsedReply {
  let body = text.trim();
  for (const marker of [PHI4_CALL, FUNCTOOLS]) if (body.startsWith(marker)) body = body.slice(marker.length).trimStart();
  if (body.endsWith(PHI4_CALL_END)) body = body.slice(0, -PHI4_CALL_END.length).trimEnd();
  const list = body.startsWith('[') ? parseJson(body) : undefined;
  if (!Array.isArray(list) || list.length === 0) return { content: text, toolCalls: [] };
  const calls = list.map((v) => callFrom(v, 'arguments'));
  if (calls.some((c) => c === null)) return { content: text, toolCalls: [] };
  return { content: null, toolCalls: calls as ToolCall[] };
}

/** How a reply that is only calls starts (llama3-json, phi4-mini): held from the first of these on. */
const CALL_STARTS: Record<Exclude<ToolCallFormat, 'hermes'>, readonly string[]> = {
  'llama3-json': ['{', PYTHON_TAG],
  'phi4-mini': ['[', PHI4_CALL, FUNCTOOLS],
};

/**
 * Streaming: text that cannot be part of a call goes out as it comes; from a call's first character on, the
 * text is held until the reply ends, then parsed (calls, and any content after them) or let out as content.
 */
export class ToolCallStream {
  private text = '';
  /** Characters of `text` already shown. */
  private sent = 0;
  /** Everything from `sent` on is held until finish(): a call may have started. */
  private holding = false;
  /** A reply that is only calls (Llama-3 JSON, Phi-4-mini): its start has shown it is not one. */
  private plain = false;

  constructor(private readonly format: ToolCallFormat) {}

  /** The content that is safe to show now. */
  push(delta: string): string {
    this.text += delta;
    if (this.holding) return '';
    let until = this.text.length;
    if (this.format === 'hermes') {
      const open = this.text.indexOf(OPEN, this.sent);
      if (open >= 0) {
        this.holding = true;
        until = open;
      } else {
        // Keep back a tail that could still become "<tool_call>".
        for (let n = Math.min(OPEN.length - 1, this.text.length - this.sent); n > 0; n--) {
          if (OPEN.startsWith(this.text.slice(this.text.length - n))) {
            until = this.text.length - n;
            break;
          }
        }
      }
    } else if (!this.plain) {
      const start = this.text.trimStart();
      const starts = CALL_STARTS[this.format];
      if (starts.some((s) => start.startsWith(s))) this.holding = true;
      if (this.holding || starts.some((s) => s.startsWith(start))) return ''; // '' too: nothing shown yet
      this.plain = true;
    }
    const out = this.text.slice(this.sent, until);
    this.sent = until;
    return out;
  }

  /** At the end: the calls, and the content not shown yet (all of the held text when no call parses). */
  finish(): { content: string; toolCalls: ToolCall[] } {
    const parsed = parseToolCalls(this.text, this.format);
    const unsent = this.text.slice(this.sent);
    this.sent = this.text.length;
    if (!parsed.toolCalls.length) return { content: unsent, toolCalls: [] };
    // Content before the first call has gone out; the held text (every call) leaves the text between and after them.
    return { content: parseToolCalls(unsent, this.format).content ?? '', toolCalls: parsed.toolCalls };
  }
}
