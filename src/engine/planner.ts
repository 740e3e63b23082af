// The memory planner: for a cache budget (bytes) and a target context, what every cache mode costs per
// token, how long a context it can hold, and which mode `auto` picks: the most accurate one that holds the
// target context.
//
// Accuracy order: Δppl against f32 on stories260K in BENCHMARKS.md's perplexity table (the deepest shared
// model; tinystories-656k orders the 4-bit modes differently, aidreams260K's differences are noise).
// Modes a model cannot run (xquant-gqa on MHA models) are left out.

import {
  cacheModeName,
  checkModeFits,
  hotRingTokens,
  MODE_TRAITS,
  PAGE_TOKENS,
  parseCacheMode,
  type CacheConfig,
  type CacheOptions,
} from '../cache/cache-config';
import { bindingBytesPerToken, cacheBytesPerToken, fp16KvBytesPerToken } from '../cache/cache-bytes';
import { InvalidArgumentError } from '../errors';
import { kvDim, type ModelSpec } from '../model/model-spec';

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
  /** Largest context whose cache fits the budget (and, when the device's binding limit is known, one binding). */
  maxContext: number;
  fitsTarget: boolean;
  /** The device's storage-binding limit, not the budget, sets maxContext. */
  bindingLimited: boolean;
}

export interface CachePlan {
  budgetBytes: number;
  targetContext: number;
  modes: ModePlan[];
  /** The most accurate mode that fits, or null. */
  auto: string | null;
}

/** What the device allows: its largest storage binding (unknown: no limit). */
export interface DeviceLimits {
  maxBindingBytes?: number;
}

export function planCache(spec: ModelSpec, budgetBytes: number, targetContext: number, options: CacheOptions = {}, device: DeviceLimits = {}): CachePlan {
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
    // Largest n with cacheBytesFor(n) <= budget (it grows with n): a binary search.
    let lo = 0;
    let hi = Math.floor(budgetBytes / perToken) + 1;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (cacheBytesFor(spec, config, mid) <= budgetBytes) lo = mid;
      else hi = mid;
    }
    const byBudget = cacheBytesFor(spec, config, lo) <= budgetBytes ? lo : 0;
    // Pages come in whole blocks of PAGE_TOKENS, and the buffers keep a little room for rings: one page of margin.
    const byBinding = device.maxBindingBytes
      ? Math.max(0, (Math.floor(device.maxBindingBytes / bindingBytesPerToken(spec, config) / PAGE_TOKENS) - 1) * PAGE_TOKENS)
      : Infinity;
    const maxContext = Math.min(byBudget, byBinding);
    modes.push({ mode: name, bytesPerToken: perToken, maxContext, fitsTarget: maxContext >= targetContext, bindingLimited: byBinding < byBudget });
  }
  return { budgetBytes, targetContext, modes, auto: modes.find((m) => m.fitsTarget)?.mode ?? null };
}

/** The residual window (f16 X) and a hot tier's ring (fp16 K/V, hotRingTokens) are fixed costs whatever the context. */
function fixedCacheBytes(spec: ModelSpec, config: CacheConfig): number {
  return config.residual * spec.numLayers * spec.hiddenSize * 2 + hotRingTokens(config.hot ?? 0) * fp16KvBytesPerToken(spec);
}

/**
 * Bytes a cache of `config` needs for `tokens` tokens, at most: fixed costs, the per-token cost, and for
 * the per-channel K of kivi / xquant-gqa the f16 rows of the block still filling (up to a page plus the
 * residual window), which the per-token figure amortizes away.
 */
export function cacheBytesFor(spec: ModelSpec, config: CacheConfig, tokens: number): number {
  const tail = MODE_TRAITS[config.mode].kBlocks ? Math.min(tokens, PAGE_TOKENS - 1 + config.residual) * spec.numLayers * kvDim(spec) * 2 : 0;
  return fixedCacheBytes(spec, config) + tokens * cacheBytesPerToken(spec, config) + tail;
}

/** The cache config `auto` stands for, or a typed error that says what the target needs. */
export function autoCacheMode(spec: ModelSpec, budgetBytes: number, targetContext: number, options: CacheOptions = {}, device: DeviceLimits = {}): CacheConfig {
  const plan = planCache(spec, budgetBytes, targetContext, options, device);
  if (plan.auto) return parseCacheMode(plan.auto, options);
  const smallest = plan.modes.reduce((a, b) => (b.bytesPerToken < a.bytesPerToken ? b : a));
  throw new InvalidArgumentError(`no cache mode holds ${targetContext} tokens in ${budgetBytes} bytes`, {
    field: 'memoryBudget',
    expected: `at least ${smallest.bytesPerToken * targetContext} bytes (${cacheModeName(parseCacheMode(smallest.mode))}, the smallest mode, at ${smallest.bytesPerToken} bytes per token)`,
    got: `${budgetBytes} bytes`,
  });
}
