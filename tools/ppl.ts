// npm run -s ppl -- --model DIR|FILE.gguf --text FILE --ctx N --windows W [--cache MODE|auto] [--memory-budget-mb N]
// [--residual R] [--pin-layers P] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--kernels
// auto|rowwise|tiled] [--json]

import { readFile } from 'node:fs/promises';
import { cacheModeName, parseCacheMode } from '../src/cache/cache-config';
import { cacheBytesPerToken, fp16KvBytesPerToken } from '../src/cache/cache-bytes';
import { autoCacheMode, planCache } from '../src/engine/planner';
import { evaluatePerplexity } from '../src/eval/perplexity';
import { budgetMb, parseArgs, runCli, UsageError } from './cli-args';
import { checkCacheName, openBackend } from './open-backend';

const USAGE =
  'npm run -s ppl -- --model DIR|FILE.gguf --text FILE --ctx N --windows W [--cache MODE|auto] [--memory-budget-mb N] [--residual R] [--pin-layers P] [--backend reference|webgpu] [--weights f32|f16|q8|q4|native] [--kernels auto|rowwise|tiled] [--json]';

await runCli(USAGE, async () => {
  const a = parseArgs(process.argv.slice(2), {
    model: 'string',
    text: 'string',
    ctx: 'int',
    windows: 'int',
    cache: 'string',
    residual: 'int',
    'pin-layers': 'int',
    'memory-budget-mb': 'string',
    backend: 'string',
    weights: 'string',
    kernels: 'string',
    json: 'bool',
  });
  if (!a.model || !a.text || a.ctx === undefined || a.windows === undefined) throw new UsageError('--model, --text, --ctx and --windows are required');
  const cacheOptions = { residual: a.residual, pinLayers: a['pin-layers'] };
  checkCacheName(a.cache ?? 'f32', cacheOptions, a.backend ?? 'reference'); // a bad mode fails before the model loads
  const { model, backend } = await openBackend(a.model, a.backend ?? 'reference', a.weights ?? 'f32', a.kernels ?? 'auto');
  const budget = Math.round(budgetMb(a['memory-budget-mb']) * 2 ** 20);
  const plan = planCache(model.spec, budget, a.ctx, { cache: cacheOptions });
  const cache = a.cache === 'auto' ? autoCacheMode(model.spec, budget, a.ctx, { cache: cacheOptions }) : parseCacheMode(a.cache ?? 'f32', cacheOptions);
  const text = (await readFile(a.text, 'utf8')).replace(/\r\n/g, '\n');
  const ids = model.tokenizer.encode(text, false);
  const bos = model.spec.bosTokenId ?? 1;
  const started = performance.now();
  const r = await evaluatePerplexity(backend, ids, { ctx: a.ctx, windows: a.windows, bos, cache });
  const result = {
    model: a.model,
    text: a.text,
    backend: backend.name,
    weights: a.weights ?? 'f32',
    cache: cacheModeName(cache),
    residual: cache.residual,
    pinLayers: cache.pinLayers,
    ctx: a.ctx,
    windows: r.windows,
    scoredTokens: r.scoredTokens,
    ppl: r.ppl,
    meanNll: r.meanNll,
    cacheBytesPerToken: cacheBytesPerToken(model.spec, cache),
    fp16KvBytesPerToken: fp16KvBytesPerToken(model.spec),
    seconds: (performance.now() - started) / 1000,
    plan,
  };
  if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(`memory plan for ${a.ctx} tokens in ${budget / 2 ** 20} MiB (auto: ${plan.auto ?? 'none fits'}):\n`);
    for (const m of plan.modes) process.stdout.write(`  ${m.mode.padEnd(12)} ${String(m.bytesPerToken).padStart(7)} B/token, holds ${m.maxContext} tokens\n`);
    process.stdout.write(
      `${result.cache}: ppl ${result.ppl.toFixed(4)} over ${result.scoredTokens} tokens; ` +
        `${result.cacheBytesPerToken} cache bytes/token (fp16 KV ${result.fp16KvBytesPerToken})\n`,
    );
  }
});
