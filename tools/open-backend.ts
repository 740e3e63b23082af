// Shared by the CLIs: open a model (a folder or a .gguf file) on the backend asked for, with weights in the format asked for.
// reference: the reference decoder on the whole model as f32 (with the quantized values the GPU sees).
// webgpu: the weights stream from the folder, tensor by tensor, straight into GPU buffers (no f32 model,
// no file read whole), as the browser engine loads them.

import { parseCacheMode, type CacheOptions } from '../src/cache/cache-config';
import { checkReferenceCache, ReferenceBackend } from '../src/reference/backend';
import { BACKEND_NAMES, type Backend } from '../src/engine/backend';
import { WebGpuBackend } from '../src/webgpu/backend';
import { acquireDevice } from '../src/webgpu/device';
import { parseKernelChoice } from '../src/webgpu/kernel-family';
import { nodeGpu, nodeShaders } from '../src/webgpu/node-gpu';
import type { ModelSpec } from '../src/model/model-spec';
import { nodeModelSource } from '../src/model/node-file-source';
import { loadModelAs } from '../src/quant/pack-checkpoint';
import { parseWeightFormat } from '../src/quant/weight-format';
import { loadPreparedModel, type LoadTimings } from '../src/storage/model-loader';
import type { TextTokenizer } from '../src/tokenizer/tokenizer';
import { UsageError } from './cli-args';

export interface OpenedModel {
  name: string;
  spec: ModelSpec;
  tokenizer: TextTokenizer;
}

/** A bad --cache (or one the backend cannot run) fails before the model loads. */
export function checkCacheName(name: string, options: CacheOptions, backend: string): void {
  if (name === 'auto') return;
  const config = parseCacheMode(name, options);
  if (backend === 'reference') checkReferenceCache(config);
}

export async function openBackend(
  modelDir: string,
  backend: string,
  weights = 'f32',
  kernels = 'auto',
): Promise<{ model: OpenedModel; backend: Backend; timings?: LoadTimings }> {
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) throw new UsageError(`unknown backend '${backend}' (expected ${BACKEND_NAMES.join(' or ')})`);
  const format = parseWeightFormat(weights);
  const kernelChoice = parseKernelChoice(kernels);
  const source = nodeModelSource(modelDir);
  if (backend === 'reference') {
    const model = await loadModelAs(source, format);
    return { model, backend: new ReferenceBackend(model) };
  }
  const { model, timings } = await loadPreparedModel({ resolved: { id: `file:${modelDir}`, revision: '', name: modelDir, source }, format, cache: null });
  const gpu = await WebGpuBackend.fromStream(await acquireDevice(nodeGpu()), nodeShaders(), model.spec, model.weights, {
    latents: model.latents,
    timings,
    kernels: kernelChoice,
  });
  return { model: { name: model.name, spec: model.spec, tokenizer: model.tokenizer }, backend: gpu, timings };
}
