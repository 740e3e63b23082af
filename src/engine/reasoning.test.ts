import { describe, expect, it } from 'vitest';
import { ReasoningStream, splitReasoning, templateThinks } from './reasoning';

/** The stream's pieces joined, for a reply cut into the given chunks. */
function streamed(chunks: string[]): { reasoning: string; content: string } {
  const s = new ReasoningStream();
  let reasoning = '';
  let content = '';
  for (const part of [...chunks.map((c) => s.push(c)), s.finish()]) {
    reasoning += part.reasoning ?? '';
    content += part.content;
  }
  return { reasoning, content };
}

describe('reasoning apart from the answer', () => {
  it('a finished reply: the leading think block is the reasoning, the rest the answer', () => {
    expect(splitReasoning('<think>\nThe user greets me.\n</think>\n\nHello!')).toEqual({ reasoning: 'The user greets me.', content: 'Hello!' });
    expect(splitReasoning('Hello!')).toEqual({ reasoning: null, content: 'Hello!' });
    // enable_thinking false: the template wrote an empty block into the prompt, the reply is all answer.
    expect(splitReasoning('\n\nHi there')).toEqual({ reasoning: null, content: '\n\nHi there' });
    // Cut off while thinking (max_tokens): all of it is reasoning.
    expect(splitReasoning('<think>\nLet me count: 1, 2')).toEqual({ reasoning: 'Let me count: 1, 2', content: '' });
  });

  it('streamed in any cut, the pieces join to what the finished reply splits into', () => {
    const reply = '<think>\nThe user greets me. I answer </th briefly.\n</think>\n\nHello! <b>Hi</b>';
    const whole = splitReasoning(reply);
    for (const size of [1, 2, 3, 5, 8, 13, 100]) {
      const chunks = Array.from({ length: Math.ceil(reply.length / size) }, (_, i) => reply.slice(i * size, (i + 1) * size));
      expect(streamed(chunks), `chunks of ${size}`).toEqual({ reasoning: whole.reasoning, content: whole.content });
    }
    expect(streamed(['<th', 'ink>a', '</thi', 'nk>b'])).toEqual({ reasoning: 'a', content: 'b' });
    expect(streamed(['<tho', 'ughts>'])).toEqual({ reasoning: '', content: '<thoughts>' });
  });

  it("a template thinks when it writes </think> (Qwen3's does; Qwen2.5's does not)", () => {
    expect(templateThinks("{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}")).toBe(true);
    expect(templateThinks('{{ messages }}')).toBe(false);
    expect(templateThinks(null)).toBe(false);
  });
});
