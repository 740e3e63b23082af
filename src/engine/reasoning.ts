// Reasoning models (Qwen3, DeepSeek-R1 and their distillations) think between <think> and </think> before they
// answer. As OpenAI-style servers do (vLLM's reasoning parsers, llama.cpp's reasoning_format), the thinking comes
// back apart from the answer: `message.reasoning_content`, or `delta.reasoning_content` while streaming. Applies
// to models whose chat template writes think blocks; the template also drops them from earlier turns.

const OPEN = '<think>';
const CLOSE = '</think>';

/** Whether a chat template writes think blocks: its replies are then split. */
export function templateThinks(source: string | null): boolean {
  return source?.includes(CLOSE) ?? false;
}

export interface SplitReply {
  /** The thinking (null: the reply did not think). */
  reasoning: string | null;
  content: string;
}

/** A finished reply: a leading <think>…</think> block apart from the answer (cut off while thinking: all reasoning). */
export function splitReasoning(text: string): SplitReply {
  const s = text.trimStart();
  if (!s.startsWith(OPEN)) return { reasoning: null, content: text };
  const rest = s.slice(OPEN.length);
  const close = rest.indexOf(CLOSE);
  if (close < 0) return { reasoning: rest.trim(), content: '' };
  return { reasoning: rest.slice(0, close).trim(), content: rest.slice(close + CLOSE.length).trimStart() };
}

/** The longest end of `text` that could still grow into `tag`. */
function partialTail(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (tag.startsWith(text.slice(text.length - n))) return n;
  return 0;
}

/** A streamed reply split as it arrives: each push returns what may be shown now, as reasoning or as content. */
export class ReasoningStream {
  private state: 'start' | 'thinking-start' | 'thinking' | 'answer-start' | 'answer' = 'start';
  private pending = '';

  push(delta: string): SplitReply {
    this.pending += delta;
    let reasoning = '';
    let content = '';
    for (;;) {
      if (this.state === 'start') {
        const s = this.pending.trimStart();
        if (s.startsWith(OPEN)) {
          this.pending = s.slice(OPEN.length);
          this.state = 'thinking-start';
        } else if (s.length === 0 || OPEN.startsWith(s))
          break; // may still become <think>
        else this.state = 'answer';
      } else if (this.state === 'thinking-start' || this.state === 'answer-start') {
        // Whitespace after a tag is not part of what follows it.
        this.pending = this.pending.trimStart();
        if (this.pending.length === 0) break;
        this.state = this.state === 'thinking-start' ? 'thinking' : 'answer';
      } else if (this.state === 'thinking') {
        const close = this.pending.indexOf(CLOSE);
        if (close < 0) {
          // Held back: a tail that may become </think>, and trailing whitespace (dropped if </think> follows it).
          let cut = this.pending.length - partialTail(this.pending, CLOSE);
          while (cut > 0 && /\s/.test(this.pending[cut - 1])) cut--;
          reasoning += this.pending.slice(0, cut);
          this.pending = this.pending.slice(cut);
          break;
        }
        reasoning += this.pending.slice(0, close).trimEnd();
        this.pending = this.pending.slice(close + CLOSE.length);
        this.state = 'answer-start';
      } else {
        content += this.pending;
        this.pending = '';
        break;
      }
    }
    return { reasoning: reasoning || null, content };
  }

  /** What is left at the end: text held back as a possible tag. */
  finish(): SplitReply {
    const rest = this.pending;
    this.pending = '';
    if (this.state === 'thinking' || this.state === 'thinking-start') return { reasoning: rest.trim() || null, content: '' };
    return { reasoning: null, content: this.state === 'start' || this.state === 'answer' ? rest : '' };
  }
}
