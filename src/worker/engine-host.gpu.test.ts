// The engine Worker's API, driven in Node (dawn.node on SwiftShader) with an in-memory weight cache:
// OpenAI-shaped chat and completions, pushed streams, stop strings, the queue, abort, the cache.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheBytesPerToken, fp16KvBytesPerToken } from '../cache/cache-bytes';
import { parseCacheMode } from '../cache/cache-config';
import { latentBasesComputed } from '../cache/latents';
import { ReferenceBackend } from '../reference/backend';
import type { ChatCompletionChunk, CompletionChunk } from '../engine/openai';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { AbortedError, DeviceLostError, GpuOutOfMemoryError, InvalidArgumentError } from '../errors';
import { nodeGpu, nodeShaders } from '../webgpu/node-gpu';
import { logSumExp } from '../reference/ops';
import { MemoryChunkStore } from '../storage/chunk-store';
import { sharedModel, sharedPath } from '../test-support/shared-models';
import { EngineHost } from './engine-host';

const ORACLE = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338];

function pickedFiles(model: string): File[] {
  const dir = sharedPath(`models/${model}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => new File([readFileSync(join(dir, e.name))], e.name, { lastModified: statSync(join(dir, e.name)).mtimeMs }));
}

const store = new MemoryChunkStore();
const host = new EngineHost(nodeGpu(), nodeShaders(), store, 'http://localhost/');
let n = 0;
const id = () => `t${++n}`;

describe('EngineHost', () => {
  it('loads picked files, stores the prepared model, and loads it from the cache the second time', async () => {
    const phases: string[] = [];
    const bases = latentBasesComputed();
    const first = await host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K' }, { weights: 'f32', warmup: false }, (p) =>
      phases.push(p.phase),
    );
    expect(first.storage.state).toBe('stored');
    expect(first.spec.numLayers).toBe(5);
    expect(phases).toEqual(['upload']);
    expect(first.phases.read).toBeGreaterThan(0);
    expect(first.phases.cacheRead).toBe(0);
    phases.length = 0;
    const second = await host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K' }, { weights: 'f32' }, (p) => phases.push(p.phase));
    expect(second.storage).toEqual({ state: 'hit', bytes: first.storage.bytes });
    expect(phases).toEqual(expect.arrayContaining(['cache', 'upload', 'compile']));
    expect([second.phases.read, second.phases.pack]).toEqual([0, 0]);
    expect(second.phases.cacheRead).toBeGreaterThan(0);
    // Neither load nor an fp16 request computes xquant-gqa's factors.
    await host.completion(id(), { prompt: [1], max_tokens: 2, temperature: 0, cache: 'fp16' });
    expect(latentBasesComputed()).toBe(bases);
    expect(await host.listCachedModels()).toEqual([expect.objectContaining({ id: 'files:stories260K', format: 'f32', bytes: first.storage.bytes })]);
  });

  it('xquant-gqa makes its factors on first use and stores them: after a reload they come from the weight cache', async () => {
    const bases = latentBasesComputed();
    const ask = async () => (await host.completion(id(), { prompt: [1], max_tokens: 8, temperature: 0, cache: 'xquant-gqa-4' }))!.choices[0].token_ids;
    const first = await ask();
    expect(latentBasesComputed()).toBe(bases + 2 * 5);
    expect(await ask()).toEqual(first);
    expect(latentBasesComputed()).toBe(bases + 2 * 5);
    await host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K' }, { weights: 'f32', warmup: false });
    expect(await ask()).toEqual(first);
    expect(latentBasesComputed()).toBe(bases + 2 * 5);
  });

  it('text completions reproduce the greedy oracle from token ids, and report usage', async () => {
    const r = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'fp16' });
    expect(r!.choices[0].token_ids).toEqual(ORACLE);
    expect(r!.choices[0].text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(r!.choices[0].text).toBe((await sharedModel('stories260K')).tokenizer.decode(ORACLE)); // streamed text is decoded incrementally
    expect(r!.choices[0].finish_reason).toBe('length');
    expect(r!.usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 16, total_tokens: 17, cache_mode: 'fp16' });
    expect(r!.usage.cache_bytes).toBe(16 * 640); // 16 tokens in the cache (the last token is chosen, not run) x fp16 K+V bytes
    expect(r!.usage.decode_tokens_per_second).toBeGreaterThan(0);
  });

  it("a mode name with options ('xquant-2:hot=128', the tiered cache) runs and is reported by that name", async () => {
    const r = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'xquant-2:hot=128' });
    // The whole context sits in the hot tier, so attention reads fp16 K/V as the fp16 mode does.
    expect(r!.choices[0].token_ids).toEqual(ORACLE);
    expect(r!.usage.cache_mode).toBe('xquant-2:hot=128');
    const spec = (await sharedModel('stories260K')).spec;
    expect(r!.usage.cache_bytes).toBe(16 * (cacheBytesPerToken(spec, parseCacheMode('xquant-2')) + fp16KvBytesPerToken(spec)));
    await expect(host.completion(id(), { prompt: [1], max_tokens: 2, cache: 'xquant-2:hot=100' })).rejects.toThrow(/multiple of 128/);
    // A hot tier past the memory budget (here 1M tokens of fp16 K/V, 671 MB) is refused before a warm-up compile allocates it.
    await expect(host.prepareMode(id(), 'xquant-2:hot=1048576')).rejects.toThrow(GpuOutOfMemoryError);
  });

  it('scores a continuation teacher-forced under a cache mode, as the reference decoder computes it', async () => {
    const m = await sharedModel('stories260K');
    const referenceNll = async (mode: string) => {
      const s = new ReferenceBackend(m).createSession(parseCacheMode(mode));
      let logits = await s.forward([1], 'last');
      let nll = 0;
      for (const [i, id] of ORACLE.entries()) {
        if (i > 0) logits = await s.forward([ORACLE[i - 1]], 'last');
        nll += logSumExp(logits, 0, m.spec.vocabSize) - logits[id];
      }
      return nll / ORACLE.length;
    };
    const fp16 = await host.score(id(), { prompt: [1], continuation: ORACLE, cache: 'fp16' });
    expect(fp16).toMatchObject({ tokens: 16, cache: 'fp16' });
    expect(Math.abs(fp16.meanNll - (await referenceNll('fp16')))).toBeLessThan(1e-3);
    const x2 = await host.score(id(), { prompt: [1], continuation: ORACLE, cache: 'xquant-2' });
    expect(Math.abs(x2.meanNll - (await referenceNll('xquant-2')))).toBeLessThan(1e-2);
    // The greedy reply is the likeliest under fp16; 2-bit X costs some of that.
    expect(x2.meanNll).toBeGreaterThan(fp16.meanNll);
    // Text continuations are encoded without BOS, prompts through the chat template or with BOS.
    const text = m.tokenizer.decode(ORACLE);
    const byText = await host.score(id(), { prompt: [1], continuation: text, cache: 'fp16' });
    expect(byText.tokens).toBe(m.tokenizer.encode(text, false).length);
    await expect(host.score(id(), { prompt: [1], continuation: [], cache: 'fp16' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('prepareMode compiles a mode ahead (asynchronously): a request in it then compiles nothing', async () => {
    const ready = await host.prepareMode(id(), 'xquant-cl-4');
    expect(ready).toMatchObject({ cache: 'xquant-cl-4' });
    expect(ready.kernels).toBeGreaterThan(5);
    const before = host.status().compiledKernels;
    const r = await host.completion(id(), { prompt: [1, 403, 407], max_tokens: 6, temperature: 0, cache: 'xquant-cl-4' });
    expect(r!.choices[0].token_ids.length).toBe(6);
    expect(host.status().compiledKernels).toBe(before);
    expect((await host.prepareMode(id(), 'xquant-cl-4')).kernels).toBe(0);
    await expect(host.prepareMode(id(), 'xquant-9')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('load compiles the modes it is asked to prepare, in parallel: a request in one of them then compiles nothing', async () => {
    await expect(host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K' }, { weights: 'f32', prepare: ['xquant-9'] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const phases: string[] = [];
    const r = await host.load(
      id(),
      { files: pickedFiles('stories260K'), name: 'stories260K' },
      { weights: 'f32', cache: 'fp16', prepare: ['kivi-2', 'xquant-3'] },
      (p) => phases.push(`${p.phase} ${p.loaded}/${p.total}`),
    );
    expect(phases).toEqual(expect.arrayContaining(['compile 0/3', 'compile 3/3']));
    expect(r.phases.compile).toBeGreaterThan(0);
    const before = host.status().compiledKernels;
    for (const cache of ['kivi-2', 'xquant-3', 'fp16']) await host.completion(id(), { prompt: [1, 403, 407], max_tokens: 4, temperature: 0, cache });
    expect(host.status().compiledKernels).toBe(before);
  });

  it('a streamed chat completion pushes chunks whose content equals the non-streamed reply; usage on the last', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];
    // reuse: false: a kept conversation's quantized cache would give the second request other logits (docs/api.md).
    const whole = await host.chatCompletion(id(), { messages, max_tokens: 12, temperature: 0.8, seed: 5, cache: 'xquant-4', reuse: false });
    const chunks: ChatCompletionChunk[] = [];
    expect(
      await host.chatCompletion(
        id(),
        { messages, max_tokens: 12, temperature: 0.8, seed: 5, cache: 'xquant-4', stream: true, reuse: false },
        (e) => 'chunk' in e && chunks.push(e.chunk),
      ),
    ).toBeNull();
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant' });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(whole!.choices[0].message.content);
    expect(whole!.choices[0].message.content.length).toBeGreaterThan(10);
    const last = chunks.at(-1)!;
    expect(last.choices[0].finish_reason).toBe(whole!.choices[0].finish_reason);
    expect(last.usage).toMatchObject({ completion_tokens: whole!.usage.completion_tokens, cache_mode: 'xquant-4' });
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
  });

  it('n choices: choice i is what a request with seed + i gives; streamed, each choice under its index, usage once', async () => {
    const o = { prompt: [1], max_tokens: 8, temperature: 1, top_k: 20, cache: 'fp16' };
    const three = (await host.completion(id(), { ...o, seed: 7, n: 3 }))!;
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const [i, c] of three.choices.entries()) expect(c.token_ids).toEqual((await host.completion(id(), { ...o, seed: 7 + i }))!.choices[0].token_ids);
    expect(new Set(three.choices.map((c) => c.token_ids.join(' '))).size).toBeGreaterThan(1);
    expect(three.usage.completion_tokens).toBe(three.choices.reduce((a, c) => a + c.token_ids.length, 0));
    const chunks: ChatCompletionChunk[] = [];
    await host.chatCompletion(id(), { messages: [{ role: 'user', content: 'Once' }], max_tokens: 4, temperature: 1, seed: 3, n: 2, stream: true }, (e) => {
      if ('chunk' in e) chunks.push(e.chunk as ChatCompletionChunk);
    });
    expect([...new Set(chunks.map((c) => c.choices[0].index))]).toEqual([0, 1]);
    expect(chunks.filter((c) => c.choices[0].finish_reason !== null).map((c) => c.choices[0].index)).toEqual([0, 1]);
    expect(chunks.filter((c) => c.usage).length).toBe(1);
  });

  it('stops before a stop string and says so', async () => {
    const full = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0 });
    const text = full!.choices[0].text; // "Once upon a time, there was a little girl named Lily. ..."
    const chunks: CompletionChunk[] = [];
    await host.completion(
      id(),
      { prompt: [1], max_tokens: 16, temperature: 0, stop: ['little', 'girl'], stream: true },
      (e) => 'chunk' in e && chunks.push(e.chunk),
    );
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(text.slice(0, text.indexOf('little')));
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('queues requests in order; aborting a waiting one and a running one leaves the engine usable with its memory back where it was', async () => {
    const before = host.memory().gpu;
    const order: string[] = [];
    const a = host.completion('qa', { prompt: [1], max_tokens: 8, temperature: 0 }).then(() => order.push('a'));
    const chunks: CompletionChunk[] = [];
    const b = host.completion('qb', { prompt: [1], max_tokens: 400, temperature: 0, stream: true }, (e) => {
      if ('chunk' in e) chunks.push(e.chunk);
      if (chunks.length === 3) host.abort('qb'); // abort while decoding
    });
    const c = host.completion('qc', { prompt: [1], max_tokens: 8, temperature: 0 });
    const d = host.completion('qd', { prompt: [1], max_tokens: 8, temperature: 0 }).then(() => order.push('d'));
    host.abort('qc'); // abort while waiting
    await expect(b).rejects.toBeInstanceOf(AbortedError);
    await expect(c).rejects.toThrow('aborted during the queue');
    await Promise.all([a, d]);
    expect(order).toEqual(['a', 'd']);
    expect(chunks.length).toBeLessThan(10);
    expect(host.memory().gpu).toEqual(before);
  });

  it('aborts during prefill (between prompt slices)', async () => {
    const before = host.memory().gpu;
    const prompt = [1, ...Array.from({ length: 400 }, (_, i) => 300 + (i % 100))];
    const running = host.completion('prefill', { prompt, max_tokens: 4, temperature: 0, reuse: false });
    setTimeout(() => host.abort('prefill'), 0);
    await expect(running).rejects.toThrow('aborted during prefill');
    expect(host.memory().gpu).toEqual(before);
  });

  it('recovers from a lost device: the in-flight request fails typed, the model reloads from the weight cache, output is unchanged', async () => {
    const before = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'xquant-4' });
    const chunks: CompletionChunk[] = [];
    const inFlight = host.completion(id(), { prompt: [1], max_tokens: 300, temperature: 0, stream: true }, (e) => {
      if ('chunk' in e) chunks.push(e.chunk);
      if (chunks.length === 3) host.simulateDeviceLoss();
    });
    await expect(inFlight).rejects.toBeInstanceOf(DeviceLostError);
    const after = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'xquant-4' });
    expect(after!.choices[0].token_ids).toEqual(before!.choices[0].token_ids);
    expect(host.status()).toMatchObject({ deviceLosses: 1, recoveries: 1, lastRecovery: 'hit', loaded: true });
    expect(host.status().lastLoss).toMatch(/^destroyed/);
  });

  it("a prompt longer than the context is refused, or cut to its first tokens and its end with truncation 'auto'", async () => {
    const long = [1, ...Array.from({ length: 700 }, (_, i) => 259 + ((i * 37) % 250))];
    await expect(host.completion(id(), { prompt: long, max_tokens: 8, temperature: 0, cache: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'prompt',
    });
    const cut = await host.completion(id(), { prompt: long, max_tokens: 8, temperature: 0, cache: 'fp16', truncation: 'auto' });
    const kept = 512 - 8; // context 512, room for max_tokens
    expect(cut!.usage).toMatchObject({ prompt_tokens: kept, truncated_prompt_tokens: long.length - kept, completion_tokens: 8 });
    const same = await host.completion(id(), {
      prompt: [...long.slice(0, 4), ...long.slice(long.length - (kept - 4))],
      max_tokens: 8,
      temperature: 0,
      cache: 'fp16',
    });
    expect(cut!.choices[0].token_ids).toEqual(same!.choices[0].token_ids);
  });

  it("a conversation three times the context continues with truncation 'auto': old messages dropped whole, the reply equals a request of the kept ones", async () => {
    const messages: ChatMessage[] = [{ role: 'system', content: 'You tell short stories about animals.' }];
    for (let i = 0; i < 20; i++) {
      messages.push({ role: 'user', content: `Tell me story number ${i} about a cat who found a red ball in the garden.` });
      messages.push({ role: 'assistant', content: `Once upon a time a cat found a red ball, and story ${i} was a happy one.` });
    }
    messages.push({ role: 'user', content: 'And the last story?' });
    await expect(host.chatCompletion(id(), { messages, max_tokens: 8, temperature: 0, cache: 'fp16' })).rejects.toMatchObject({ field: 'prompt' });
    const r = (await host.chatCompletion(id(), { messages, max_tokens: 8, temperature: 0, cache: 'fp16', truncation: 'auto', reuse: false }))!;
    const dropped = r.usage.truncated_messages;
    expect(dropped).toBeGreaterThan(20); // the conversation is about 3 contexts long
    expect(dropped % 2).toBe(0); // whole exchanges: the kept history starts with a user message
    expect(r.usage.prompt_tokens + 8).toBeLessThanOrEqual(512);
    const kept = [messages[0], ...messages.slice(1 + dropped)];
    const same = (await host.chatCompletion(id(), { messages: kept, max_tokens: 8, temperature: 0, cache: 'fp16', reuse: false }))!;
    expect(r.choices[0].message.content).toBe(same.choices[0].message.content);
    expect(same.usage.prompt_tokens).toBe(r.usage.prompt_tokens);
  });

  it('rejects bad requests with typed errors that name the field', async () => {
    await expect(host.chatCompletion(id(), { messages: [{ role: 'robot' as 'user', content: 'x' }] })).rejects.toMatchObject({ field: 'messages[0].role' });
    await expect(host.completion(id(), { prompt: [1], max_tokens: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(host.completion(id(), { prompt: [1], cache: 'xquant-5' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(host.completion(id(), { prompt: [1], top_p: 2 })).rejects.toMatchObject({ field: 'top_p' });
    // An OpenAI field the engine does not implement is refused, not ignored.
    await expect(host.chatCompletion(id(), { messages: [{ role: 'user', content: 'x' }], functions: [] } as never)).rejects.toMatchObject({
      code: 'UNSUPPORTED_FIELD',
      field: 'functions',
    });
    // Tools need a template that teaches a call format (stories260K has no template at all), forced or not.
    const tools = [{ type: 'function' as const, function: { name: 'f' } }];
    await expect(host.chatCompletion(id(), { messages: [{ role: 'user', content: 'x' }], tools })).rejects.toMatchObject({
      code: 'UNSUPPORTED_FIELD',
      field: 'tools',
    });
    await expect(host.chatCompletion(id(), { messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'required' })).rejects.toMatchObject({
      field: 'tools',
    });
    // A schema keyword the engine does not implement is named; a vocabulary dead end is a GrammarError.
    const format = (schema: unknown) => ({ type: 'json_schema' as const, json_schema: { name: 's', schema } });
    await expect(
      host.chatCompletion(id(), { messages: [{ role: 'user', content: 'x' }], response_format: format({ type: 'string', contentMediaType: 'x' }) }),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED_FIELD', field: 'response_format.json_schema.schema.contentMediaType' });
    await expect(host.completion(id(), { prompt: [1], response_format: { type: 'regex', regex: '(a' } })).rejects.toMatchObject({ code: 'GRAMMAR' });
  });

  it('response_format json_schema: the reply parses and follows the schema, streamed or not, and ends where the JSON does', async () => {
    const schema = {
      type: 'object',
      properties: { hero: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 1, maximum: 99 } },
      required: ['hero', 'age'],
    };
    const r = { messages: [{ role: 'user' as const, content: 'A story as JSON.' }], max_tokens: 200, temperature: 1.2, seed: 9 };
    const response_format = { type: 'json_schema' as const, json_schema: { name: 'story', schema, strict: true } };
    const whole = (await host.chatCompletion(id(), { ...r, response_format }))!;
    const value = JSON.parse(whole.choices[0].message.content);
    expect(Object.keys(value)).toEqual(['hero', 'age']);
    expect(value.age >= 1 && value.age <= 99 && value.hero.length <= 10).toBe(true);
    expect(whole.choices[0].finish_reason).toBe('stop');
    const chunks: ChatCompletionChunk[] = [];
    await host.chatCompletion(id(), { ...r, response_format, stream: true }, (e) => 'chunk' in e && chunks.push(e.chunk));
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(whole.choices[0].message.content);
    const grammar = await host.completion(id(), {
      prompt: [1],
      max_tokens: 50,
      temperature: 0,
      response_format: { type: 'grammar', grammar: 'root ::= "Once" [a-z ]{1,12} "."' },
    });
    expect(grammar!.choices[0].text).toMatch(/^Once[a-z ]{1,12}\.$/);
  });

  it('logprobs: per generated token, with top alternatives; streamed chunks carry those of their tokens', async () => {
    const r = {
      messages: [{ role: 'user' as const, content: 'Tell me a story.' }],
      max_tokens: 10,
      temperature: 0.7,
      seed: 2,
      logprobs: true,
      top_logprobs: 3,
      reuse: false, // a reused prefix would re-run the prompt's last token alone: logits equal only to float rounding
    };
    const whole = (await host.chatCompletion(id(), r))!;
    const content = whole.choices[0].logprobs!.content;
    expect(content).toHaveLength(whole.usage.completion_tokens);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0].logprob).toBeGreaterThanOrEqual(t.logprob);
      expect(t.bytes).toEqual(Array.from(new TextEncoder().encode(t.token)));
    }
    const chunks: ChatCompletionChunk[] = [];
    await host.chatCompletion(id(), { ...r, stream: true }, (e) => 'chunk' in e && chunks.push(e.chunk));
    expect(chunks.flatMap((c) => c.choices[0].logprobs?.content ?? [])).toEqual(content);
    const legacy = (await host.completion(id(), { prompt: [1], max_tokens: 6, temperature: 0, logprobs: 2 }))!.choices[0];
    expect(legacy.logprobs!.tokens).toHaveLength(legacy.token_ids.length);
    expect(legacy.logprobs!.top_logprobs[0]).toHaveProperty([legacy.logprobs!.tokens[0]], legacy.logprobs!.token_logprobs[0]);
  });

  it('a conversation is kept: the next turn prefills only its new tokens (cached_tokens), memory lists it, an aborted prefill is kept too', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about a cat.' }];
    const first = (await host.chatCompletion(id(), { messages, max_tokens: 12, temperature: 0, cache: 'f32' }))!;
    const reply = first.choices[0].message.content;
    const turn2 = [...messages, { role: 'assistant' as const, content: reply }, { role: 'user' as const, content: 'And then?' }];
    const second = (await host.chatCompletion(id(), { messages: turn2, max_tokens: 12, temperature: 0, cache: 'f32' }))!;
    // The plain transcript of a template-less model repeats the first turn's prompt and reply: all of it was kept.
    expect(second.usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(first.usage.prompt_tokens);
    expect(second.usage.prompt_tokens_details.cached_tokens).toBeLessThan(second.usage.prompt_tokens);
    const fresh = (await host.chatCompletion(id(), { messages: turn2, max_tokens: 12, temperature: 0, cache: 'f32', reuse: false }))!;
    expect(fresh.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(second.choices[0].message.content).toBe(fresh.choices[0].message.content); // f32: the same reply either way
    expect(host.memory().sessions[0]).toMatchObject({ mode: 'f32', tokens: expect.any(Number) });
    // An aborted prefill keeps what it ran; the retry prefills the rest.
    const prompt = [1, ...Array.from({ length: 300 }, (_, i) => 300 + (i % 90))];
    const running = host.completion('kept-prefill', { prompt, max_tokens: 2, temperature: 0, cache: 'f32' });
    setTimeout(() => host.abort('kept-prefill'), 0);
    await expect(running).rejects.toThrow('aborted during prefill');
    const retry = (await host.completion(id(), { prompt, max_tokens: 2, temperature: 0, cache: 'f32' }))!;
    expect(retry.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('refuses a context whose cache does not fit the budget before allocating, and stays usable', async () => {
    await host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K' }, { weights: 'f32', memoryBudgetMB: 40_000 / 2 ** 20, warmup: false });
    const before = host.memory().gpu;
    const err = await host.completion(id(), { prompt: [1], max_tokens: 200, temperature: 0, cache: 'fp16' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err).toMatchObject({ requested: 201 * 640, budget: 40_000, field: 'memoryBudgetMB' });
    expect(host.memory().gpu).toEqual(before);
    const small = await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'fp16' });
    expect(small!.choices[0].token_ids).toEqual(ORACLE);
    // auto picks a mode that holds the context within the same budget, or says what it would need.
    const auto = await host.completion(id(), { prompt: [1], max_tokens: 200, temperature: 0 });
    expect(auto!.usage.cache_mode).not.toBe('fp16');
    expect(auto!.usage.cache_bytes).toBeLessThanOrEqual(40_000);
    await expect(host.completion(id(), { prompt: [1], max_tokens: 500, temperature: 0 })).rejects.toThrow(/no cache mode holds 501 tokens in 40000 bytes/);
  });
});
