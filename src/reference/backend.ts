// The reference decoder as a Backend (src/engine/backend.ts): the golden model behind the CLIs'
// `--backend reference` and every test that compares the WebGPU backend against it.

import type { CacheConfig } from '../cache/cache-config';
import type { Backend, DecodeSession } from '../engine/backend';
import { InvalidArgumentError } from '../errors';
import type { LoadedModel } from '../model/load-model';
import type { ModelSpec } from '../model/model-spec';
import { RecordedCache } from './caches/recorded-cache';
import { checkShift } from '../cache/keep';
import { ReferenceDecoder, type PrefillAttention } from './decoder';

/** The reference decoder has no tiered cache: it refuses `hot` rather than run pure XQuant under that name. */
export function checkReferenceCache(config: CacheConfig): void {
  if (config.hot)
    throw new InvalidArgumentError('the tiered cache (hot) runs on the WebGPU backend only', {
      field: 'cache',
      expected: 'no hot option with the reference backend',
      got: `hot=${config.hot}`,
    });
}

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly spec: ModelSpec;
  private readonly decoder: ReferenceDecoder;

  constructor(
    private readonly model: LoadedModel,
    prefill: PrefillAttention = 'exact',
  ) {
    this.spec = model.spec;
    this.decoder = new ReferenceDecoder(model, prefill);
  }

  async prepare(): Promise<void> {}

  createSession(config: CacheConfig): DecodeSession {
    checkReferenceCache(config);
    const cache = new RecordedCache(this.model, config);
    const decoder = this.decoder;
    return {
      get length() {
        return cache.length;
      },
      get capacity() {
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
      keep: (n) => cache.keep(n),
      park: () => {},
      shift: (from, to) => {
        checkShift(cache.length, from, to);
        return cache.shift(from, to);
      },
      save: async () => cache.save(),
      restore: async (snap) => cache.restore(snap),
      bytesPerToken: () => cache.bytesPerToken(),
      storedBytes: () => cache.storedBytes(),
      close: () => {},
    };
  }
}
