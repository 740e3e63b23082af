// npm run ppl-compare [-- --windows 2,4,2 --from 0,0,0 --models stories260K --summarize]
// Perplexity of every cache mode on the WebGPU engine and on the CPU reference, same windows, same (f32)
// weights: the check that each GPU mode is the reference's mode.
//
// In a quantized mode every token is a decode step, slow on an emulated GPU (stories260K, all 14 modes:
// ~7 min per window on SwiftShader, ~1.5 min on Mesa 25 lavapipe via tools/lavapipe.sh), so the
// protocol's 32 / 64 / 32 windows take hours. Runs are therefore resumable: each (model, mode, window
// range) appends its NLL sums and the WebGPU adapter to a log (bench/results/ppl-gpu-vs-cpu-windows.jsonl);
// `--from` picks the first window, and every run (or `--summarize` alone) aggregates the log — each window
// counted once — into bench/results/ppl-gpu-vs-cpu.json and the table printed for BENCHMARKS.md, overall
// and per adapter (drivers round differently).

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { cacheModeName, parseCacheMode } from '../src/cache/cache-config';
import { evaluatePerplexity } from '../src/eval/perplexity';
import { parseArgs, runCli, UsageError } from './cli-args';
import type { WebGpuBackend } from '../src/webgpu/backend';
import { openBackend } from './open-backend';
import { modesFor, RUNS } from './ppl-runs';

const LOG = 'bench/results/ppl-gpu-vs-cpu-windows.jsonl';
const OUT = 'bench/results/ppl-gpu-vs-cpu.json';

/** One measured range of windows of one model and mode: summed NLLs on both backends. */
interface WindowRow {
  model: string;
  cache: string;
  ctx: number;
  windows: number[];
  tokens: number;
  gpuNll: number;
  cpuNll: number;
  date: string;
  /** The WebGPU adapter (driver) that ran the GPU side; rows before it was logged ran on SwiftShader. */
  adapter?: string;
}

const EARLY_ADAPTER = 'SwiftShader driver 5.0.0';

function perModel(flag: string | undefined, fallback: number, name: string): number[] {
  const v = (flag ?? RUNS.map(() => fallback).join(',')).split(',').map(Number);
  if (v.length !== RUNS.length || !v.every((w) => Number.isInteger(w) && w >= 0)) throw new UsageError(`--${name} needs ${RUNS.length} integers >= 0`);
  return v;
}

async function measure(a: { windows?: string; from?: string; models?: string }): Promise<void> {
  const counts = perModel(a.windows, 2, 'windows');
  const from = perModel(a.from, 0, 'from');
  const only = a.models?.split(',');
  await mkdir(dirname(LOG), { recursive: true });
  for (const [i, run] of RUNS.entries()) {
    const model = run.model.split('/').pop()!;
    if ((only && !only.includes(model)) || counts[i] === 0) continue;
    const cpu = await openBackend(run.model, 'reference');
    const gpu = await openBackend(run.model, 'webgpu');
    const adapter = (gpu.backend as WebGpuBackend).gpu.adapterInfo.description;
    const all = cpu.model.tokenizer.encode((await readFile(run.text, 'utf8')).replace(/\r\n/g, '\n'), false);
    // Window k starts at token k * (ctx - 1) of the text (the protocol's cut).
    const ids = all.slice(from[i] * (run.ctx - 1));
    const o = { ctx: run.ctx, windows: counts[i], bos: cpu.model.spec.bosTokenId ?? 1 };
    const windows = Array.from({ length: counts[i] }, (_, k) => from[i] + k);
    for (const mode of modesFor(cpu.model.spec.numKvHeads < cpu.model.spec.numHeads).filter((m) => m !== 'f32')) {
      const cache = parseCacheMode(mode);
      const g = await evaluatePerplexity(gpu.backend, ids, { ...o, cache });
      const c = await evaluatePerplexity(cpu.backend, ids, { ...o, cache });
      const row: WindowRow = {
        model,
        cache: cacheModeName(cache),
        ctx: run.ctx,
        windows,
        tokens: g.scoredTokens,
        gpuNll: g.meanNll * g.scoredTokens,
        cpuNll: c.meanNll * c.scoredTokens,
        date: new Date().toISOString(),
        adapter,
      };
      await appendFile(LOG, `${JSON.stringify(row)}\n`);
      process.stderr.write(`${model} ${row.cache} windows ${windows[0]}..${windows.at(-1)}: gpu ${g.ppl.toFixed(4)} cpu ${c.ppl.toFixed(4)}\n`);
    }
  }
}

/** Aggregate the log: per model and mode, every window once (the first row that covers it wins). */
async function summarize(): Promise<void> {
  const rows = existsSync(LOG)
    ? (await readFile(LOG, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as WindowRow)
    : [];
  type Sums = { windows: number; tokens: number; gpu: number; cpu: number };
  const groups = new Map<
    string,
    { model: string; cache: string; ctx: number; seen: Set<number>; tokens: number; gpu: number; cpu: number; adapters: Record<string, Sums> }
  >();
  for (const r of rows) {
    const key = `${r.model}|${r.cache}`;
    const g = groups.get(key) ?? { model: r.model, cache: r.cache, ctx: r.ctx, seen: new Set<number>(), tokens: 0, gpu: 0, cpu: 0, adapters: {} };
    groups.set(key, g);
    if (r.windows.some((w) => g.seen.has(w))) continue;
    r.windows.forEach((w) => g.seen.add(w));
    const a = (g.adapters[r.adapter ?? EARLY_ADAPTER] ??= { windows: 0, tokens: 0, gpu: 0, cpu: 0 });
    a.windows += r.windows.length;
    a.tokens += r.tokens;
    a.gpu += r.gpuNll;
    a.cpu += r.cpuNll;
    g.tokens += r.tokens;
    g.gpu += r.gpuNll;
    g.cpu += r.cpuNll;
  }
  const out = [...groups.values()].map((g) => {
    const gpu = Math.exp(g.gpu / g.tokens);
    const cpu = Math.exp(g.cpu / g.tokens);
    return {
      model: g.model,
      cache: g.cache,
      ctx: g.ctx,
      windows: g.seen.size,
      scoredTokens: g.tokens,
      gpu,
      cpu,
      relDiff: gpu / cpu - 1,
      // The same comparison over each adapter's windows alone: drivers round differently.
      adapters: Object.fromEntries(
        Object.entries(g.adapters).map(([name, a]) => [name, { windows: a.windows, relDiff: Math.exp((a.gpu - a.cpu) / a.tokens) - 1 }]),
      ),
    };
  });
  const meta = { date: new Date().toISOString(), machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`, log: LOG };
  await writeFile(OUT, `${JSON.stringify({ ...meta, rows: out }, null, 2)}\n`);
  const lines = ['| model | cache | ctx × windows | ppl WebGPU | ppl reference | difference |', '|---|---|---|---|---|---|'];
  for (const r of out)
    lines.push(`| ${r.model} | ${r.cache} | ${r.ctx} × ${r.windows} | ${r.gpu.toFixed(4)} | ${r.cpu.toFixed(4)} | ${(100 * r.relDiff).toFixed(3)}% |`);
  const worst = out.reduce((m, r) => Math.max(m, Math.abs(r.relDiff)), 0);
  lines.push('', `Largest difference: ${(100 * worst).toFixed(3)}%.`);
  const perAdapter: Record<string, { windows: number; worst: number }> = {};
  for (const r of out) {
    for (const [name, a] of Object.entries(r.adapters)) {
      const p = (perAdapter[name] ??= { windows: 0, worst: 0 });
      p.windows += a.windows;
      p.worst = Math.max(p.worst, Math.abs(a.relDiff));
    }
  }
  for (const [name, p] of Object.entries(perAdapter)) {
    lines.push(`${name}: ${p.windows} mode-windows; largest difference over its windows alone ${(100 * p.worst).toFixed(3)}%.`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await runCli('npm run ppl-compare [-- --windows 2,4,2 --from 0,0,0 --models stories260K,... | --summarize]', async () => {
  const a = parseArgs(process.argv.slice(2), { windows: 'string', from: 'string', models: 'string', summarize: 'bool' });
  if (!a.summarize) await measure(a);
  await summarize();
});
