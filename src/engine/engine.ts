// The engine a Worker (or a Node process) runs: one loaded model on one WebGPU backend, with generation
// and memory reporting. It knows nothing about where it runs: the GPU object, the shader library and the
// model's files are handed in.

import { cacheModeName, parseCacheMode } from '../cache/cache-config';
import { InvalidArgumentError } from '../errors';
import type { MemoryReport } from '../gpu/memory';
import type { ShaderLibrary } from '../gpu/shader-library';
import type { ModelFileSource } from '../model/file-source';
import { loadModel, type LoadedModel } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import type { WeightFormat } from '../quant/weight-format';
import { generateIds } from './generate';
import { autoCacheMode, planCache, type CachePlan } from './planner';
import { GREEDY, type SamplingOptions } from './sampling';
import { WebGpuBackend } from './webgpu-backend';

export interface LoadOptions {
  weights?: WeightFormat;
  /** GPU memory the KV/X cache may use; the `auto` cache mode and memory() plan against it. */
  memoryBudgetMB?: number;
}

export interface MemoryInfo {
  /** Live GPU buffers by category. */
  gpu: MemoryReport;
  /** Every cache mode against the budget, for `context` tokens. */
  plan: CachePlan;
}

export interface ModelSummary {
  name: string;
  spec: ModelSpec;
  weights: WeightFormat;
  adapter: string;
  memory: MemoryReport;
}

export interface GenerateRequest {
  /** Token ids, or text that the model's tokenizer encodes (with BOS). */
  prompt: number[] | string;
  maxTokens: number;
  /** A cache mode name, or 'auto': the most accurate mode whose cache for prompt + maxTokens fits the budget. */
  cache?: string;
  sampling?: SamplingOptions;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  promptTokens: number;
  cache: string;
  seconds: number;
}

const DEFAULT_BUDGET_MB = 256;

export class Engine {
  private model: LoadedModel | null = null;
  private backend: WebGpuBackend | null = null;
  private budgetBytes = DEFAULT_BUDGET_MB * 2 ** 20;

  constructor(
    private readonly gpu: GPU | undefined,
    private readonly shaders: ShaderLibrary,
  ) {}

  async load(source: ModelFileSource, o: LoadOptions = {}): Promise<ModelSummary> {
    this.unload();
    const model = await loadModel(source);
    const weights = o.weights ?? 'f32';
    this.budgetBytes = (o.memoryBudgetMB ?? DEFAULT_BUDGET_MB) * 2 ** 20;
    const backend = await WebGpuBackend.create(this.gpu, this.shaders, model, { weights });
    this.model = model;
    this.backend = backend;
    return { name: model.name, spec: model.spec, weights, adapter: backend.gpu.adapterInfo.description, memory: backend.memoryReport() };
  }

  private loaded(): { model: LoadedModel; backend: WebGpuBackend } {
    if (!this.model || !this.backend) throw new InvalidArgumentError('no model is loaded', { field: 'model', expected: 'load() first' });
    return { model: this.model, backend: this.backend };
  }

  async generate(r: GenerateRequest): Promise<GenerateResult> {
    const { model, backend } = this.loaded();
    const promptIds = typeof r.prompt === 'string' ? model.tokenizer.encode(r.prompt, true) : r.prompt;
    const cache =
      r.cache === 'auto' ? autoCacheMode(model.spec, this.budgetBytes, promptIds.length + r.maxTokens) : parseCacheMode(r.cache ?? 'fp16');
    const started = performance.now();
    const ids = await generateIds(backend, promptIds, {
      maxTokens: r.maxTokens,
      cache,
      sampling: r.sampling ?? GREEDY,
      stopIds: model.spec.eosTokenIds,
    });
    return { ids, text: model.tokenizer.decode(ids), promptTokens: promptIds.length, cache: cacheModeName(cache), seconds: (performance.now() - started) / 1000 };
  }

  memory(context?: number): MemoryInfo {
    const { model, backend } = this.loaded();
    return { gpu: backend.memoryReport(), plan: planCache(model.spec, this.budgetBytes, context ?? model.spec.maxPositionEmbeddings) };
  }

  unload(): void {
    this.backend?.destroy();
    this.backend = null;
    this.model = null;
  }
}
