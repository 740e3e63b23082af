// The reference decoder as an EngineBackend, so the Engine (the code the Worker runs) can run on the golden model:
// the chat CLI's `--backend reference` and the engine tests that compare cache modes exactly. It owns no device:
// memory is the cache bytes of its sessions, nothing is compiled, nothing is lost.

import type { CacheConfig } from '../cache/cache-config';
import type { BackendFactory, DecodeSession, EngineBackend, MemoryReport } from '../engine/backend';
import type { PreparedModel } from '../engine/prepared-model';
import { collectPacked } from '../quant/weight-stream';
import { unpackModelWeights } from '../quant/packed-weights';
import { ReferenceBackend } from './backend';

class ReferenceEngineBackend extends ReferenceBackend implements EngineBackend {
  readonly adapter = 'reference decoder (CPU, f64 sums)';
  readonly kernels = 'rowwise' as const;
  readonly f16Math = false;
  readonly maxBindingBytes = Number.MAX_SAFE_INTEGER;
  readonly lost = new Promise<string>(() => {});
  readonly compiledKernels = 0;
  private readonly open = new Set<DecodeSession>();

  createSession(config: CacheConfig): DecodeSession {
    const s = super.createSession(config);
    this.open.add(s);
    const close = s.close.bind(s);
    s.close = () => {
      this.open.delete(s);
      close();
    };
    return s;
  }

  async compileMode(): Promise<number> {
    return 0;
  }

  memoryReport(): MemoryReport {
    const cache = [...this.open].reduce((a, s) => a + s.storedBytes(), 0);
    return { weights: 0, cache, activations: 0, staging: 0, total: cache, transient: 0, transientPeak: 0 };
  }

  settleFailure(e: unknown): Promise<never> {
    return Promise.reject(e);
  }

  loseDevice(): void {}

  destroy(): void {
    for (const s of [...this.open]) s.close();
  }
}

/** The factory Engine takes: the prepared model's weights are read whole and unpacked to f32 (as packed). */
export const referenceBackends: BackendFactory = async (model: PreparedModel) => {
  const packed = await collectPacked(model.weights, model.spec.numLayers);
  // Prompts attend as decode steps do, so a conversation gives the same replies with and without prefix reuse.
  return new ReferenceEngineBackend(
    { name: model.name, spec: model.spec, tokenizer: model.tokenizer, texts: model.texts, weights: unpackModelWeights(packed) },
    'as-stored',
  );
};
