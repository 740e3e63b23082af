// Prefill the prompt, then decode (a few steps ahead on the GPU) until max tokens, an end-of-sequence id or
// the end of a constraint's grammar.

import type { CacheConfig } from '../cache/cache-config';
import { InvalidArgumentError } from '../errors';
import type { ConstraintState } from '../grammar/token-mask';
import type { Backend } from './backend';
import { Sampler, type SamplingOptions } from './sampling';

export interface GenerateOptions {
  maxTokens: number;
  cache: CacheConfig;
  sampling: SamplingOptions;
  /** Generation stops after emitting one of these (the id is included in the output). */
  stopIds: readonly number[];
  /** The output follows this grammar and ends where it does (src/grammar). */
  constraint?: ConstraintState;
}

export async function generateIds(backend: Backend, promptIds: readonly number[], o: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new InvalidArgumentError('prompt is empty', { field: 'prompt', expected: 'at least one token' });
  if (!(Number.isInteger(o.maxTokens) && o.maxTokens >= 0)) {
    throw new InvalidArgumentError('must be an integer >= 0', { field: 'maxTokens', got: String(o.maxTokens) });
  }
  const sampler = new Sampler(o.sampling, promptIds, o.constraint ?? null);
  const ended = (id: number) => o.stopIds.includes(id) || o.constraint?.done === true;
  const out: number[] = [];
  if (o.maxTokens === 0) return out;
  await backend.prepare(o.cache);
  const session = backend.createSession(o.cache);
  try {
    const first = await session.next(promptIds, sampler);
    out.push(first);
    if (out.length >= o.maxTokens || ended(first)) return out;
    for await (const id of session.decodeIds(first, sampler, o.maxTokens - 1)) {
      out.push(id);
      if (ended(id)) break;
    }
    return out;
  } finally {
    session.close();
  }
}
