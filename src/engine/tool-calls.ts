// Function calls in a model's reply, in the formats the supported families' chat templates teach:
//   hermes       Qwen2.5 / Qwen3: one `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` block per call,
//                text around them is content;
//   llama3-json  Llama-3.1 / 3.2: the whole reply is `{"name": …, "parameters": {…}}` (several joined by ';'),
//                optionally after <|python_tag|>.
// A reply whose calls do not parse is returned as plain content (finish_reason 'stop'): nothing is dropped, and
// the caller sees what the model wrote.

import type { ToolCallShape } from '../grammar/json-schema';
import type { ToolCall } from '../tokenizer/tokenizer';

export type ToolCallFormat = 'hermes' | 'llama3-json';

/** How each format writes a call, for constraining a reply to calls (tool_choice 'required' or a named function). */
export const TOOL_CALL_SHAPES: Record<ToolCallFormat, ToolCallShape> = {
  hermes: { open: '<tool_call>\n', close: '\n</tool_call>', separator: '\n', argsKey: 'arguments' },
  'llama3-json': { open: '', close: '', separator: '; ', argsKey: 'parameters' },
};

/** The format a chat template teaches, from its text; null when it teaches none the engine reads. */
export function toolCallFormat(template: string | null): ToolCallFormat | null {
  if (!template) return null;
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('"parameters"') && template.includes('tools')) return 'llama3-json';
  return null;
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

/** One call from its JSON, or null when it is not a call (a name and an arguments / parameters object). */
function callOf(json: string, argsKey: 'arguments' | 'parameters'): ToolCall | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  const o = v as Record<string, unknown> | null;
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
  const body = text.trim().replace(PYTHON_TAG, '').trim();
  if (!body.startsWith('{')) return plain;
  const calls = body.split(/;\s*(?=\{)/).map((part) => callOf(part, 'parameters'));
  if (calls.some((c) => c === null)) return plain;
  return { content: null, toolCalls: calls as ToolCall[] };
}

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
  /** Llama-3 JSON: the reply's start has shown it is not a call. */
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
      if (start.startsWith('{') || start.startsWith(PYTHON_TAG)) this.holding = true;
      if (this.holding || start === '' || PYTHON_TAG.startsWith(start)) return '';
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
