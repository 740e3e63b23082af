// npm run bench [-- --models a,b --contexts 128,512,2048 --cache fp16 --weights f32 --decode-steps 8 --out FILE]
// Prefill and decode tokens/s of the WebGPU engine (dawn.node in Node) at growing contexts, with the
// backend's own GEMV / GEMM GFLOP/s measured in the same run, so each row says how close it runs to what
// this GPU (here: SwiftShader on 2 CPU cores) can do. Writes JSON and prints a Markdown table.
//
// Models: stories260K and aidreams260K from ../shared, synthetic random-weight shapes mha-6m and gqa-6m,
// and real-model shapes by name (smollm2-135m) for machines with a GPU.

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseCacheMode } from '../src/cache/cache-config';
import { GREEDY, Sampler } from '../src/engine/sampling';
import { WebGpuBackend } from '../src/engine/webgpu-backend';
import { linearGflops } from '../src/gpu/calibrate';
import { nodeGpu, nodeShaders } from '../src/gpu/node-gpu';
import { loadModel, type LoadedModel } from '../src/model/load-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import { kvDim, type ModelSpec } from '../src/model/model-spec';
import { parseWeightFormat } from '../src/quant/weight-format';
import { syntheticConfig, syntheticSource, type SyntheticShape } from '../src/test-support/synthetic-model';
import { parseArgs, runCli, UsageError } from './cli-args';

const SHAPES: Record<string, SyntheticShape> = {
  'mha-6m': { hidden: 256, layers: 8, heads: 8, kvHeads: 8, headDim: 32, ffn: 768, vocab: 4096 },
  'gqa-6m': { hidden: 256, layers: 8, heads: 8, kvHeads: 2, headDim: 32, ffn: 768, vocab: 4096 },
  'smollm2-135m': { hidden: 576, layers: 30, heads: 9, kvHeads: 3, headDim: 64, ffn: 1536, vocab: 49152, tied: true },
};
const SHARED: Record<string, string> = {
  stories260K: '../shared/models/stories260K',
  aidreams260K: '../shared/models/aidreams260K',
  'austen-3m': 'public/models/austen-3m',
};
/** A context whose prefill is predicted to take longer than this is skipped (and reported as skipped). */
const ROW_BUDGET_S = 240;

async function openModel(name: string): Promise<LoadedModel> {
  if (SHARED[name]) return loadModel(new NodeFolderSource(SHARED[name]));
  const shape = SHAPES[name];
  if (!shape) throw new UsageError(`unknown model '${name}' (known: ${[...Object.keys(SHARED), ...Object.keys(SHAPES)].join(', ')})`);
  const config = { ...syntheticConfig(shape), max_position_embeddings: 8192 };
  const m = await loadModel(syntheticSource(shape, { files: { 'config.json': JSON.stringify(config) } }));
  return { ...m, name };
}

/** Multiply-adds x 2 of one token through the weights, and of its attention over `keys` keys. */
function flops(s: ModelSpec, keys: number, withHead: boolean): number {
  const q = s.numHeads * s.headDim;
  const perLayer = s.hiddenSize * (2 * q + 2 * kvDim(s)) + 3 * s.hiddenSize * s.intermediateSize;
  const attention = 4 * keys * q;
  return 2 * s.numLayers * perLayer + s.numLayers * attention + (withHead ? 2 * s.vocabSize * s.hiddenSize : 0);
}

interface Row {
  model: string;
  context: number;
  prefillTokens: number;
  prefillTokPerS: number;
  prefillGflops: number;
  prefillFractionOfGemm: number;
  decodeTokPerS: number;
  decodeGflops: number;
  decodeFractionOfGemv: number;
}

await runCli('npm run bench [-- --models a,b --contexts 128,512,2048 --cache fp16 --weights f32 --decode-steps N --out FILE]', async () => {
  const a = parseArgs(process.argv.slice(2), { models: 'string', contexts: 'string', cache: 'string', weights: 'string', 'decode-steps': 'int', out: 'string' });
  const models = (a.models ?? 'stories260K,aidreams260K,mha-6m,gqa-6m').split(',');
  const contexts = (a.contexts ?? '128,512,2048').split(',').map(Number);
  const cache = parseCacheMode(a.cache ?? 'fp16');
  const weights = parseWeightFormat(a.weights ?? 'f32');
  const steps = a['decode-steps'] ?? 8;
  const out = a.out ?? `bench/results/bench-${weights}-${a.cache ?? 'fp16'}.json`;

  const rows: Row[] = [];
  const skipped: string[] = [];
  let calibration = { gemvGflops: 0, gemmGflops: 0 };
  let adapter = '';
  for (const name of models) {
    const model = await openModel(name);
    const s = model.spec;
    const backend = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights });
    adapter = backend.gpu.adapterInfo.description;
    if (!calibration.gemvGflops) {
      const { device } = backend.gpu;
      calibration = {
        gemvGflops: await linearGflops(device, backend.pipelines, 2048, 2048, 1, 1, 20),
        gemmGflops: await linearGflops(device, backend.pipelines, 1024, 1024, 128, 4, 3),
      };
      process.stderr.write(`calibration: GEMV ${calibration.gemvGflops.toFixed(3)} GFLOP/s, GEMM ${calibration.gemmGflops.toFixed(3)} GFLOP/s\n`);
    }
    const warm = backend.createSession(cache); // compile every pipeline before timing
    await warm.next([1, 2, 3, 4, 5], new Sampler(GREEDY));
    await warm.next([6], new Sampler(GREEDY));
    warm.close();

    const session = backend.createSession(cache);
    const limit = Math.min(s.maxPositionEmbeddings, Math.max(...contexts));
    let filled = 0;
    let prefillRate = Infinity;
    for (const ctx of contexts) {
      if (ctx > limit) {
        skipped.push(`${name} ctx ${ctx}: beyond the model's ${s.maxPositionEmbeddings} positions`);
        continue;
      }
      const todo = ctx - filled;
      if (todo / prefillRate > ROW_BUDGET_S) {
        skipped.push(`${name} ctx ${ctx}: prefill predicted at ${(todo / prefillRate).toFixed(0)} s, over the ${ROW_BUDGET_S} s row budget`);
        break;
      }
      const ids = Array.from({ length: todo }, (_, i) => 3 + ((filled + i) * 7919) % (s.vocabSize - 3));
      let t = performance.now();
      await session.forward(ids, 'last');
      const prefillS = (performance.now() - t) / 1000;
      let prefillFlops = 0;
      for (let k = filled + 1; k <= ctx; k++) prefillFlops += flops(s, k, false);
      prefillRate = todo / prefillS;
      filled = ctx;
      const sampler = new Sampler(GREEDY);
      t = performance.now();
      let id = 5;
      for (let i = 0; i < steps; i++) id = await session.next([id], sampler);
      const decodeS = (performance.now() - t) / 1000;
      let decodeFlops = 0;
      for (let i = 0; i < steps; i++) decodeFlops += flops(s, filled + i + 1, true);
      filled += steps;
      const row: Row = {
        model: name,
        context: ctx,
        prefillTokens: todo,
        prefillTokPerS: prefillRate,
        prefillGflops: prefillFlops / prefillS / 1e9,
        prefillFractionOfGemm: prefillFlops / prefillS / 1e9 / calibration.gemmGflops,
        decodeTokPerS: steps / decodeS,
        decodeGflops: decodeFlops / decodeS / 1e9,
        decodeFractionOfGemv: decodeFlops / decodeS / 1e9 / calibration.gemvGflops,
      };
      rows.push(row);
      process.stderr.write(`${name} ctx ${ctx}: prefill ${row.prefillTokPerS.toFixed(1)} tok/s, decode ${row.decodeTokPerS.toFixed(2)} tok/s\n`);
    }
    session.close();
    backend.destroy();
  }

  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    adapter,
    weights,
    cache: a.cache ?? 'fp16',
    decodeSteps: steps,
    calibration,
    rows,
    skipped,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 1) + '\n');
  const f = (x: number, d = 2) => x.toFixed(d);
  const lines = [
    `Machine: ${result.machine}; adapter: ${adapter}; ${result.date.slice(0, 10)}; weights ${weights}, cache ${result.cache}.`,
    `Backend: GEMV ${f(calibration.gemvGflops, 3)} GFLOP/s, GEMM ${f(calibration.gemmGflops, 3)} GFLOP/s (linear.wgsl on an f32 matrix, same run).`,
    '',
    '| model | context | prefill tok/s | prefill GFLOP/s (of GEMM) | decode tok/s | decode GFLOP/s (of GEMV) |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.context} | ${f(r.prefillTokPerS, 1)} | ${f(r.prefillGflops, 3)} (${f(100 * r.prefillFractionOfGemm, 0)}%) | ${f(r.decodeTokPerS)} | ${f(r.decodeGflops, 3)} (${f(100 * r.decodeFractionOfGemv, 0)}%) |`,
    ),
    ...skipped.map((s) => `\nSkipped: ${s}.`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
});
