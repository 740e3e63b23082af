import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedFieldError } from '../errors';
import { checkMessages, checkRequestFields, choiceSeeds, generateRequest, requestTools, templateMessages, usageOfChoices } from './openai';

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
      frequency_penalty: 0,
      presence_penalty: 0,
      response_format: { type: 'text' },
      stream_options: { include_usage: true },
    };
    expect(() => checkRequestFields({ messages, ...noOps }, 'chat')).not.toThrow();
    expect(() => checkRequestFields({ prompt: [1], tools: null, logit_bias: undefined }, 'completion')).not.toThrow();
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
      'functions: this request field is not implemented by this engine; expected only max_tokens, max_completion_tokens, temperature, top_p, top_k, min_p, n, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, seed, stop, stream, cache, truncation, model, user, messages, tools, tool_choice, parallel_tool_calls; got []',
    );
    expect(refused({ messages, response_format: { type: 'json_object' } })).toMatchObject({ field: 'response_format' });
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

  it('tools: assistant calls and tool results are messages; auto and none pass; a forced call is refused until constrained decoding exists', () => {
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
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    expect(requestTools({ messages: [], tools })).toEqual(tools);
    expect(requestTools({ messages: [], tools, tool_choice: 'none' })).toBeUndefined();
    expect(requestTools({ messages: [] })).toBeUndefined();
    expect(() => requestTools({ messages: [], tools, tool_choice: 'required' })).toThrow(UnsupportedFieldError);
    expect(() => requestTools({ messages: [], tools, tool_choice: { type: 'function', function: { name: 'f' } } })).toThrow(
      /tool_choice: a forced tool call needs constrained decoding/,
    );
    expect(() => requestTools({ messages: [], tools, parallel_tool_calls: false })).toThrow(UnsupportedFieldError);
    expect(() => requestTools({ messages: [], tools: [{ type: 'x' }] as never })).toThrow(/tools: must be/);
    expect(() => checkRequestFields({ messages: [], tools, tool_choice: 'auto' }, 'chat')).not.toThrow();
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
        truncatedTokens: 0,
        cache: 'fp16',
        cacheBytes: 1,
        timeToFirstTokenMs: 5,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 2,
        seconds: 1,
      }) as const;
    expect(usageOfChoices([stats([1, 2]), stats([3])])).toMatchObject({ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13, time_to_first_token_ms: 5 });
  });
});
