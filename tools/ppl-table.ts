// npm run ppl-table [-- --out bench/results/ppl-table.json]
// Perplexity of every cache mode at B = 8 (xquant only), 4, 3, 2 on the models in ../shared, by the protocol of
// shared/models/README.md (docs/cli.md describes it), on the reference backend. Writes JSON and prints the Markdown table for BENCHMARKS.md.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import os from 'node:os';
import { cacheModeName, parseCacheMode } from '../src/cache/cache-config';
import { cacheBytesPerToken, fp16KvBytesPerToken } from '../src/cache/cache-bytes';
import { evaluatePerplexity } from '../src/eval/perplexity';
import { parseArgs, runCli } from './cli-args';
import { openBackend } from './open-backend';
import { modesFor, RUNS } from './ppl-runs';

await runCli('npm run ppl-table [-- --out FILE]', async () => {
  const a = parseArgs(process.argv.slice(2), { out: 'string' });
  const outFile = a.out ?? 'bench/results/ppl-table.json';
  const rows = [];
  for (const run of RUNS) {
    const { model, backend } = await openBackend(run.model, 'reference');
    const ids = model.tokenizer.encode((await readFile(run.text, 'utf8')).replace(/\r\n/g, '\n'), false);
    const gqa = model.spec.numKvHeads < model.spec.numHeads;
    let base = NaN;
    for (const mode of modesFor(gqa)) {
      const cache = parseCacheMode(mode);
      const r = await evaluatePerplexity(backend, ids, { ctx: run.ctx, windows: run.windows, bos: model.spec.bosTokenId ?? 1, cache });
      if (mode === 'f32') base = r.ppl;
      const bytes = cacheBytesPerToken(model.spec, cache);
      const row = {
        model: run.model.split('/').pop(),
        cache: cacheModeName(cache),
        ctx: run.ctx,
        windows: run.windows,
        scoredTokens: r.scoredTokens,
        ppl: r.ppl,
        deltaPpl: r.ppl - base,
        cacheBytesPerToken: bytes,
        ratioToFp16Kv: bytes / fp16KvBytesPerToken(model.spec),
      };
      rows.push(row);
      process.stderr.write(`${row.model} ${row.cache}: ${row.ppl.toFixed(4)}\n`);
    }
  }
  await mkdir(dirname(outFile), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    backend: 'reference',
  };
  await writeFile(outFile, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  const lines = ['| model | cache | ctx × windows | ppl | Δppl vs f32 | bytes/token | vs fp16 KV |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.model} | ${r.cache} | ${r.ctx} × ${r.windows} | ${r.ppl.toFixed(4)} | ${r.deltaPpl >= 0 ? '+' : ''}${r.deltaPpl.toFixed(4)} | ${r.cacheBytesPerToken} | ${r.ratioToFp16Kv.toFixed(3)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
});
