import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedFieldError } from '../errors';
import {
  chatLogprobs,
  checkMessages,
  checkRequestFields,
  choiceSeeds,
  completionLogprobs,
  constraintOf,
  generateRequest,
  logprobsOf,
  requestTools,
  templateMessages,
  toolCallConstraint,
  usageOfChoices,
} from './openai';
import { TOOL_CALL_SHAPES } from './tool-calls';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('OpenAI request fields', () => {
  it('accepts every field the engine implements, and OpenAI fields at the value that asks for nothing', () => {
    const full = {
      messages,
      max_tokens: 8,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 40,
      seed: 1,
      stop: ['\n'],
      stream: true,
      cache: 'auto',
      truncation: 'auto',
      model: 'x',
      user: 'u',
    };
    expect(() => checkRequestFields(full, 'chat')).not.toThrow();
    const noOps = {
      n: 1,
      logprobs: false,
      top_logprobs: null,
      frequency_penalty: 0,
      presence_penalty: 0,
      response_format: { type: 'text' },
      stream_options: { include_usage: true },
    };
    expect(() => checkRequestFields({ messages, ...noOps }, 'chat')).not.toThrow();
    expect(() => checkRequestFields({ prompt: [1], tools: null, logit_bias: undefined }, 'completion')).not.toThrow();
  });

  it("context_shift is 'keep' or 'prefill' (absent: the engine's default), anything else a typed error", () => {
    expect(generateRequest([1], { context_shift: 'prefill' }).contextShift).toBe('prefill');
    expect(generateRequest([1], {}).contextShift).toBeUndefined();
    expect(() => generateRequest([1], { context_shift: 'maybe' as never })).toThrow(/context_shift: must be 'keep' or 'prefill'/);
  });

  it('refuses what it would otherwise ignore, naming the field and what it accepts', () => {
    const refused = (r: object, kind: 'chat' | 'completion' = 'chat') => {
      try {
        checkRequestFields(r, kind);
      } catch (e) {
        expect(e).toBeInstanceOf(UnsupportedFieldError);
        return e as UnsupportedFieldError;
      }
      throw new Error(`accepted ${JSON.stringify(r)}`);
    };
    expect(refused({ messages, functions: [] }).message).toBe(
      'functions: this request field is not implemented by this engine; expected only max_tokens, max_completion_tokens, temperature, top_p, top_k, min_p, n, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, seed, stop, stream, cache, truncation, reuse, context_shift, response_format, logprobs, model, user, messages, tools, tool_choice, parallel_tool_calls, top_logprobs, chat_template_kwargs; got []',
    );
    expect(refused({ prompt: 'x', top_logprobs: 2 }, 'completion')).toMatchObject({ field: 'top_logprobs' });
    expect(refused({ prompt: 'x', chat_template_kwargs: {} }, 'completion')).toMatchObject({ field: 'chat_template_kwargs' });
    expect(refused({ messages, stream_options: { include_usage: false } })).toMatchObject({ field: 'stream_options' });
    expect(refused({ prompt: 'x', messages }, 'completion')).toMatchObject({ field: 'messages' });
    expect(refused({ messages, prompt: 'x' })).toMatchObject({ field: 'prompt' });
    expect(() => checkMessages([{ role: 'user', content: 'x', name: 'bob' }])).toThrow(UnsupportedFieldError);
    expect(() => checkMessages([{ role: 'user', content: 'x', tool_call_id: 'c' }])).toThrow('messages[0].tool_call_id: this message field is not implemented');
    expect(() => checkMessages([{ role: 'user', content: 'x', name: 'bob' }])).toThrow('messages[0].name: this message field is not implemented');
  });

  it('takes max_completion_tokens as max_tokens, and refuses both at once', () => {
    expect(generateRequest([1], { max_completion_tokens: 7 }).maxTokens).toBe(7);
    expect(() => checkRequestFields({ messages, max_tokens: 5, max_completion_tokens: 7 }, 'chat')).toThrow(InvalidArgumentError);
  });

  it('maps penalties and logit_bias to the sampler, checked', () => {
    const o = generateRequest([1], { frequency_penalty: 0.5, logit_bias: { '42': -100, '7': 3 } }).sampling!;
    expect(o.penalties).toEqual({
      frequency: 0.5,
      presence: 0,
      repetition: 1,
      bias: new Map([
        [42, -100],
        [7, 3],
      ]),
    });
    expect(generateRequest([1], {}).sampling!.penalties).toBeUndefined();
    expect(() => generateRequest([1], { logit_bias: { x: 1 } })).toThrow(/logit_bias: keys must be token ids/);
  });

  it('tools: assistant calls and tool results are messages; auto, none, required and a named function pass; a forced call becomes a constraint', () => {
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const turn = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', content: '42', tool_call_id: 'call_1' },
    ];
    expect(() => checkMessages(turn)).not.toThrow();
    expect(templateMessages(turn as never)[1].content).toBe('');
    expect(() => checkMessages([{ role: 'tool', content: '42' }])).toThrow('messages[0].tool_call_id: must name the call it answers');
    expect(() => checkMessages([{ role: 'assistant', content: 'x', tool_calls: [{ id: 1 }] }])).toThrow(/messages\[0\]\.tool_calls/);
    const params = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const tools = [
      { type: 'function' as const, function: { name: 'f', parameters: params } },
      { type: 'function' as const, function: { name: 'g' } },
    ];
    expect(requestTools({ messages: [], tools })).toEqual(tools);
    expect(requestTools({ messages: [], tools, tool_choice: 'none' })).toBeUndefined();
    expect(requestTools({ messages: [] })).toBeUndefined();
    expect(requestTools({ messages: [], tools, tool_choice: 'required' })).toEqual(tools);
    expect(() => requestTools({ messages: [], tools, tool_choice: { type: 'function', function: { name: 'h' } } })).toThrow(
      /tool_choice.function.name: names no function/,
    );
    expect(() => requestTools({ messages: [], tools, parallel_tool_calls: false })).toThrow(UnsupportedFieldError);
    expect(() => requestTools({ messages: [], tools: [{ type: 'x' }] as never })).toThrow(/tools: must be/);
    expect(() => checkRequestFields({ messages: [], tools, tool_choice: 'auto' }, 'chat')).not.toThrow();
    const shape = TOOL_CALL_SHAPES.hermes;
    expect(toolCallConstraint({ messages: [], tools }, shape)).toBeUndefined();
    expect(toolCallConstraint({ messages: [], tools, tool_choice: 'required' }, shape)).toEqual({
      type: 'tool_calls',
      tools: [
        { name: 'f', parameters: params },
        { name: 'g', parameters: undefined },
      ],
      shape,
      parallel: true,
    });
    expect(toolCallConstraint({ messages: [], tools, tool_choice: { type: 'function', function: { name: 'g' } } }, shape)).toMatchObject({
      tools: [{ name: 'g' }],
      parallel: false,
    });
    expect(() => toolCallConstraint({ messages: [], tools, tool_choice: 'required', response_format: { type: 'json_object' } }, shape)).toThrow(
      /response_format/,
    );
  });

  it('response_format: json_object, json_schema, and the grammar and regex extensions become constraints; anything else is refused by name', () => {
    expect(constraintOf({ type: 'text' })).toBeUndefined();
    expect(constraintOf({ type: 'json_object' })).toEqual({ type: 'json_object' });
    expect(constraintOf({ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'integer' }, strict: true } })).toEqual({
      type: 'json_schema',
      schema: { type: 'integer' },
    });
    expect(constraintOf({ type: 'grammar', grammar: 'root ::= "a"' })).toEqual({ type: 'grammar', grammar: 'root ::= "a"' });
    expect(constraintOf({ type: 'regex', regex: 'a+' })).toEqual({ type: 'regex', regex: 'a+' });
    expect(() => constraintOf({ type: 'yaml' } as never)).toThrow(/response_format.type: unknown type/);
    expect(() => constraintOf({ type: 'json_schema', json_schema: { name: 'x', schema: {}, format: 1 } } as never)).toThrow(UnsupportedFieldError);
    expect(() => constraintOf({ type: 'json_object', schema: {} } as never)).toThrow(/response_format.schema/);
    expect(generateRequest([1], { response_format: { type: 'json_object' } }).constraint).toEqual({ type: 'json_object' });
  });

  it('logprobs: the chat (logprobs + top_logprobs) and completions (logprobs: n) fields, and their response shapes', () => {
    expect(logprobsOf({ messages, logprobs: true }, 'chat')).toBe(0);
    expect(logprobsOf({ messages, logprobs: true, top_logprobs: 3 }, 'chat')).toBe(3);
    expect(logprobsOf({ messages }, 'chat')).toBeUndefined();
    expect(() => logprobsOf({ messages, top_logprobs: 3 }, 'chat')).toThrow(/top_logprobs: needs logprobs: true/);
    expect(() => logprobsOf({ messages, logprobs: true, top_logprobs: 21 }, 'chat')).toThrow(/from 0 to 20/);
    expect(logprobsOf({ prompt: 'x', logprobs: 2 }, 'completion')).toBe(2);
    const entries = [{ id: 5, logprob: -0.25, top: [{ id: 5, logprob: -0.25 }] }];
    const text = (id: number) => (id === 5 ? ' é' : '?');
    expect(chatLogprobs(entries, text)).toEqual([
      { token: ' é', logprob: -0.25, bytes: [32, 195, 169], top_logprobs: [{ token: ' é', logprob: -0.25, bytes: [32, 195, 169] }] },
    ]);
    expect(completionLogprobs([...entries, { id: 6, logprob: -1, top: [] }], text, 10)).toEqual({
      tokens: [' é', '?'],
      token_logprobs: [-0.25, -1],
      top_logprobs: [{ ' é': -0.25 }, {}],
      text_offset: [10, 12],
    });
  });

  it("n choices: choice i samples with seed + i; the prompt counts once in usage, every choice's tokens add up", () => {
    expect(choiceSeeds({ seed: 5 })).toEqual([5]);
    expect(choiceSeeds({ seed: 5, n: 3 })).toEqual([5, 6, 7]);
    const random = choiceSeeds({ n: 2 });
    expect(random[1]).toBe(random[0] + 1);
    for (const n of [0, 17, 1.5]) expect(() => choiceSeeds({ n })).toThrow(/n: must be an integer from 1 to 16/);
    const stats = (ids: number[]) =>
      ({
        ids,
        text: '',
        finishReason: 'stop',
        promptTokens: 10,
        cachedTokens: 4,
        restoredTokens: 3,
        savedCacheNotes: ['a damaged saved conversation was deleted'] as string[],
        truncatedTokens: 0,
        cache: 'fp16',
        cacheBytes: 1,
        timeToFirstTokenMs: 5,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 2,
        seconds: 1,
      }) as const;
    expect(usageOfChoices([stats([1, 2]), stats([3])])).toMatchObject({
      prompt_tokens: 10,
      completion_tokens: 3,
      total_tokens: 13,
      time_to_first_token_ms: 5,
      prompt_tokens_details: { cached_tokens: 4 },
      restored_tokens: 3,
      saved_cache_notes: ['a damaged saved conversation was deleted'],
    });
  });
});
