// The memory planner: for a cache budget (bytes) and a target context, what every cache mode costs per
// token, how long a context it can hold, and which mode `auto` picks: the most accurate one that holds the
// target context.
//
// Accuracy order: Δppl against f32 on stories260K in BENCHMARKS.md's perplexity table (the deepest shared
// model; tinystories-656k orders the 4-bit modes differently, aidreams260K's differences are noise).
// Modes a model cannot run (xquant-gqa on MHA models) are left out.

import { cacheModeName, checkModeFits, parseCacheMode, type CacheConfig, type CacheOptions } from '../cache/cache-config';
import { cacheBytesPerToken, fp16KvBytesPerToken } from '../cache/cache-bytes';
import { InvalidArgumentError } from '../errors';
import type { ModelSpec } from '../model/model-spec';

/** Cache modes, most accurate first. */
export const GPU_MODES_BY_ACCURACY: readonly string[] = [
  'fp16',
  'xquant-8',
  'xquant-gqa-4',
  'kivi-4',
  'xquant-cl-4',
  'kivi-3',
  'xquant-gqa-3',
  'xquant-cl-3',
  'xquant-4',
  'xquant-cl-2',
  'xquant-3',
  'kivi-2',
  'xquant-gqa-2',
  'xquant-2',
];

export interface ModePlan {
  mode: string;
  bytesPerToken: number;
  /** Largest context whose cache fits the budget. */
  maxContext: number;
  fitsTarget: boolean;
}

export interface CachePlan {
  budgetBytes: number;
  targetContext: number;
  modes: ModePlan[];
  /** The most accurate mode that fits, or null. */
  auto: string | null;
}

export function planCache(spec: ModelSpec, budgetBytes: number, targetContext: number, options: CacheOptions = {}): CachePlan {
  if (!(budgetBytes > 0)) throw new InvalidArgumentError('must be a positive number of bytes', { field: 'memoryBudget', got: String(budgetBytes) });
  if (!(Number.isInteger(targetContext) && targetContext > 0)) {
    throw new InvalidArgumentError('must be a positive integer', { field: 'context', got: String(targetContext) });
  }
  const modes: ModePlan[] = [];
  for (const name of GPU_MODES_BY_ACCURACY) {
    const config = parseCacheMode(name, name === 'fp16' ? { ...options, hot: 0 } : options);
    try {
      checkModeFits(spec, config);
    } catch {
      continue;
    }
    const perToken = cacheBytesPerToken(spec, config);
    // The residual window (f16 X) and a hot tier (fp16 K/V) are fixed costs whatever the context.
    const fixed = config.residual * spec.numLayers * spec.hiddenSize * 2 + (config.hot ?? 0) * fp16KvBytesPerToken(spec);
    const maxContext = Math.max(0, Math.floor((budgetBytes - fixed) / perToken));
    modes.push({ mode: name, bytesPerToken: perToken, maxContext, fitsTarget: maxContext >= targetContext });
  }
  return { budgetBytes, targetContext, modes, auto: modes.find((m) => m.fitsTarget)?.mode ?? null };
}

/** The cache config `auto` stands for, or a typed error that says what the target needs. */
export function autoCacheMode(spec: ModelSpec, budgetBytes: number, targetContext: number, options: CacheOptions = {}): CacheConfig {
  const plan = planCache(spec, budgetBytes, targetContext, options);
  if (plan.auto) return parseCacheMode(plan.auto, options);
  const smallest = plan.modes.reduce((a, b) => (b.bytesPerToken < a.bytesPerToken ? b : a));
  throw new InvalidArgumentError(`no cache mode holds ${targetContext} tokens in ${budgetBytes} bytes`, {
    field: 'memoryBudget',
    expected: `at least ${smallest.bytesPerToken * targetContext} bytes (${cacheModeName(parseCacheMode(smallest.mode))}, the smallest mode, at ${smallest.bytesPerToken} bytes per token)`,
    got: `${budgetBytes} bytes`,
  });
}
