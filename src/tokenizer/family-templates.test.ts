// The chat templates of Phi-3.5-mini, Phi-4-mini and SmolLM3-3B as their GGUF files carry them, rendered by the
// engine for multi-turn conversations, with and without a system message, and (Phi-3.5) tokenized by Phi-3's real
// tokenizer. Sources, none copied here:
// - Phi-3.5-mini's and SmolLM3-3B's templates and Phi-3's vocabulary: the files llama.cpp tests itself with
//   (models/templates/*.jinja, models/ggml-vocab-phi-3.gguf), fetched by `npm run fixtures`. SmolLM3's is the one
//   Unsloth's GGUFs carry (its first lines say so). Phi-3.5's equals what Ollama's phi3.5 GGUF embeds (checked below).
// - Phi-4-mini's template: Ollama's phi4-mini GGUF, from @huggingface/ollama-utils' table (a devDependency).
// Expected strings were written from reading each template; the ids of plain text come from a tokenizer that gives
// llama.cpp's ids on llama.cpp's own tokenizer test (llama-cpp-vocab.test.ts), and the special ids are the vocabulary's.
// Not covered: SmolLM3's and Phi-4-mini's own tokenizers (no npm package ships them), so their prompts are checked
// as text only.

import { describe, expect, it } from 'vitest';
import { ollamaGgufTemplate } from '../test-support/chat-templates';
import { LLAMA_CPP_DIR, llamaCppTemplate, llamaCppVocabTokenizer } from '../test-support/llama-cpp-files';
import { templateThinks } from '../engine/reasoning';
import { chatPromptIds } from '../engine/prompt';
import { templateToolMessages, toolCallFormat } from '../engine/tool-calls';
import { CATALOG } from '../model/catalog';
import { readGgufHeader } from '../model/gguf';
import { parseModelTexts } from '../model/load-model';
import { NodeFolderSource } from '../model/node-file-source';
import { ggufTokenizerFiles } from './gguf-tokenizer';
import type { ChatMessage } from './tokenizer';

const PIRATE: ChatMessage[] = [
  { role: 'system', content: 'You are a pirate.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Arr!' },
  { role: 'user', content: 'Where is the gold?' },
];
const NO_SYSTEM = PIRATE.slice(1);

// Phi-3's vocabulary: <s> 1, <|endoftext|> 32000, <|assistant|> 32001, <|system|> 32006, <|end|> 32007, <|user|> 32010.
const P = { bos: 1, eot: 32000, assistant: 32001, system: 32006, end: 32007, user: 32010 };

describe("Phi-3.5-mini's template with Phi-3's tokenizer (llama.cpp's ggml-vocab-phi-3.gguf)", () => {
  const phi = (name?: string) =>
    llamaCppVocabTokenizer('phi-3', {
      'tokenizer.chat_template': llamaCppTemplate('microsoft-Phi-3.5-mini-instruct'),
      ...(name ? { 'general.name': name } : {}),
    });

  it('is the template Ollama embeds in its phi3.5 GGUF', () => {
    expect(ollamaGgufTemplate('phi3.5:3.8b')).toBe(llamaCppTemplate('microsoft-Phi-3.5-mini-instruct'));
  });

  it('renders a multi-turn conversation with a system message, and its ids', async () => {
    const t = await phi();
    const text = t.applyChatTemplate(PIRATE);
    expect(text).toBe(
      '<|system|>\nYou are a pirate.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nArr!<|end|>\n<|user|>\nWhere is the gold?<|end|>\n<|assistant|>\n',
    );
    // The chat tokens eat the newline after them, as llama.cpp makes them for a file named Phi3 (this one).
    expect(t.encode(text, true)).toEqual([
      1, 32006, 887, 526, 263, 21625, 403, 29889, 32007, 32010, 6324, 32007, 32001, 25681, 29991, 32007, 32010, 6804, 338, 278, 7684, 29973, 32007, 32001,
    ]);
    expect(t.encode(text, true)).toEqual([
      P.bos,
      P.system,
      ...t.encode('You are a pirate.'),
      P.end,
      P.user,
      ...t.encode('Hi'),
      P.end,
      P.assistant,
      ...t.encode('Arr!'),
      P.end,
      P.user,
      ...t.encode('Where is the gold?'),
      P.end,
      P.assistant,
    ]);
    expect(t.decode(t.encode(text, true), false)).toBe(
      '<s><|system|> You are a pirate.<|end|><|user|> Hi<|end|><|assistant|> Arr!<|end|><|user|> Where is the gold?<|end|><|assistant|>',
    );
  });

  it('renders without a system message (and skips an empty one); without a generation prompt it ends with EOS', async () => {
    const t = await phi();
    const expected = '<|user|>\nHi<|end|>\n<|assistant|>\nArr!<|end|>\n<|user|>\nWhere is the gold?<|end|>\n';
    expect(t.applyChatTemplate(NO_SYSTEM)).toBe(`${expected}<|assistant|>\n`);
    expect(t.applyChatTemplate([{ role: 'system', content: '' }, ...NO_SYSTEM])).toBe(`${expected}<|assistant|>\n`);
    expect(t.applyChatTemplate(NO_SYSTEM, false)).toBe(`${expected}<|endoftext|>`);
    expect(t.encode(t.applyChatTemplate(NO_SYSTEM, false), true).at(-1)).toBe(P.eot);
  });

  it('a reply ends at <|end|> although config.json names <|endoftext|> as EOS (the shape of Phi-3.5-mini)', async () => {
    const { metadata } = await readGgufHeader(new NodeFolderSource(`${LLAMA_CPP_DIR}/models`), 'ggml-vocab-phi-3.gguf');
    const files = ggufTokenizerFiles(metadata, 'ggml-vocab-phi-3.gguf');
    // Phi-3.5-mini's shape from the curated list, with config.json's EOS.
    const config = { ...CATALOG.find((e) => e.name === 'Phi-3.5-mini')!.config, max_position_embeddings: 4096, bos_token_id: 1, eos_token_id: 32000 };
    const { spec, tokenizer } = parseModelTexts(
      { config: JSON.stringify(config), tokenizer: files.tokenizer, tokenizerConfig: files.tokenizerConfig },
      'phi-3',
    );
    expect(tokenizer.endOfReplyIds(spec.eosTokenIds, spec.vocabSize)).toEqual([P.eot, P.end]);
    // The spec stays as config.json says: it names the model in saved conversations' keys.
    expect(spec.eosTokenIds).toEqual([P.eot]);
  });

  it('the tokens that keep the whitespace after them (<s>, <unk>, <|endoftext|>); a user-defined </s> eats it; names like Phi-3-mini-4k-instruct match', async () => {
    const t = await phi();
    expect(t.encode('<|endoftext|> x')).toEqual([P.eot, 29871, 921]);
    expect(t.encode('<unk> x')).toEqual([0, 29871, 921]);
    expect(t.encode('Hi</s> x')).toEqual([6324, 2, 921]);
    expect(t.encode('<|end|> x')).toEqual([P.end, 921]);
    expect((await phi('Phi-3-mini-4k-instruct')).encode('<|end|> x')).toEqual([P.end, 921]);
  });

  it("a file whose name is not Phi-3's keeps the newlines, as llama.cpp does", async () => {
    const t = await phi('Phi 3.5 Mini Instruct');
    expect(t.encode('<|user|>\nHi<|end|>\n<|assistant|>\n')).toEqual([P.user, 29871, 13, 18567, P.end, 29871, 13, P.assistant, 29871, 13]);
  });
});

describe("SmolLM3-3B's template (the one in Unsloth's GGUFs, as llama.cpp tests it)", () => {
  let built: ReturnType<typeof llamaCppVocabTokenizer> | undefined;
  const smol = () => (built ??= llamaCppVocabTokenizer('llama-bpe', { 'tokenizer.chat_template': llamaCppTemplate('HuggingFaceTB-SmolLM3-3B') }));
  const header = (mode: '/think' | '/no_think', instructions: string) =>
    `<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nReasoning Mode: ${mode}\n\n## Custom Instructions\n\n${instructions}\n\n<|im_end|>\n`;

  it('thinks by default: its reasoning instructions, then the turns; the engine splits its <think> replies', async () => {
    const text = (await smol()).applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    const intro = `${header('/think', 'You are a helpful AI assistant named SmolLM, trained by Hugging Face.').slice(0, -'\n\n<|im_end|>\n'.length)} Your role`;
    expect(text.startsWith(intro)).toBe(true);
    expect(text).toContain('using the specified format: <think> Thought section </think> Solution section.');
    expect(text.endsWith('reach the conclusion.\n\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(templateThinks(llamaCppTemplate('HuggingFaceTB-SmolLM3-3B'))).toBe(true);
  });

  it('enable_thinking: false writes an empty think block into the generation prompt', async () => {
    const text = (await smol()).applyChatTemplate([{ role: 'user', content: 'Hi' }], true, undefined, { enable_thinking: false });
    expect(text).toBe(
      `${header('/no_think', 'You are a helpful AI assistant named SmolLM, trained by Hugging Face.')}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n`,
    );
  });

  it('a system message with /no_think: its text (flag removed) as the instructions, empty think blocks on every reply', async () => {
    const t = await smol();
    const text = t.applyChatTemplate([{ role: 'system', content: 'You are a pirate. /no_think' }, ...NO_SYSTEM]);
    expect(text).toBe(
      `${header('/no_think', 'You are a pirate.')}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\nArr!<|im_end|>\n` +
        '<|im_start|>user\nWhere is the gold?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n',
    );
  });

  it("a tool's result goes back as a user turn; a reply's leading newlines are dropped", async () => {
    const t = await smol();
    const text = t.applyChatTemplate([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '\n\nLet me check.' },
      { role: 'tool', content: '{"temp": 21}' },
    ]);
    expect(text).toBe(
      `${header('/think', 'Be brief.')}<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\nLet me check.<|im_end|>\n<|im_start|>user\n{"temp": 21}<|im_end|>\n<|im_start|>assistant\n`,
    );
  });
});

describe("Phi-4-mini's template (Ollama's phi4-mini GGUF)", () => {
  const phi4 = () => llamaCppVocabTokenizer('gpt-2', { 'tokenizer.chat_template': ollamaGgufTemplate('phi4-mini:3.8b') });

  it('renders multi-turn conversations with and without a system message, no newlines between turns', async () => {
    const t = await phi4();
    expect(t.applyChatTemplate(PIRATE)).toBe(
      '<|system|>You are a pirate.<|end|><|user|>Hi<|end|><|assistant|>Arr!<|end|><|user|>Where is the gold?<|end|><|assistant|>',
    );
    expect(t.applyChatTemplate(NO_SYSTEM)).toBe('<|user|>Hi<|end|><|assistant|>Arr!<|end|><|user|>Where is the gold?<|end|><|assistant|>');
    expect(t.applyChatTemplate(NO_SYSTEM, false)).toBe('<|user|>Hi<|end|><|assistant|>Arr!<|end|><|user|>Where is the gold?<|end|><|endoftext|>');
  });

  it("takes its tools in the system message (SmolLM3's teaches no format the engine reads: `tools` there is refused, not dropped)", () => {
    expect(toolCallFormat(ollamaGgufTemplate('phi4-mini:3.8b'))).toBe('phi4-mini');
    expect(toolCallFormat(ollamaGgufTemplate('phi4-mini-reasoning:3.8b'))).toBe('phi4-mini');
    expect(toolCallFormat(llamaCppTemplate('HuggingFaceTB-SmolLM3-3B'))).toBeNull();
    expect(toolCallFormat(llamaCppTemplate('Qwen-Qwen3-0.6B'))).toBe('hermes');
  });

  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const list = '[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]';
  const render = async (messages: ChatMessage[]) => {
    const shown = templateToolMessages('phi4-mini', messages, tools);
    expect(shown.tools).toBeUndefined(); // the template does not read `tools`: the list is in the system message
    return (await phi4()).applyChatTemplate(shown.messages, true, shown.tools);
  };

  it('tools: the list (the functions, as the model card gives them) in the system message, or in one worded as the model card has it', async () => {
    expect(await render(PIRATE)).toBe(
      `<|system|>You are a pirate.<|tool|>${list}<|/tool|><|end|><|user|>Hi<|end|><|assistant|>Arr!<|end|><|user|>Where is the gold?<|end|><|assistant|>`,
    );
    expect(await render(NO_SYSTEM)).toBe(
      `<|system|>You are a helpful assistant with some tools.<|tool|>${list}<|/tool|><|end|><|user|>Hi<|end|><|assistant|>Arr!<|end|><|user|>Where is the gold?<|end|><|assistant|>`,
    );
  });

  it("an earlier turn's calls are written into it as Ollama's template writes them, the result as a tool turn; without tools too", async () => {
    const turns: ChatMessage[] = [
      { role: 'user', content: 'Weather in Bath?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Bath"}' } }] },
      { role: 'tool', content: '{"temp": 21}', tool_call_id: 'c1' },
    ];
    expect(await render(turns)).toBe(
      `<|system|>You are a helpful assistant with some tools.<|tool|>${list}<|/tool|><|end|><|user|>Weather in Bath?<|end|>` +
        '<|assistant|><|tool_call|>[{"name": "get_weather", "arguments": {"city": "Bath"}}]<|/tool_call|><|end|><|tool|>{"temp": 21}<|end|><|assistant|>',
    );
    // A later request without tools still shows the call (the template alone would print an empty turn).
    const plain = templateToolMessages('phi4-mini', turns, undefined);
    expect((await phi4()).applyChatTemplate(plain.messages)).toBe(
      '<|user|>Weather in Bath?<|end|><|assistant|><|tool_call|>[{"name": "get_weather", "arguments": {"city": "Bath"}}]<|/tool_call|><|end|><|tool|>{"temp": 21}<|end|><|assistant|>',
    );
    // The engine's prompts go this way: the ids of the same text.
    const t = await phi4();
    expect(t.decode(chatPromptIds(t, turns, [], tools), false)).toBe(await render(turns));
    // Other formats' templates print calls themselves: their messages pass unchanged.
    expect(templateToolMessages('hermes', turns, tools)).toEqual({ messages: turns, tools });
  });
});
