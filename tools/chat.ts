// npm run -s chat -- --model DIR|FILE.gguf --script FILE.json --max-tokens N [--greedy | --temperature T --seed S]
//   [--cache MODE|auto] [--memory-budget-mb N] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--no-reuse] [--json]
// Replays a conversation ({"system": "...", "turns": ["user text", ...]}) through the Engine, the code the Worker
// runs: each turn's prompt is the chat template over the conversation so far (replies included), and a kept
// conversation is reused unless --no-reuse. With --json, one line per turn: ids, text, usage (OpenAI's shape, with
// prompt_tokens_details.cached_tokens) and ttft_ms.

import { readFileSync } from 'node:fs';
import { Engine } from '../src/engine/engine';
import { generateRequest, usageOf } from '../src/engine/openai';
import { nodeModelSource } from '../src/model/node-file-source';
import { parseWeightFormat } from '../src/quant/weight-format';
import { referenceBackends } from '../src/reference/engine-backend';
import { defaultWeightFormat, loadPreparedModel } from '../src/storage/model-loader';
import type { ChatMessage } from '../src/tokenizer/tokenizer';
import { webGpuBackends } from '../src/webgpu/backend';
import { parseKernelChoice } from '../src/webgpu/kernel-family';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';
import { budgetMb, parseArgs, runCli, UsageError } from './cli-args';

const USAGE =
  'npm run -s chat -- --model DIR|FILE.gguf --script FILE.json --max-tokens N [--greedy | --temperature T --seed S] [--cache MODE|auto] [--memory-budget-mb N] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--kernels auto|rowwise|tiled] [--no-reuse] [--json]';

interface Script {
  system?: string;
  turns: string[];
}

function readScript(path: string): Script {
  let s: unknown;
  try {
    s = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--script ${path}: ${(e as Error).message}`);
  }
  const ok = (x: unknown): x is Script =>
    typeof x === 'object' && x !== null && Array.isArray((x as Script).turns) && (x as Script).turns.every((t) => typeof t === 'string');
  if (!ok(s) || (s.system !== undefined && typeof s.system !== 'string'))
    throw new UsageError(`--script ${path}: expected {"system"?: string, "turns": [string, ...]}`);
  return s;
}

await runCli(USAGE, async () => {
  const a = parseArgs(process.argv.slice(2), {
    model: 'string',
    script: 'string',
    'max-tokens': 'int',
    greedy: 'bool',
    temperature: 'string',
    seed: 'int',
    cache: 'string',
    'memory-budget-mb': 'string',
    backend: 'string',
    weights: 'string',
    kernels: 'string',
    'no-reuse': 'bool',
    json: 'bool',
  });
  if (!a.model || !a.script || a['max-tokens'] === undefined) throw new UsageError('--model, --script and --max-tokens are required');
  const backend = a.backend ?? 'webgpu';
  if (backend !== 'reference' && backend !== 'webgpu') throw new UsageError(`unknown backend '${backend}' (expected reference or webgpu)`);
  const script = readScript(a.script);
  const temperature = a.greedy ? 0 : Number(a.temperature ?? 0.8);
  if (!Number.isFinite(temperature)) throw new UsageError(`--temperature needs a number, got '${a.temperature}'`);
  const source = nodeModelSource(a.model);
  const format = a.weights ? parseWeightFormat(a.weights) : backend === 'reference' ? 'f32' : defaultWeightFormat(source);
  const { model } = await loadPreparedModel({ resolved: { id: `file:${a.model}`, revision: '', name: a.model, source }, format, cache: null });
  const engine = new Engine(backend === 'reference' ? referenceBackends : webGpuBackends(nodeGpu(), nodeShaders()));
  const summary = await engine.load(model, { memoryBudgetMB: budgetMb(a['memory-budget-mb']), kernels: parseKernelChoice(a.kernels ?? 'auto') });
  const messages: ChatMessage[] = script.system ? [{ role: 'system', content: script.system }] : [];
  for (const [turn, text] of script.turns.entries()) {
    messages.push({ role: 'user', content: text });
    const request = generateRequest(engine.chatPrompt(messages, undefined, !a['no-reuse']), {
      max_tokens: a['max-tokens'],
      temperature,
      seed: a.seed ?? 0,
      cache: a.cache,
      reuse: !a['no-reuse'],
      // A model without a chat template continues a plain "user: … assistant:" transcript (as the demo does).
      stop: summary.hasChatTemplate ? undefined : ['\nuser:', '\nassistant:'],
    });
    const it = engine.stream(request);
    let step = await it.next();
    while (!step.done) step = await it.next();
    const stats = step.value;
    messages.push({ role: 'assistant', content: stats.text });
    if (a.json)
      process.stdout.write(`${JSON.stringify({ turn, ids: stats.ids, text: stats.text, usage: usageOf(stats), ttft_ms: stats.timeToFirstTokenMs })}\n`);
    else
      process.stdout.write(
        `user: ${text}\nassistant: ${stats.text}\n  [${stats.promptTokens} prompt tokens, ${stats.cachedTokens} cached, first token ${stats.timeToFirstTokenMs.toFixed(0)} ms]\n`,
      );
  }
  engine.unload();
});
