// npm run test:scale: real-size models end to end on this machine (minutes; not part of npm test).
// 1. Writes the real-config random-weight folders (tools/scale/scale-models.ts) into .cache/scale-models.
// 2. Node CLI: each model loads by streaming into the GPU (q4 weights) and generates 4 tokens; peak RSS,
//    load phases; on Llama-3.2-1B also the time to prepare xquant-gqa's factors.
// 3. Chromium, public API, from a local Hub-layout server that answers Range requests: each model loads,
//    answers a 4-token chat, is stored in IndexedDB and reloads from it (model requests counted); one
//    download is interrupted halfway and resumed (byte ranges compared). Renderer and GPU-process memory
//    are sampled from /proc throughout.
// Prints one JSON report; `--out FILE` also writes it. `--only a,b` picks models, `--skip-node` /
// `--skip-browser` parts.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Page } from '@playwright/test';
import { createServer } from 'vite';
import type { ModelRef, XQuantEngine } from '../../src/client/index';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/chromium-args';
import { startHubServer, type HubRequest } from '../../e2e/hub-server';
import { ensureScaleModel, ggufFileName, SCALE_DIR, SCALE_MODELS, scaleWeights, type ScaleModel } from './scale-models';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = value('only')?.split(',');
const models = SCALE_MODELS.filter((m) => !only || only.includes(m.name));

const report: Record<string, unknown> = { machine: machine(), date: new Date().toISOString(), node: {}, browser: {} };

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const mem = Number(/MemTotal:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return `${cpu}, ${(readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm) ?? []).length} cores, ${Math.round(mem / 2 ** 20)} GiB, no GPU`;
}

for (const m of models) {
  const t0 = performance.now();
  await ensureScaleModel(m);
  console.error(`[scale] ${m.name} ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

async function generate(dir: string, cache: string, weights: 'q4' | 'native'): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    'npx',
    [
      'tsx',
      'tools/generate.ts',
      '--model',
      dir,
      '--prompt',
      'Hello, my name is',
      '--max-tokens',
      '4',
      '--greedy',
      '--backend',
      'webgpu',
      '--weights',
      weights,
      '--cache',
      cache,
      '--json',
    ],
    { cwd: ROOT, maxBuffer: 1 << 24 },
  );
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  return {
    cache,
    ids: r.ids,
    loadSeconds: r.loadSeconds,
    loadPhases: r.loadPhases,
    prepareSeconds: r.prepareSeconds,
    generateSeconds: r.seconds,
    peakRssMb: r.peakRssMb,
  };
}

/** The CLI's --model: the folder, or the .gguf file in it. */
const modelPath = (m: ScaleModel) => resolve(SCALE_DIR, m.name, m.gguf ? ggufFileName(m) : '');
/** The engine's model reference on the local Hub server. */
const modelRef = (m: ScaleModel): ModelRef => (m.gguf ? { hub: `scale/${m.name}`, file: ggufFileName(m) } : `scale/${m.name}`);

if (!flag('skip-node')) {
  for (const m of models) {
    const dir = modelPath(m);
    const runs = [await generate(dir, 'fp16', scaleWeights(m))];
    if (m.name === 'llama-3.2-1b') runs.push(await generate(dir, 'xquant-gqa-4', scaleWeights(m)));
    (report.node as Record<string, unknown>)[m.name] = runs;
    console.error(`[scale] node ${m.name}: ${JSON.stringify(runs)}`);
  }
}

/** RSS of Chromium's renderer and GPU processes (MiB), from /proc. */
function chromiumMemory(): { renderer: number; gpu: number } {
  let renderer = 0;
  let gpu = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium')) continue;
      const rss = Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      if (cmd.includes('--type=renderer')) renderer += rss;
      else if (cmd.includes('--type=gpu-process')) gpu += rss;
    } catch {
      // the process ended while we looked
    }
  }
  return { renderer: Math.round(renderer), gpu: Math.round(gpu) };
}

/** Samples memory every 250 ms until stopped; returns the peaks. */
function sampler() {
  const peak = { renderer: 0, gpu: 0, sum: 0 };
  const timer = setInterval(() => {
    const m = chromiumMemory();
    peak.renderer = Math.max(peak.renderer, m.renderer);
    peak.gpu = Math.max(peak.gpu, m.gpu);
    peak.sum = Math.max(peak.sum, m.renderer + m.gpu);
  }, 250);
  return { stop: () => (clearInterval(timer), peak) };
}

async function openPage(browserPage: Page, vite: string, hub: string): Promise<void> {
  await browserPage.goto(`${vite}/e2e/pages/engine.html?hubBase=${encodeURIComponent(hub)}`);
  await browserPage.waitForFunction(() => document.getElementById('result')?.textContent === 'ready');
}

type LoadOutcome = { ok: true; load: Record<string, unknown>; chat?: Record<string, unknown>; storageUsage: number } | { ok: false; error: string };

async function loadInPage(page: Page, repo: ModelRef, o: { chat: boolean; weights: 'q4' | 'native'; abortAtFraction?: number }): Promise<LoadOutcome> {
  return page.evaluate(
    async ({ repo, chat, weights, abortAtFraction }) => {
      const engine = (window as unknown as { engine: XQuantEngine }).engine;
      const controller = new AbortController();
      try {
        const load = await engine.load(repo, {
          weights,
          signal: controller.signal,
          onProgress: (p) => {
            if (abortAtFraction && p.file?.endsWith('.safetensors') && p.fileTotal && p.fileLoaded! > p.fileTotal * abortAtFraction) controller.abort();
          },
        });
        let reply: Record<string, unknown> | undefined;
        if (chat) {
          const t = performance.now();
          const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, cache: 'fp16' });
          reply = { text: r.choices[0].message.content, usage: r.usage, seconds: (performance.now() - t) / 1000 };
        }
        const estimate = await navigator.storage.estimate();
        return {
          ok: true as const,
          load: { seconds: load.seconds, phases: load.phases, storage: load.storage, weightsBytes: load.memory.weights },
          chat: reply,
          storageUsage: estimate.usage ?? 0,
        };
      } catch (e) {
        return { ok: false as const, error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { repo, chat: o.chat, weights: o.weights, abortAtFraction: o.abortAtFraction },
  );
}

const modelRequests = (log: HubRequest[], name: string) => log.filter((r) => r.path.includes(`/${name}/resolve/`));

if (!flag('skip-browser')) {
  const vite = await createServer({ root: ROOT, logLevel: 'error', server: { port: 4399, host: '127.0.0.1', strictPort: false } });
  await vite.listen();
  const viteBase = vite.resolvedUrls!.local[0].replace(/\/$/, '');
  const hub = await startHubServer({ root: SCALE_DIR, ranges: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  try {
    const context = await browser.newContext();
    // tsx compiles this file with esbuild's keepNames: functions sent to page.evaluate call its __name helper.
    await context.addInitScript('window.__name = (f) => f;');
    for (const m of models) {
      const repo = modelRef(m);
      const out: Record<string, unknown> = {};
      let page = await context.newPage();
      await openPage(page, viteBase, hub.base);
      hub.log.length = 0;
      const s = sampler();
      const first = await loadInPage(page, repo, { chat: true, weights: scaleWeights(m) });
      const firstRequests = modelRequests(hub.log, m.name);
      out.firstLoad = { ...first, peakMemoryMb: s.stop(), requests: firstRequests.length, downloadedBytes: firstRequests.reduce((a, r) => a + r.bytes, 0) };
      await new Promise((r) => setTimeout(r, 2000));
      out.loadedMemoryMb = chromiumMemory();
      await page.close();
      // A new page: the engine starts empty and finds the model in IndexedDB.
      page = await context.newPage();
      await openPage(page, viteBase, hub.base);
      hub.log.length = 0;
      const s2 = sampler();
      const reload = await loadInPage(page, repo, { chat: false, weights: scaleWeights(m) });
      out.reload = { ...reload, peakMemoryMb: s2.stop(), modelRequests: modelRequests(hub.log, m.name).length };
      const id = `hub:${hub.base}/scale/${m.name}${m.gguf ? `/${ggufFileName(m)}` : ''}`;
      await page.evaluate(async (id) => (window as unknown as { engine: XQuantEngine }).engine.deleteCachedModel(id), id);
      await page.close();
      (report.browser as Record<string, unknown>)[m.name] = out;
      console.error(`[scale] browser ${m.name}: ${JSON.stringify(out)}`);
    }
    // Interrupt a first download halfway, then load again: only the missing byte ranges may be requested
    // (a safetensors model: the abort below watches .safetensors progress).
    const resumeModel = models.find((m) => m.name === 'qwen2.5-0.5b') ?? models.find((m) => !m.gguf);
    if (resumeModel) {
      const repo = modelRef(resumeModel);
      const page = await context.newPage();
      await openPage(page, viteBase, hub.base);
      hub.log.length = 0;
      const cut = await loadInPage(page, repo, { chat: false, weights: scaleWeights(resumeModel), abortAtFraction: 0.5 });
      await new Promise((r) => setTimeout(r, 1000));
      const firstRanges = modelRequests(hub.log, resumeModel.name).filter((r) => r.range && r.path.endsWith('.safetensors'));
      hub.log.length = 0;
      const resumed = await loadInPage(page, repo, { chat: false, weights: scaleWeights(resumeModel) });
      const secondRanges = modelRequests(hub.log, resumeModel.name).filter((r) => r.range && r.path.endsWith('.safetensors'));
      const completed = firstRanges.filter((r) => r.complete && r.range![0] > 0);
      const overlap = secondRanges.reduce(
        (a, r) => a + completed.reduce((b, c) => b + Math.max(0, Math.min(r.range![1], c.range![1]) - Math.max(r.range![0], c.range![0])), 0),
        0,
      );
      const size = (r: HubRequest[]) => r.reduce((a, x) => a + x.bytes, 0);
      report.resume = {
        model: resumeModel.name,
        interrupted: cut.ok ? 'not interrupted' : cut.error,
        firstLoadBytes: size(firstRanges),
        completedTensorRanges: completed.length,
        secondLoadBytes: size(secondRanges),
        secondLoadRequests: secondRanges.length,
        bytesRequestedAgainOfCompletedRanges: overlap,
        resumed: resumed.ok ? resumed.load.storage : resumed.error,
      };
      console.error(`[scale] resume: ${JSON.stringify(report.resume)}`);
    }
  } finally {
    await browser.close();
    await hub.close();
    await vite.close();
  }
}

const text = JSON.stringify(report, null, 2);
process.stdout.write(`${text}\n`);
const outFile = value('out');
if (outFile) writeFileSync(outFile, `${text}\n`);
