// What the perplexity evaluator, generation and CLIs need from a decoder, whatever runs it (the CPU
// reference here, WebGPU in webgpu-backend.ts).

import type { CacheConfig } from '../cache/cache-config';
import { createReferenceCache } from '../reference/caches/create-cache';
import type { ReferenceCache } from '../reference/caches/reference-cache';
import { InvalidArgumentError } from '../errors';
import type { LoadedModel } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import { ReferenceDecoder, type LogitsWanted } from '../reference/decoder';
import type { Sampler } from './sampling';

export type BackendName = 'cpu' | 'webgpu';

/** One sequence: the tokens run so far live in its cache. */
export interface DecodeSession {
  readonly length: number;
  /** Logits after running `ids` ([V] for 'last', [ids.length, V] for 'all'). */
  forward(ids: readonly number[], wanted: LogitsWanted): Promise<Float32Array>;
  /**
   * Teacher forcing: run each id as its own decode step (each attends to the cache's stored form of the
   * earlier ones) and return every step's logits, [ids.length, V].
   */
  forwardEach(ids: readonly number[]): Promise<Float32Array>;
  /** Run `ids` and choose the next token (a GPU session does greedy choice on the device). */
  next(ids: readonly number[], sampler: Sampler): Promise<number>;
  /**
   * Decode from `first` (chosen, not yet run): yields at most `maxSteps` next ids. Stopping the iteration
   * early leaves the cache holding exactly the tokens whose successors were consumed.
   */
  decodeIds(first: number, sampler: Sampler, maxSteps: number): AsyncGenerator<number, void, undefined>;
  bytesPerToken(): number;
  /** Free what the session holds (GPU buffers); the session is unusable afterwards. */
  close(): void;
}

export interface Backend {
  readonly name: BackendName;
  readonly spec: ModelSpec;
  /** Make what a cache mode needs once per model (xquant-gqa's factors) before createSession. */
  prepare(cache: CacheConfig): Promise<void>;
  createSession(cache: CacheConfig): DecodeSession;
}

/** The reference decoder has no tiered cache: it refuses `hot` rather than run pure XQuant under that name. */
export function checkCpuCache(config: CacheConfig): void {
  if (config.hot) throw new InvalidArgumentError('the tiered cache (hot) runs on the WebGPU backend only', { field: 'cache', expected: 'no hot option with the cpu backend', got: `hot=${config.hot}` });
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly spec: ModelSpec;
  private readonly decoder: ReferenceDecoder;

  constructor(private readonly model: LoadedModel) {
    this.spec = model.spec;
    this.decoder = new ReferenceDecoder(model);
  }

  async prepare(): Promise<void> {}

  createSession(config: CacheConfig): DecodeSession {
    checkCpuCache(config);
    const cache: ReferenceCache = createReferenceCache(this.model, config);
    const decoder = this.decoder;
    return {
      get length() {
        return cache.length;
      },
      forward: async (ids, wanted) => decoder.forward(ids, cache, wanted),
      forwardEach: async (ids) => {
        const V = this.spec.vocabSize;
        const out = new Float32Array(ids.length * V);
        ids.forEach((id, t) => out.set(decoder.forward([id], cache, 'last'), t * V));
        return out;
      },
      next: async (ids, sampler) => sampler.next(decoder.forward(ids, cache, 'last')),
      decodeIds: async function* (first, sampler, maxSteps) {
        let id = first;
        for (let i = 0; i < maxSteps; i++) yield (id = sampler.next(decoder.forward([id], cache, 'last')));
      },
      bytesPerToken: () => cache.bytesPerToken(),
      close: () => {},
    };
  }
}
