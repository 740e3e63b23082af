// What the bench sections run on: the models by name (folders, synthetic random-weight shapes), a session filled
// to a context (a real prefill, or skipTo), and a backend's pipelines compiled before timing.

import type { CacheConfig } from '../src/cache/cache-config';
import { GREEDY, Sampler } from '../src/engine/sampling';
import { loadModel, type LoadedModel } from '../src/model/load-model';
import type { ModelSpec } from '../src/model/model-spec';
import { NodeFolderSource } from '../src/model/node-file-source';
import { syntheticConfig, syntheticSource, type SyntheticShape } from '../src/test-support/synthetic-model';
import type { WebGpuBackend } from '../src/webgpu/backend';
import type { GpuDecodeSession } from '../src/webgpu/session';
import { UsageError } from './cli-args';

const SHAPES: Record<string, SyntheticShape> = {
  'mha-6m': { hidden: 256, layers: 8, heads: 8, kvHeads: 8, headDim: 32, ffn: 768, vocab: 4096 },
  'gqa-6m': { hidden: 256, layers: 8, heads: 8, kvHeads: 2, headDim: 32, ffn: 768, vocab: 4096 },
  'smollm2-135m': { hidden: 576, layers: 30, heads: 9, kvHeads: 3, headDim: 64, ffn: 1536, vocab: 49152, tied: true },
};
const FOLDERS: Record<string, string> = {
  stories260K: '../shared/models/stories260K',
  aidreams260K: '../shared/models/aidreams260K',
  'austen-3m': 'public/models/austen-3m',
};
export async function openModel(name: string): Promise<LoadedModel> {
  if (FOLDERS[name]) return loadModel(new NodeFolderSource(FOLDERS[name]));
  const shape = SHAPES[name];
  if (!shape) throw new UsageError(`unknown model '${name}' (known: ${[...Object.keys(FOLDERS), ...Object.keys(SHAPES)].join(', ')})`);
  const config = { ...syntheticConfig(shape), max_position_embeddings: 8192 };
  const m = await loadModel(syntheticSource(shape, { files: { 'config.json': JSON.stringify(config) } }));
  return { ...m, name };
}

const ids = (s: ModelSpec, from: number, n: number) => Array.from({ length: n }, (_, i) => 3 + (((from + i) * 7919) % (s.vocabSize - 3)));

/**
 * Bring a session to `ctx` tokens (from `filled`) by a real prefill, or with `skip` by declaring them
 * stored (zeros: the decode cost depends on how many tokens there are, not on their values), then time
 * `steps` greedy decode steps.
 */
export async function fillAndDecode(
  session: GpuDecodeSession,
  s: ModelSpec,
  filled: number,
  ctx: number,
  steps: number,
  skip = false,
): Promise<{ prefillS: number; decodeS: number }> {
  let t = performance.now();
  if (skip) session.skipTo(ctx);
  else if (ctx > filled) await session.forward(ids(s, filled, ctx - filled), 'last');
  const prefillS = (performance.now() - t) / 1000;
  const sampler = new Sampler(GREEDY);
  t = performance.now();
  let id = 5;
  for (let i = 0; i < steps; i++) id = await session.next([id], sampler);
  return { prefillS, decodeS: (performance.now() - t) / 1000 };
}

export async function warm(backend: WebGpuBackend, cache: CacheConfig): Promise<void> {
  const w = backend.createSession(cache); // compile every pipeline before timing
  await w.next([1, 2, 3, 4, 5], new Sampler(GREEDY));
  await w.next([6], new Sampler(GREEDY));
  w.close();
}
