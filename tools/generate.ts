// npm run -s generate -- --model DIR|FILE.gguf (--prompt TEXT | --prompt-ids "1 403 ...") --max-tokens N [--greedy]
//   [--temperature T] [--top-k K] [--top-p P] [--seed S] [--cache MODE|auto] [--memory-budget-mb N] [--residual R]
// [--pin-layers P] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--kernels auto|rowwise|tiled]
// [--response-format FILE.json | --grammar FILE.gbnf] [--json]
// --response-format reads an OpenAI response_format object (json_object, json_schema, or the grammar / regex
// extensions); --grammar reads GBNF text. The output then follows it and ends where it does.

import { readFileSync } from 'node:fs';
import { cacheModeName, parseCacheMode } from '../src/cache/cache-config';
import { generateIds } from '../src/engine/generate';
import { autoCacheMode } from '../src/engine/planner';
import { GREEDY, type SamplingOptions } from '../src/engine/sampling';
import { budgetMb, parseArgs, runCli, UsageError } from './cli-args';
import { WebGpuBackend } from '../src/webgpu/backend';
import { checkCacheName, openBackend } from './open-backend';
import { constraintOf, type ResponseFormat } from '../src/engine/openai';
import { ConstraintCache, type ConstraintSpec, vocabularyFromTexts } from '../src/grammar/constraint';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function readJson(path: string): ResponseFormat {
  try {
    return JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${path} is not JSON: ${(e as Error).message}`);
  }
}

const USAGE =
  'npm run -s generate -- --model DIR|FILE.gguf (--prompt TEXT | --prompt-ids "1 403 ...") --max-tokens N [--greedy] ' +
  '[--temperature T] [--top-k K] [--top-p P] [--seed S] [--cache MODE|auto] [--memory-budget-mb N] [--residual R] [--pin-layers P] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--kernels auto|rowwise|tiled] [--response-format FILE.json | --grammar FILE.gbnf] [--json]';

await runCli(USAGE, async () => {
  const a = parseArgs(process.argv.slice(2), {
    model: 'string',
    prompt: 'string',
    'prompt-ids': 'string',
    'max-tokens': 'int',
    greedy: 'bool',
    temperature: 'string',
    'top-k': 'int',
    'top-p': 'string',
    seed: 'int',
    cache: 'string',
    'memory-budget-mb': 'string',
    residual: 'int',
    'pin-layers': 'int',
    backend: 'string',
    weights: 'string',
    kernels: 'string',
    'response-format': 'string',
    grammar: 'string',
    json: 'bool',
  });
  if (!a.model || a['max-tokens'] === undefined) throw new UsageError('--model and --max-tokens are required');
  if ((a.prompt === undefined) === (a['prompt-ids'] === undefined)) throw new UsageError('give exactly one of --prompt and --prompt-ids');
  const num = (v: string | undefined, name: string, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got '${v}'`);
    return n;
  };
  const sampling: SamplingOptions = a.greedy
    ? GREEDY
    : { temperature: num(a.temperature, 'temperature', 0.8), topK: a['top-k'] ?? 40, topP: num(a['top-p'], 'top-p', 0.95), seed: a.seed ?? 0 };
  if (a['response-format'] !== undefined && a.grammar !== undefined) throw new UsageError('give at most one of --response-format and --grammar');
  const spec: ConstraintSpec | undefined =
    a.grammar !== undefined
      ? { type: 'grammar', grammar: readText(a.grammar) }
      : a['response-format'] !== undefined
        ? constraintOf(readJson(a['response-format']))
        : undefined;
  const cacheOptions = { residual: a.residual, pinLayers: a['pin-layers'] };
  checkCacheName(a.cache ?? 'f32', cacheOptions, a.backend ?? 'reference'); // a bad mode fails before the model loads
  const opened = Date.now();
  const { model, backend, timings } = await openBackend(a.model, a.backend ?? 'reference', a.weights ?? 'f32', a.kernels ?? 'auto');
  const loadSeconds = (Date.now() - opened) / 1000;
  let promptIds: number[];
  if (a['prompt-ids'] !== undefined) {
    const parts = a['prompt-ids'].trim().split(/\s+/);
    if (!parts.every((p) => /^\d+$/.test(p))) throw new UsageError(`--prompt-ids needs space-separated token ids, got '${a['prompt-ids']}'`);
    promptIds = parts.map(Number);
  } else promptIds = model.tokenizer.encode(a.prompt as string, true);
  // auto: the smallest-loss mode whose cache holds the prompt and the reply within the budget (as ppl does).
  const budget = Math.round(budgetMb(a['memory-budget-mb']) * 2 ** 20);
  const context = Math.min(promptIds.length + a['max-tokens'], model.spec.maxPositionEmbeddings);
  const cache = a.cache === 'auto' ? autoCacheMode(model.spec, budget, context, { cache: cacheOptions }) : parseCacheMode(a.cache ?? 'f32', cacheOptions);
  // Once-per-model work of the mode (xquant-gqa's factors), timed apart from generation.
  const preparing = performance.now();
  await backend.prepare(cache);
  const prepareSeconds = (performance.now() - preparing) / 1000;
  const started = performance.now();
  const stopIds = model.tokenizer.endOfReplyIds(model.spec.eosTokenIds, model.spec.vocabSize);
  const constraint = spec
    ? new ConstraintCache(vocabularyFromTexts(model.tokenizer.tokenTexts(), model.spec.vocabSize, stopIds), stopIds).start(spec)
    : undefined;
  const ids = await generateIds(backend, promptIds, { maxTokens: a['max-tokens'], cache, sampling, stopIds, constraint });
  const seconds = (performance.now() - started) / 1000;
  const text = model.tokenizer.decode(ids);
  if (a.json) {
    // maxRSS is the process's peak resident memory (KiB): what a load costs the machine.
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    const out = {
      promptIds,
      ids,
      text,
      cache: cacheModeName(cache),
      memoryBudgetMb: budgetMb(a['memory-budget-mb']),
      backend: backend.name,
      kernels: backend instanceof WebGpuBackend ? backend.kernels : null,
      weights: a.weights ?? 'f32',
      seconds,
      loadSeconds,
      prepareSeconds,
      loadPhases: timings ?? null,
      peakRssMb,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else process.stdout.write(`${text}\n`);
});
