// `npm run bench -- --section cl-rows`: what summing XQuant-CL's X̂ once per delta layer and step saves
// (shaders/xquant-cl-rows.wgsl), as an A/B in one process: xquant-4 and xquant-cl-4 decode steps at Llama-3.2-1B's
// widths (random q4, --shape-layers layers, --rebuild-context past tokens reached with skipTo), xquant-cl-4 once with
// the summed rows and once on a backend whose clRowsBytes is 0 (every kernel sums the chain as it reads), per kernel
// family, two rounds.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseModelConfig } from '../src/model/model-spec';
import { randomPackedStream } from '../src/test-support/random-packed';
import { REAL_CONFIGS } from '../src/test-support/real-configs';
import { WebGpuBackend } from '../src/webgpu/backend';
import { stepSeconds } from '../src/webgpu/calibrate';
import { acquireDevice } from '../src/webgpu/device';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';

export interface ClRowsRow {
  kernels: 'rowwise' | 'tiled';
  round: number;
  xquantMs: number;
  summedMs: number;
  everyReadMs: number;
}

export async function clRowsSection(layers: number, context: number): Promise<ClRowsRow[]> {
  const spec = parseModelConfig(JSON.stringify({ ...REAL_CONFIGS.llama32_1b, num_hidden_layers: layers }), 'llama-3.2-1b/config.json');
  const rows: ClRowsRow[] = [];
  for (const kernels of ['tiled', 'rowwise'] as const) {
    const b = await WebGpuBackend.fromStream(await acquireDevice(nodeGpu()), nodeShaders(), spec, randomPackedStream(spec, 'q4', 7), { kernels });
    const everyRead = Object.create(b, { clRowsBytes: { value: 0 } }) as WebGpuBackend;
    try {
      for (let round = 1; round <= 2; round++) {
        const ms = async (t: WebGpuBackend, mode: string) => (await stepSeconds(t, mode, context, 2)) * 1000;
        const row = {
          kernels,
          round,
          xquantMs: await ms(b, 'xquant-4'),
          summedMs: await ms(b, 'xquant-cl-4'),
          everyReadMs: await ms(everyRead, 'xquant-cl-4'),
        };
        process.stderr.write(
          `cl-rows ${kernels} round ${round}: xquant-4 ${row.xquantMs.toFixed(0)} ms, xquant-cl-4 summed ${row.summedMs.toFixed(0)} ms, every read ${row.everyReadMs.toFixed(0)} ms\n`,
        );
        rows.push(row);
      }
    } finally {
      b.destroy();
    }
  }
  return rows;
}

/** The section's table, as BENCHMARKS.md gives it. */
export function clRowsTable(rows: ClRowsRow[], layers: number, context: number): string[] {
  const pct = (x: number) => `${((x - 1) * 100).toFixed(1)}%`;
  return [
    `XQuant-CL's X̂ summed once per delta layer vs at every read: Llama-3.2-1B's widths, ${layers} layers, ${context} past tokens, ms per token (same run):`,
    '',
    '| kernels | round | xquant-4 | xquant-cl-4, summed once | xquant-cl-4, summed at every read | extra over xquant-4: summed / every read |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.kernels} | ${r.round} | ${r.xquantMs.toFixed(0)} | ${r.summedMs.toFixed(0)} | ${r.everyReadMs.toFixed(0)} | ${pct(r.summedMs / r.xquantMs)} / ${pct(r.everyReadMs / r.xquantMs)} |`,
    ),
  ];
}

/** Run the section, write its rows to `out` and print its table. */
export async function clRowsBench(layers: number, context: number, out: string): Promise<void> {
  const rows = await clRowsSection(layers, context);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), layers, context, rows }, null, 1)}\n`);
  process.stdout.write(`${clRowsTable(rows, layers, context).join('\n')}\n`);
}
