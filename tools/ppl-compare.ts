// npm run ppl-compare [-- --windows 2,4,2 --out bench/results/ppl-gpu-vs-cpu.json]
// Perplexity of every cache mode on the WebGPU engine and on the CPU reference, same windows, same
// (f32) weights: the check that each GPU mode is the reference's mode. Windows are fewer than in
// BENCHMARKS.md's CPU table (every quantized-mode token is a decode step, slow on an emulated GPU);
// `--windows` sets them per run (stories260K, aidreams260K, tinystories-656k).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { cacheModeName, parseCacheMode } from '../src/cache/cache-config';
import { evaluatePerplexity } from '../src/eval/perplexity';
import { parseArgs, runCli, UsageError } from './cli-args';
import { openBackend } from './open-backend';
import { modesFor, RUNS } from './ppl-runs';

await runCli('npm run ppl-compare [-- --windows 2,4,2 --out FILE]', async () => {
  const a = parseArgs(process.argv.slice(2), { windows: 'string', out: 'string' });
  const windows = (a.windows ?? '2,4,2').split(',').map(Number);
  if (windows.length !== RUNS.length || !windows.every((w) => Number.isInteger(w) && w > 0)) {
    throw new UsageError(`--windows needs ${RUNS.length} positive integers`);
  }
  const outFile = a.out ?? 'bench/results/ppl-gpu-vs-cpu.json';
  const rows = [];
  for (const [i, run] of RUNS.entries()) {
    const cpu = await openBackend(run.model, 'cpu');
    const gpu = await openBackend(run.model, 'webgpu');
    const ids = cpu.model.tokenizer.encode((await readFile(run.text, 'utf8')).replace(/\r\n/g, '\n'), false);
    const o = { ctx: run.ctx, windows: windows[i], bos: cpu.model.spec.bosTokenId ?? 1 };
    for (const mode of modesFor(cpu.model.spec.numKvHeads < cpu.model.spec.numHeads).filter((m) => m !== 'f32')) {
      const cache = parseCacheMode(mode);
      const g = await evaluatePerplexity(gpu.backend, ids, { ...o, cache });
      const c = await evaluatePerplexity(cpu.backend, ids, { ...o, cache });
      const row = { model: run.model.split('/').pop(), cache: cacheModeName(cache), ctx: run.ctx, windows: o.windows, scoredTokens: g.scoredTokens, gpu: g.ppl, cpu: c.ppl, relDiff: g.ppl / c.ppl - 1 };
      rows.push(row);
      process.stderr.write(`${row.model} ${row.cache}: gpu ${g.ppl.toFixed(4)} cpu ${c.ppl.toFixed(4)} (${(100 * row.relDiff).toFixed(3)}%)\n`);
    }
  }
  await mkdir(dirname(outFile), { recursive: true });
  const meta = { date: new Date().toISOString(), machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}` };
  await writeFile(outFile, JSON.stringify({ ...meta, rows }, null, 2) + '\n');
  const lines = ['| model | cache | ctx × windows | ppl WebGPU | ppl reference | difference |', '|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.model} | ${r.cache} | ${r.ctx} × ${r.windows} | ${r.gpu.toFixed(4)} | ${r.cpu.toFixed(4)} | ${(100 * r.relDiff).toFixed(3)}% |`);
  const worst = rows.reduce((m, r) => Math.max(m, Math.abs(r.relDiff)), 0);
  lines.push('', `Largest difference: ${(100 * worst).toFixed(3)}%.`);
  process.stdout.write(lines.join('\n') + '\n');
});
