// `npm run bench -- --section shift`: what a context shift costs, kept entries against re-prefill, per cache mode.
// Per window of held-out text (TinyStories validation: in-domain for stories260K, off-domain for austen-3m, both held
// out): a history of BOS + 447 tokens fills the cache; the shift drops 192 tokens after the first 4 (BOS and 3 sink
// tokens). 'keep' shifts the cache (its later entries re-based, computed while the dropped tokens were in context);
// 'prefill' runs the kept 256 tokens in a fresh session. Then the next 64 tokens are scored teacher-forced as one
// prompt slice (decode steps cost minutes per mode on an emulated GPU): mean NLL per way, and the time from the shift to the first next-token logits. 'full' scores the
// same 64 tokens after the whole history (no shift: 511 tokens of context) for scale.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkModeFits, parseCacheMode } from '../src/cache/cache-config';
import { logSumExp } from '../src/reference/ops';
import { loadModel, type LoadedModel } from '../src/model/load-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import { WebGpuBackend } from '../src/webgpu/backend';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';

export interface ShiftRow {
  model: string;
  mode: string;
  way: 'keep' | 'prefill' | 'full';
  windows: number;
  meanNll: number;
  /** From the shift to the first next-token logits (keep: shift + one decode step; prefill: the kept tokens' prefill). */
  msToLogits: number;
}

const HISTORY = 448;
const SINKS = 4;
const DROP = 192;
const SCORED = 64;
export const SHIFT_MODES = ['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-4', 'xquant-gqa-4'];

const MODELS: Record<string, string> = {
  stories260K: resolve(import.meta.dirname, '../../shared/models/stories260K'),
  'austen-3m': resolve(import.meta.dirname, '../public/models/austen-3m'),
};

/** Mean NLL of `ids[1..]` given ids[0] and the session's cache, as one prompt slice (every position's logits). */
async function score(session: { forward(ids: readonly number[], wanted: 'all'): Promise<Float32Array> }, ids: readonly number[], V: number): Promise<number> {
  const logits = await session.forward(ids.slice(0, -1), 'all');
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll += logSumExp(logits, t * V, V) - logits[t * V + ids[t + 1]];
  return nll / (ids.length - 1);
}

export async function shiftSection(windows: number): Promise<ShiftRow[]> {
  const text = readFileSync(resolve(import.meta.dirname, '../../shared/text/tinystories-valid-head.txt'), 'utf8').replace(/\r\n/g, '\n');
  const rows: ShiftRow[] = [];
  for (const [name, dir] of Object.entries(MODELS)) {
    const model: LoadedModel = await loadModel(new NodeFolderSource(dir));
    const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), model, { weights: 'f32', kernels: 'auto' });
    const all = model.tokenizer.encode(text, false);
    const V = model.spec.vocabSize;
    const span = HISTORY - 1 + SCORED;
    try {
      for (const mode of SHIFT_MODES) {
        const config = parseCacheMode(mode);
        try {
          checkModeFits(model.spec, config);
        } catch {
          continue; // xquant-gqa on an MHA model
        }
        const sums = { keep: [0, 0], prefill: [0, 0], full: [0, 0] };
        for (let w = 0; w < windows; w++) {
          const ids = [model.spec.bosTokenId ?? 1, ...all.slice(w * span, (w + 1) * span)];
          const history = ids.slice(0, HISTORY);
          const next = ids.slice(HISTORY - 1, HISTORY + SCORED);
          const kept = [...history.slice(0, SINKS), ...history.slice(SINKS + DROP)];

          const a = gpu.createSession(config);
          await a.forward(history.slice(0, -1), 'last');
          let t = performance.now();
          if (!a.shift(SINKS, SINKS + DROP)) throw new Error(`${mode} refused the shift`);
          await a.forward([history[HISTORY - 1]], 'last');
          sums.keep[1] += performance.now() - t;
          a.keep(a.length - 1);
          sums.keep[0] += await score(a, next, V);
          a.close();

          const b = gpu.createSession(config);
          t = performance.now();
          await b.forward(kept, 'last');
          sums.prefill[1] += performance.now() - t;
          b.keep(b.length - 1);
          sums.prefill[0] += await score(b, next, V);
          b.close();

          const c = gpu.createSession(config);
          await c.forward(history.slice(0, -1), 'last');
          sums.full[0] += await score(c, next, V);
          c.close();
        }
        for (const way of ['keep', 'prefill', 'full'] as const)
          rows.push({ model: name, mode, way, windows, meanNll: sums[way][0] / windows, msToLogits: way === 'full' ? Number.NaN : sums[way][1] / windows });
        process.stderr.write(`shift: ${name} ${mode} done\n`);
      }
    } finally {
      gpu.destroy();
    }
  }
  return rows;
}
