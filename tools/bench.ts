// npm run bench [-- --section speed|modes|tiered|prefill|shapes|compile|grammar|conversation|shift|sampling|cl-rows|all --models a,b --contexts 128,512,2048 --weights f32
//   --kernels auto|rowwise|tiled --decode-steps N --prompt N --shapes a,b --shape-layers N --rebuild-context N --mode-contexts 1024,4096 --modes fp16,xquant-4 --layer-rows-mb N --out FILE]
// Measures the WebGPU engine (dawn.node in Node), with the backend's own GEMV / GEMM GFLOP/s measured in
// the same run, so rows say how close they run to what this GPU (here: SwiftShader on 2 CPU cores) can do:
//   speed:  prefill and decode tokens/s at growing contexts (fp16 cache; beyond 512 tokens decode only);
//   modes:  per cache mode, bytes per token and decode tokens/s against fp16 at the same context, and the
//           rematerializing attention kernels' GFLOP/s (xquant-scores + xquant-absorb) (contexts reached with skipTo: no prefill);
//   tiered: xquant-4 with a hot fp16 tier of H = 0, 128, 512, 1024 tokens on mha-6m at context 2048;
//   prefill: a 2,048-token prompt (--prompt) on mha-6m in fp16, xquant-4, xquant-cl-4 and kivi-4, tokens/s
//           and the ratio to fp16 (the quantized modes rebuild the past's K/V; --layer-rows-mb caps their rows for
//           every layer, past which a prompt runs layer by layer: 0 forces that);
//   shapes: decode at SmolLM2-135M / Qwen2.5-0.5B / Llama-3.2-1B widths (random q4 weights, --shape-layers
//           layers, context 128) with both kernel families, bytes read per second against the buffer-copy
//           bandwidth of the same run, dispatches / submissions / readbacks per token (tools/bench-shapes.ts);
//   compile: seconds to compile each cache mode's kernels (asynchronously, in parallel, as a load or
//           prepareMode does) on austen-3m (--models), with workgroup memory zeroed by Tint's loop (what
//           every Node tool and the e2e Chromium use) and by the Vulkan extension (Dawn's default), same run.
// Writes bench/results/bench.json (and decode-vs-context.svg) and prints Markdown tables.
//
// Models: stories260K and aidreams260K from ../shared, austen-3m (public/models), synthetic random-weight
// shapes mha-6m and gqa-6m, and real-model shapes by name (smollm2-135m) for machines with a GPU.

import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseCacheMode, type CacheConfig } from '../src/cache/cache-config';
import { cacheBytesPerToken } from '../src/cache/cache-bytes';
import { planCache } from '../src/engine/planner';
import { parseKernelChoice, type KernelChoice } from '../src/webgpu/kernel-family';
import { WebGpuBackend } from '../src/webgpu/backend';
import { linearGflops } from '../src/webgpu/calibrate';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';
import { kvDim, type ModelSpec } from '../src/model/model-spec';
import { parsePackFormat, type PackFormat } from '../src/quant/weight-format';
import { copyBandwidth, shapesSection } from './bench-shapes';
import { grammarSection } from './bench-grammar';
import { conversationSection } from './bench-conversation';
import { shiftSection } from './bench-shift';
import { samplingSection, samplingTable } from './bench-sampling';
import { clRowsBench } from './bench-cl-rows';
import { fillAndDecode, openModel, warm } from './bench-models';
import { parseArgs, runCli, UsageError } from './cli-args';

/** A context whose prefill is predicted to take longer than this is skipped (and reported as skipped). */
const ROW_BUDGET_S = 240;
/** Longer contexts are reached without a prefill (decode is measured, prefill is not): see skipTo. */
const PREFILL_MAX = 512;

/** 2 x multiply-adds of one token through the weights, and of its attention over `keys` keys. */
function flops(s: ModelSpec, keys: number, withHead: boolean): number {
  const q = s.numHeads * s.headDim;
  const perLayer = s.hiddenSize * (2 * q + 2 * kvDim(s)) + 3 * s.hiddenSize * s.intermediateSize;
  return 2 * s.numLayers * perLayer + s.numLayers * 4 * keys * q + (withHead ? 2 * s.vocabSize * s.hiddenSize : 0);
}

/** FLOPs of the rematerializing attention (K rebuilt, scores, absorbed V) of one decode token over `past` tokens (all layers). */
function fusedFlops(s: ModelSpec, c: CacheConfig, past: number): number {
  const kv = kvDim(s);
  const q = s.numHeads * s.headDim;
  const rows = c.mode === 'xquant' || c.mode === 'xquant-cl' ? s.hiddenSize : kv;
  const remat = c.mode === 'kivi' ? 0 : 2 * kv * rows;
  return s.numLayers * past * (remat + 2 * q + 2 * s.numHeads * rows);
}

interface Calibration {
  gemvGflops: number;
  gemmGflops: number;
}

/** The kernel family every backend of this run uses (--kernels). */
let kernels: KernelChoice = 'auto';

async function speedSection(models: string[], contexts: number[], weights: PackFormat, steps: number, cal: Calibration, skipped: string[]) {
  const rows = [];
  const fp16 = parseCacheMode('fp16');
  for (const name of models) {
    const model = await openModel(name);
    const s = model.spec;
    const backend = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights, kernels });
    await warm(backend, fp16);
    const session = backend.createSession(fp16);
    let filled = 0;
    let rate = Infinity;
    for (const ctx of contexts) {
      if (ctx > s.maxPositionEmbeddings) {
        skipped.push(`speed ${name} ctx ${ctx}: beyond the model's ${s.maxPositionEmbeddings} positions`);
        continue;
      }
      const skip = ctx > PREFILL_MAX || (ctx - filled) / rate > ROW_BUDGET_S;
      const { prefillS, decodeS } = await fillAndDecode(session, s, filled, ctx, steps, skip);
      let pf = 0;
      for (let k = filled + 1; k <= ctx; k++) pf += flops(s, k, false);
      let df = 0;
      for (let i = 0; i < steps; i++) df += flops(s, ctx + i + 1, true);
      if (!skip) rate = (ctx - filled) / prefillS;
      rows.push({
        model: name,
        context: ctx,
        prefillTokens: skip ? 0 : ctx - filled,
        prefillTokPerS: skip ? NaN : rate,
        prefillFractionOfGemm: skip ? NaN : pf / prefillS / 1e9 / cal.gemmGflops,
        decodeTokPerS: steps / decodeS,
        decodeFractionOfGemv: df / decodeS / 1e9 / cal.gemvGflops,
      });
      process.stderr.write(`speed ${name} ctx ${ctx}: prefill ${skip ? '(skipped)' : rate.toFixed(1)} tok/s, decode ${(steps / decodeS).toFixed(2)} tok/s\n`);
      filled = ctx + steps;
    }
    session.close();
    backend.destroy();
  }
  return rows;
}

function modesFor(s: ModelSpec): string[] {
  const gqa = s.numKvHeads < s.numHeads;
  return ['fp16', 'xquant-4', 'xquant-cl-4', 'kivi-4', ...(gqa ? ['xquant-gqa-4'] : [])];
}

async function modesSection(models: string[], contexts: number[], weights: PackFormat, steps: number, cal: Calibration, skipped: string[]) {
  const rows = [];
  for (const name of models) {
    const model = await openModel(name);
    const s = model.spec;
    const backend = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights, kernels });
    const fp16Bytes = cacheBytesPerToken(s, parseCacheMode('fp16'));
    const fp16Rate = new Map<number, number>();
    for (const mode of modesFor(s)) {
      const cache = parseCacheMode(mode);
      await warm(backend, cache);
      const session = backend.createSession(cache);
      let filled = 0;
      for (const ctx of contexts.filter((c) => c <= s.maxPositionEmbeddings)) {
        const t0 = performance.now();
        const { decodeS } = await fillAndDecode(session, s, filled, ctx, steps, true);
        filled = ctx + steps;
        const profile = await session.profileDecode(1);
        // The attention over the past tokens: xquant-scores + xquant-absorb (one fused xquant-attend before them).
        const fusedMs = ['xquant-scores', 'xquant-absorb', 'xquant-attend'].reduce((a, k) => a + (profile.get(k) ?? 0), 0);
        const rate = steps / decodeS;
        if (mode === 'fp16') fp16Rate.set(ctx, rate);
        const row = {
          model: name,
          mode,
          context: ctx,
          bytesPerToken: cacheBytesPerToken(s, cache),
          bytesVsFp16: cacheBytesPerToken(s, cache) / fp16Bytes,
          decodeTokPerS: rate,
          decodeVsFp16: rate / (fp16Rate.get(ctx) ?? NaN),
          fusedMsPerToken: fusedMs,
          fusedGflops: fusedMs > 0 ? fusedFlops(s, cache, ctx) / (fusedMs / 1000) / 1e9 : 0,
          fusedFractionOfGemm: fusedMs > 0 ? fusedFlops(s, cache, ctx) / (fusedMs / 1000) / 1e9 / cal.gemmGflops : 0,
        };
        rows.push(row);
        process.stderr.write(
          `modes ${name} ${mode} ctx ${ctx}: decode ${rate.toFixed(2)} tok/s (${row.decodeVsFp16.toFixed(2)}x fp16), fused ${row.fusedGflops.toFixed(3)} GFLOP/s [${((performance.now() - t0) / 1000).toFixed(0)} s]\n`,
        );
        if ((performance.now() - t0) / 1000 > ROW_BUDGET_S) {
          skipped.push(`modes ${name} ${mode}: contexts after ${ctx} (the row took over ${ROW_BUDGET_S} s)`);
          break;
        }
      }
      session.close();
    }
    backend.destroy();
  }
  return rows;
}

async function tieredSection(weights: PackFormat, steps: number) {
  const model = await openModel('mha-6m');
  const s = model.spec;
  const backend = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights, kernels });
  const ctx = 2048;
  const rows = [];
  let fp16Rate = NaN;
  const fp16Bytes = ctx * cacheBytesPerToken(s, parseCacheMode('fp16'));
  for (const [mode, hot] of [
    ['fp16', 0],
    ['xquant-4', 0],
    ['xquant-4', 128],
    ['xquant-4', 512],
    ['xquant-4', 1024],
  ] as const) {
    const cache = parseCacheMode(mode, { hot });
    await warm(backend, cache);
    const session = backend.createSession(cache);
    const { decodeS } = await fillAndDecode(session, s, 0, ctx, steps, true);
    const rate = steps / decodeS;
    if (mode === 'fp16') fp16Rate = rate;
    const bytes = session.cache.storedBytes();
    rows.push({ mode, hot, context: ctx, decodeTokPerS: rate, decodeVsFp16: rate / fp16Rate, cacheBytes: bytes, bytesVsFp16: bytes / fp16Bytes });
    process.stderr.write(`tiered ${mode} H=${hot}: decode ${rate.toFixed(2)} tok/s, cache ${bytes} B\n`);
    session.close();
  }
  backend.destroy();
  return rows;
}

async function prefillSection(models: string[], prompt: number, weights: PackFormat, layerRowsMb?: number) {
  const rows = [];
  for (const name of models) {
    const model = await openModel(name);
    const s = model.spec;
    const made = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights, kernels });
    const layerRowsBytes = layerRowsMb === undefined ? undefined : layerRowsMb * 2 ** 20;
    const backend = layerRowsBytes === undefined ? made : (Object.create(made, { layerRowsBytes: { value: layerRowsBytes } }) as WebGpuBackend);
    let fp16Rate = NaN;
    for (const mode of ['fp16', 'xquant-4', 'xquant-cl-4', 'kivi-4']) {
      const cache = parseCacheMode(mode);
      await warm(backend, cache);
      const session = backend.createSession(cache);
      const { prefillS } = await fillAndDecode(session, s, 0, prompt, 0);
      const rate = prompt / prefillS;
      if (mode === 'fp16') fp16Rate = rate;
      const transientPeak = backend.memoryReport().transientPeak ?? 0;
      rows.push({
        model: name,
        mode,
        prompt,
        layerRowsBytes,
        prefillS,
        prefillTokPerS: rate,
        prefillVsFp16: rate / fp16Rate,
        transientPeakBytes: transientPeak,
      });
      process.stderr.write(
        `prefill ${name} ${mode} ${prompt} tokens: ${prefillS.toFixed(1)} s, ${rate.toFixed(2)} tok/s (${(rate / fp16Rate).toFixed(2)}x fp16)\n`,
      );
      session.close();
    }
    made.destroy();
  }
  return rows;
}

/** Seconds to make each mode ready (compileMode), with workgroup memory zeroed by a loop and by the extension. */
async function compileSection(models: string[]) {
  const rows = [];
  for (const name of models) {
    const model = await openModel(name);
    const modes = ['fp16', 'kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4'].filter(
      (m) => !(m.startsWith('xquant-gqa') && model.spec.numKvHeads === model.spec.numHeads),
    );
    for (const zeroing of ['loop', 'extension'] as const) {
      const backend = await WebGpuBackend.create(nodeGpu(zeroing), nodeShaders(), model, { weights: 'q8', kernels });
      for (const mode of modes) {
        const config = parseCacheMode(mode);
        const t0 = performance.now();
        const compiled = await backend.compileMode(config);
        rows.push({ model: name, kernels: backend.kernels, zeroing, mode, compiled, seconds: (performance.now() - t0) / 1000 });
      }
      backend.destroy();
    }
  }
  return rows;
}

/** Decode tokens/s against context, one line per mode, for one model. */
function chart(rows: { model: string; mode: string; context: number; decodeTokPerS: number }[], model: string): string {
  const mine = rows.filter((r) => r.model === model);
  const modes = [...new Set(mine.map((r) => r.mode))];
  const ctxs = [...new Set(mine.map((r) => r.context))].sort((a, b) => a - b);
  if (ctxs.length === 0) return '';
  const W = 640;
  const H = 360;
  const pad = 56;
  const top = Math.max(...mine.map((r) => r.decodeTokPerS)) * 1.1;
  const x = (c: number) => pad + ((W - 2 * pad) * ctxs.indexOf(c)) / Math.max(1, ctxs.length - 1);
  const y = (v: number) => H - pad - ((H - 2 * pad) * v) / top;
  const colors = ['#222', '#1f6feb', '#d1242f', '#1a7f37', '#9a6700'];
  const lines = modes.map((m, i) => {
    const pts = mine.filter((r) => r.mode === m).sort((a, b) => a.context - b.context);
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${x(p.context).toFixed(1)},${y(p.decodeTokPerS).toFixed(1)}`).join(' ');
    return `<path d="${d}" fill="none" stroke="${colors[i % colors.length]}" stroke-width="2"/><text x="${W - pad + 4}" y="${pad + 16 * i}" fill="${colors[i % colors.length]}">${m}</text>`;
  });
  const xt = ctxs.map((c) => `<text x="${x(c)}" y="${H - pad + 18}" text-anchor="middle">${c}</text>`).join('');
  const yt = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${pad - 6}" y="${y(top * f) + 4}" text-anchor="end">${(top * f).toFixed(1)}</text><line x1="${pad}" x2="${W - pad}" y1="${y(top * f)}" y2="${y(top * f)}" stroke="#eee"/>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 60}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>${yt}${xt}${lines.join('')}
<text x="${W / 2}" y="${H - 14}" text-anchor="middle">context (tokens), ${model}</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">decode tokens/s</text>
</svg>
`;
}

const USAGE =
  'npm run bench [-- --section speed|modes|tiered|prefill|shapes|compile|grammar|conversation|shift|sampling|cl-rows|all --models a,b --contexts 128,512,2048 --weights f32 --kernels auto|rowwise|tiled --decode-steps N --prompt N --shapes a,b --shape-layers N --rebuild-context N --mode-contexts 1024,4096 --modes fp16,xquant-4 --layer-rows-mb N --out FILE]';
await runCli(USAGE, async () => {
  const a = parseArgs(process.argv.slice(2), {
    section: 'string',
    models: 'string',
    contexts: 'string',
    weights: 'string',
    kernels: 'string',
    'decode-steps': 'int',
    windows: 'int',
    prompt: 'int',
    shapes: 'string',
    'shape-layers': 'int',
    'rebuild-context': 'int',
    'layer-rows-mb': 'int',
    'mode-contexts': 'string',
    modes: 'string',
    out: 'string',
  });
  const section = a.section ?? 'all';
  if (!['speed', 'modes', 'tiered', 'prefill', 'shapes', 'compile', 'grammar', 'conversation', 'shift', 'sampling', 'cl-rows', 'all'].includes(section))
    throw new UsageError(`unknown section '${section}'`);
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  // Constrained decoding's CPU cost needs no GPU: its section runs before the calibration.
  const grammar = section === 'grammar' || section === 'all' ? await grammarSection(20, 200) : null;
  const grammarLines: string[] = [];
  const conversation = section === 'conversation' || section === 'all' ? await conversationSection(a['decode-steps'] ?? 16) : null;
  if (conversation) {
    const at = (r: { model: string; mode: string; turn: number }, reuse: boolean) =>
      conversation.find((x) => x.model === r.model && x.mode === r.mode && x.turn === r.turn && x.reuse === reuse)!;
    grammarLines.push(
      '',
      `Conversation, 10 turns, greedy, ${a['decode-steps'] ?? 16} tokens per reply, time to first token with prefix reuse and without (same run):`,
      '',
      '| model | mode | turn | prompt tokens | cached (reuse) | TTFT ms, reuse | TTFT ms, no reuse | no reuse / reuse |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const r of conversation.filter((x) => x.reuse)) {
      const n = at(r, false);
      grammarLines.push(
        `| ${r.model} | ${r.mode} | ${r.turn} | ${r.promptTokens} | ${r.cachedTokens} | ${f(r.ttftMs, 0)} | ${f(n.ttftMs, 0)} | ${f(n.ttftMs / r.ttftMs, 1)} |`,
      );
    }
    if (section === 'conversation') {
      await mkdir('bench/results', { recursive: true });
      await writeFile(a.out ?? 'bench/results/conversation.json', `${JSON.stringify({ date: new Date().toISOString(), rows: conversation }, null, 1)}\n`);
      process.stdout.write(`${grammarLines.join('\n')}\n`);
      return;
    }
  }
  if (section === 'shift' || section === 'all') {
    const windows = a.windows ?? 8;
    const shift = await shiftSection(windows);
    const at = (r: { model: string; mode: string }, way: string) => shift.find((x) => x.model === r.model && x.mode === r.mode && x.way === way)!;
    grammarLines.push(
      '',
      `Context shift, ${windows} windows of TinyStories validation text: 447 tokens cached, 192 dropped after the first 4, the next 64 scored as one slice (same run):`,
      '',
      '| model | mode | NLL, no shift (511 context) | NLL, keep | NLL, re-prefill | keep - re-prefill | ms to logits, keep | ms, re-prefill | re-prefill / keep |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of shift.filter((x) => x.way === 'keep')) {
      const p = at(r, 'prefill');
      grammarLines.push(
        `| ${r.model} | ${r.mode} | ${f(at(r, 'full').meanNll, 4)} | ${f(r.meanNll, 4)} | ${f(p.meanNll, 4)} | ${f(r.meanNll - p.meanNll, 4)} | ${f(r.msToLogits, 0)} | ${f(p.msToLogits, 0)} | ${f(p.msToLogits / r.msToLogits, 1)} |`,
      );
    }
    if (section === 'shift') {
      await mkdir('bench/results', { recursive: true });
      await writeFile(a.out ?? 'bench/results/shift.json', `${JSON.stringify({ date: new Date().toISOString(), rows: shift }, null, 1)}\n`);
      process.stdout.write(`${grammarLines.join('\n')}\n`);
      return;
    }
  }
  // Minutes per row on an emulated adapter: run on its own, not in 'all'.
  if (section === 'cl-rows') return clRowsBench(a['shape-layers'] ?? 8, a['rebuild-context'] ?? 512, a.out ?? 'bench/results/cl-rows.json');
  if (section === 'sampling' || section === 'all') {
    const sampling = await samplingSection(5);
    grammarLines.push('', ...samplingTable(sampling));
    if (section === 'sampling') {
      await mkdir('bench/results', { recursive: true });
      await writeFile(a.out ?? 'bench/results/sampling.json', `${JSON.stringify({ date: new Date().toISOString(), ...sampling }, null, 1)}\n`);
      process.stdout.write(`${grammarLines.join('\n')}\n`);
      return;
    }
  }
  if (grammar) {
    grammarLines.push(
      '',
      `Token masks on one CPU core (${os.cpus()[0]?.model ?? 'unknown CPU'}); vocabulary texts and trie: ${Object.entries(grammar.vocabMs)
        .map(([k, ms]) => `${k} ${f(ms / 1000, 1)} s`)
        .join(', ')} (once per model). 20 random walks of allowed tokens per schema, at most 200 tokens each.`,
      '',
      '| vocabulary | schema | engine | compile ms | tokens | mean ms/token | p99 ms | max ms |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const r of grammar.rows)
      grammarLines.push(
        `| ${r.vocab} (${r.size}) | ${r.schema} | ${r.engine} | ${f(r.compileMs, 0)} | ${r.tokens} | ${f(r.meanMs, 3)} | ${f(r.p99Ms, 2)} | ${f(r.maxMs, 1)} |`,
      );
    if (section === 'grammar') {
      await mkdir('bench/results', { recursive: true });
      await writeFile(a.out ?? 'bench/results/grammar.json', `${JSON.stringify({ date: new Date().toISOString(), ...grammar }, null, 1)}\n`);
      process.stdout.write(`${grammarLines.join('\n')}\n`);
      return;
    }
  }
  const contexts = (a.contexts ?? '128,512,2048').split(',').map(Number);
  const weights = parsePackFormat(a.weights ?? 'f32');
  kernels = parseKernelChoice(a.kernels ?? 'auto');
  const steps = a['decode-steps'] ?? 4;
  const out = a.out ?? 'bench/results/bench.json';
  const started = performance.now();

  // Calibrate the backend once, on a tiny model's device.
  const probe = await WebGpuBackend.create(nodeGpu(), nodeShaders(), await openModel('stories260K'), { weights: 'f32', kernels });
  const cal: Calibration = {
    gemvGflops: await linearGflops(probe.gpu.device, probe.pipelines, { rows: 2048, cols: 2048, tokens: 1, tile: 1, reps: 20, kernels: probe.kernels }),
    gemmGflops: await linearGflops(probe.gpu.device, probe.pipelines, { rows: 1024, cols: 1024, tokens: 128, tile: 4, reps: 3 }),
  };
  const adapter = `${probe.gpu.adapterInfo.description} (kernels: ${probe.kernels})`;
  const copyGBps = await copyBandwidth(probe.gpu.device);
  probe.destroy();
  process.stderr.write(`calibration: GEMV ${cal.gemvGflops.toFixed(3)} GFLOP/s, GEMM ${cal.gemmGflops.toFixed(3)} GFLOP/s\n`);

  const skipped: string[] = [];
  const speed =
    section === 'speed' || section === 'all'
      ? await speedSection((a.models ?? 'stories260K,aidreams260K,mha-6m,gqa-6m').split(','), contexts, weights, steps, cal, skipped)
      : [];
  const modes =
    section === 'modes' || section === 'all'
      ? await modesSection((a.models ?? 'stories260K,aidreams260K,mha-6m,gqa-6m').split(','), contexts, weights, steps, cal, skipped)
      : [];
  const tiered = section === 'tiered' || section === 'all' ? await tieredSection(weights, steps) : [];
  const prefill =
    section === 'prefill' || section === 'all'
      ? await prefillSection(section === 'prefill' && a.models ? a.models.split(',') : ['mha-6m'], a.prompt ?? 2048, weights, a['layer-rows-mb'])
      : [];
  const shapes =
    section === 'shapes' || section === 'all'
      ? await shapesSection({
          shapes: (a.shapes ?? 'smollm2-135m,qwen2.5-0.5b,llama-3.2-1b').split(','),
          layers: a['shape-layers'] ?? 2,
          context: 128,
          steps: 4,
          copyGBps,
          rebuildContext: a['rebuild-context'] ?? 1024,
          modeContexts: a['mode-contexts'] ? a['mode-contexts'].split(',').map(Number) : [],
          modes: a.modes ? a.modes.split(',') : ['fp16', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4', 'kivi-4'],
        })
      : [];
  const compile =
    section === 'compile' || section === 'all' ? await compileSection(section === 'compile' && a.models ? a.models.split(',') : ['austen-3m']) : [];
  const plans = ['stories260K', 'mha-6m'].map(async (m) => ({ model: m, plan: planCache((await openModel(m)).spec, 64 * 2 ** 20, 2048) }));

  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    adapter,
    weights,
    decodeSteps: steps,
    calibration: cal,
    copyGBps,
    seconds: (performance.now() - started) / 1000,
    speed,
    modes,
    tiered,
    prefill,
    shapes,
    compile,
    grammar,
    conversation,
    memoryPlans: await Promise.all(plans),
    skipped,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 1)}\n`);
  if (modes.length) await writeFile(`${dirname(out)}/decode-vs-context.svg`, chart(modes, modes.some((r) => r.model === 'mha-6m') ? 'mha-6m' : modes[0].model));

  const lines = [
    `Machine: ${result.machine}; adapter: ${adapter}; ${result.date.slice(0, 10)}; weights ${weights}; ${steps} decode steps per row; run took ${f(result.seconds / 60, 1)} min.`,
    `Backend, same run: GEMV ${f(cal.gemvGflops, 3)} GFLOP/s, GEMM ${f(cal.gemmGflops, 3)} GFLOP/s (linear.wgsl, f32 2048x2048 and 1024x1024x128); buffer copy ${f(copyGBps, 2)} GB/s (read + written).`,
  ];
  if (speed.length) {
    lines.push('', '| model | context | prefill tok/s | prefill, of GEMM | decode tok/s | decode, of GEMV |', '|---|---|---|---|---|---|');
    for (const r of speed)
      lines.push(
        `| ${r.model} | ${r.context} | ${f(r.prefillTokPerS, 1)} | ${f(100 * r.prefillFractionOfGemm, 0)}% | ${f(r.decodeTokPerS)} | ${f(100 * r.decodeFractionOfGemv, 0)}% |`,
      );
  }
  if (modes.length) {
    lines.push(
      '',
      '| model | mode | context | bytes/token | vs fp16 | decode tok/s | vs fp16 | past-attention kernels GFLOP/s (of GEMM) |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const r of modes) {
      lines.push(
        `| ${r.model} | ${r.mode} | ${r.context} | ${r.bytesPerToken} | ${f(r.bytesVsFp16)} | ${f(r.decodeTokPerS)} | ${f(r.decodeVsFp16)} | ${r.fusedGflops ? `${f(r.fusedGflops, 3)} (${f(100 * r.fusedFractionOfGemm, 0)}%)` : '-'} |`,
      );
    }
  }
  if (tiered.length) {
    lines.push('', '| mha-6m, context 2048 | H | decode tok/s | vs fp16 | cache bytes | vs fp16 |', '|---|---|---|---|---|---|');
    for (const r of tiered) lines.push(`| ${r.mode} | ${r.hot} | ${f(r.decodeTokPerS)} | ${f(r.decodeVsFp16)} | ${r.cacheBytes} | ${f(r.bytesVsFp16)} |`);
  }
  if (prefill.length) {
    lines.push('', '| model | mode | prompt | prefill s | prefill tok/s | vs fp16 | transient peak |', '|---|---|---|---|---|---|---|');
    for (const r of prefill)
      lines.push(`| ${r.model} | ${r.mode} | ${r.prompt} | ${f(r.prefillS, 1)} | ${f(r.prefillTokPerS)} | ${f(r.prefillVsFp16)} | ${r.transientPeakBytes} |`);
  }
  if (shapes.length) {
    lines.push(
      '',
      `Prefill GEMM (calibration, same run): ${f(cal.gemmGflops, 3)} GFLOP/s; K rebuild at ${shapes[0].rebuildContext} tokens in the last column.`,
      '',
      '| shape (layers), q4 weights, fp16 cache | kernels | context | MB read/token | ms/token | one step at a time | tok/s | read GB/s | of copy bandwidth | dispatches/token | submits | readbacks | K rebuild GFLOP/s |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of shapes) {
      const mb = (r.weightBytes + r.cacheBytes) / 1e6;
      lines.push(
        `| ${r.shape} (${r.layers}) | ${r.kernels}${r.kernels === 'tiled' ? (r.subgroups ? ', subgroups' : ', no subgroups') : ''} | ${r.context} | ${f(mb, 1)} | ${f(r.msPerToken, 0)} | ${f(r.msOneByOne, 0)} | ${f(r.tokPerS, 3)} | ${f(r.readGBps, 3)} | ${f(100 * r.ofCopy, 1)}% | ${r.dispatches} | ${r.submits} | ${r.readbacks} | ${f(r.rebuildGflops, 3)} |`,
      );
    }
    const byMode = shapes.flatMap((r) => r.modes.map((m) => ({ ...m, shape: r.shape, layers: r.layers })));
    if (byMode.length) {
      lines.push('', '| shape (layers), rowwise | context | mode | ms/token, one step at a time | speed vs fp16 |', '|---|---|---|---|---|');
      for (const m of byMode) lines.push(`| ${m.shape} (${m.layers}) | ${m.context} | ${m.mode} | ${f(m.msPerToken, 0)} | ${f(m.vsFp16, 3)} |`);
    }
  }
  if (compile.length) {
    lines.push(
      '',
      '| model | kernels | mode (in this order) | kernels compiled | s, zeroing by loop | s, by the Vulkan extension | extension / loop |',
      '|---|---|---|---|---|---|---|',
    );
    for (const r of compile.filter((c) => c.zeroing === 'loop')) {
      const ext = compile.find((c) => c.zeroing === 'extension' && c.model === r.model && c.mode === r.mode)!;
      lines.push(`| ${r.model} | ${r.kernels} | ${r.mode} | ${r.compiled} | ${f(r.seconds)} | ${f(ext.seconds)} | ${f(ext.seconds / r.seconds, 1)} |`);
    }
  }
  for (const { model, plan } of result.memoryPlans) {
    lines.push(
      '',
      `Memory plan, ${model}: ${plan.budgetBytes / 2 ** 20} MiB cache budget, target context ${plan.targetContext}; auto picks ${plan.auto ?? 'nothing'}.`,
      '',
      '| mode | bytes/token | largest context | est. ms/token (stated profile) | Δppl | dominated by |',
      '|---|---|---|---|---|---|',
    );
    for (const m of plan.modes)
      lines.push(
        `| ${m.mode} | ${m.bytesPerToken} | ${m.maxContext} | ${f(m.msPerToken, 3)} | ${m.accuracyCost === null ? '–' : f(100 * m.accuracyCost, 2)}% | ${m.dominatedBy ?? ''} |`,
      );
  }
  lines.push(...grammarLines);
  for (const sk of skipped) lines.push(`\nSkipped: ${sk}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
