// The cache planner: for a memory budget (bytes), a target context and a device, what every cache
// configuration costs (bytes per token, the longest context it holds, estimated milliseconds per decoded token,
// relative perplexity cost), and which one `auto` picks.
//
// auto = the fastest configuration that holds the target context, among those within the accuracy bound
// (estimates within TIE of the fastest count as equal, and the more accurate wins); when none is within the
// bound, the most accurate that fits. A configuration another beats on bytes, accuracy and speed at once is
// marked dominated and never picked. Besides the plain modes, each X-storing mode is offered with a hot tier
// sized by the budget (the newest tokens also kept as fp16 K/V, so only the rest is rebuilt), where the backend
// has tiers.
//
// Sources: bytes from the storage layout (src/cache/cache-bytes.ts), step cost from the kernels' algorithms
// (src/cache/cache-cost.ts), accuracy from measured perplexity (src/cache/cache-accuracy.ts), speed from the
// device's measured or stated throughput (src/engine/device-profile.ts).

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
import { accuracyCost, accuracyTableFor } from '../cache/cache-accuracy';
import { bindingBytesPerToken, cacheBytesPerToken, fp16KvBytesPerToken, ringCacheBytes } from '../cache/cache-bytes';
import { decodeStepCost, stepWeightBytes } from '../cache/cache-cost';
import { GpuOutOfMemoryError, InvalidArgumentError } from '../errors';
import { kvDim, type ModelSpec } from '../model/model-spec';
import { DEFAULT_PROFILE, estimateStepMs, type DeviceProfile } from './device-profile';

/** The cache modes the planner weighs (f32 is a test mode: twice fp16's bytes for no measurable gain). */
export const PLANNED_MODES: readonly string[] = [
  'fp16',
  'xquant-8',
  'kivi-4',
  'kivi-3',
  'kivi-2',
  'xquant-4',
  'xquant-3',
  'xquant-2',
  'xquant-cl-4',
  'xquant-cl-3',
  'xquant-cl-2',
  'xquant-gqa-4',
  'xquant-gqa-3',
  'xquant-gqa-2',
];

/** auto's default accuracy bound: at most +1% perplexity over f32 on the measured model of the same kind. */
export const DEFAULT_ACCURACY_BOUND = 0.01;

/** Speed estimates this close (relative) count as a tie, broken by accuracy: the model is rough (±2x absolute). */
export const SPEED_TIE = 0.1;

export interface ModePlan {
  /** The configuration's name, as parseCacheMode reads it ("xquant-cl-4:hot=1024"). */
  mode: string;
  bytesPerToken: number;
  /** Bytes of the cache at the target context, fixed costs (a hot tier's ring, a residual window) included. */
  bytesAtTarget: number;
  /** Tokens of the hot tier (fp16 K/V of the newest tokens), sized by the budget; 0 = none. */
  hot: number;
  /** Largest context whose cache fits the budget (and, when the device's binding limit is known, one binding). */
  maxContext: number;
  fitsTarget: boolean;
  /** The device's storage-binding limit, not the budget, sets maxContext. */
  bindingLimited: boolean;
  /** Estimated milliseconds per decoded token at the target context (weights, cache, rebuild). */
  msPerToken: number;
  /** GFLOP of K rebuild and absorbed V per decoded token at the target context (0: nothing rebuilt). */
  rebuildGflop: number;
  /** Relative perplexity cost (0.01 = +1%) measured on a model of the same attention kind; null: unmeasured. */
  accuracyCost: number | null;
  /** A configuration with no more bytes at the target, accuracy cost and time (one strictly less), or null. */
  dominatedBy: string | null;
}

export interface CachePlan {
  budgetBytes: number;
  targetContext: number;
  /** The device figures the times assume. */
  profile: { name: string; source: DeviceProfile['source'] };
  accuracyBound: number;
  accuracySource: string;
  modes: ModePlan[];
  /** The configuration auto picks, or null when none holds the target. */
  auto: string | null;
  /** Why auto picked it, in words. */
  autoReason: string;
}

/** What the device allows: its largest storage binding (unknown: no limit), and whether the backend has hot tiers. */
export interface DeviceLimits {
  maxBindingBytes?: number;
  tiers?: boolean;
}

export interface PlanOptions {
  /** Options every quantized mode carries (residual window, pinned layers). */
  cache?: CacheOptions;
  device?: DeviceLimits;
  profile?: DeviceProfile;
  /** Bytes of weights one decode step reads (default: the model's matrices in q4). */
  weightBytes?: number;
  accuracyBound?: number;
}

/** Largest context a configuration holds in the budget and in one binding. */
export function capacity(spec: ModelSpec, config: CacheConfig, budgetBytes: number, device: DeviceLimits): { maxContext: number; bindingLimited: boolean } {
  const perToken = cacheBytesPerToken(spec, config);
  // Largest n with cacheBytesFor(n) <= budget (it grows with n): a binary search. A cache of rings alone (a
  // sliding window on every layer, fp16) stops growing: then the model's context bounds it.
  let lo = 0;
  let hi = perToken > 0 ? Math.floor(budgetBytes / perToken) + 1 : spec.maxPositionEmbeddings + 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (cacheBytesFor(spec, config, mid) <= budgetBytes) lo = mid;
    else hi = mid;
  }
  const byBudget = cacheBytesFor(spec, config, lo) <= budgetBytes ? lo : 0;
  // Pages come in whole blocks of PAGE_TOKENS, and the buffers keep a little room for rings: one page of margin.
  const bindingPerToken = bindingBytesPerToken(spec, config);
  const byBinding =
    device.maxBindingBytes && bindingPerToken > 0
      ? Math.max(0, (Math.floor(device.maxBindingBytes / bindingPerToken / PAGE_TOKENS) - 1) * PAGE_TOKENS)
      : Infinity;
  return { maxContext: Math.min(byBudget, byBinding), bindingLimited: byBinding < byBudget };
}

/**
 * The largest hot tier (a multiple of 128 tokens, below the target) whose fp16 ring fits the budget beside the
 * X-form cache of the target context, and whose per-layer ring fits one binding; 0 when none does.
 */
function budgetHot(spec: ModelSpec, plain: CacheConfig, budgetBytes: number, target: number, device: DeviceLimits): number {
  // A tier's cost is its ring (hot + one page of fp16 K/V) on top of the plain cache.
  const room = budgetBytes - cacheBytesFor(spec, plain, target);
  let hot = Math.floor(room / fp16KvBytesPerToken(spec) / PAGE_TOKENS) * PAGE_TOKENS - PAGE_TOKENS;
  if (device.maxBindingBytes) hot = Math.min(hot, Math.floor(device.maxBindingBytes / (kvDim(spec) * 2) / PAGE_TOKENS) * PAGE_TOKENS - PAGE_TOKENS);
  return Math.max(0, Math.min(hot, Math.floor((target - 1) / PAGE_TOKENS) * PAGE_TOKENS));
}

/** The configurations weighed: every mode that applies, and with tiers, each X-storing mode with a budget-sized hot tier. */
function candidates(spec: ModelSpec, budgetBytes: number, target: number, o: PlanOptions): CacheConfig[] {
  const out: CacheConfig[] = [];
  for (const name of PLANNED_MODES) {
    const config = parseCacheMode(name, name === 'fp16' ? {} : { ...o.cache, hot: 0 });
    try {
      checkModeFits(spec, config);
    } catch {
      continue;
    }
    out.push(config);
    if (o.device?.tiers && MODE_TRAITS[config.mode].stores !== 'kv') {
      const hot = budgetHot(spec, config, budgetBytes, target, o.device);
      if (hot > 0) out.push({ ...config, hot });
    }
  }
  return out;
}

function dominates(a: ModePlan, b: ModePlan): boolean {
  const ac = a.accuracyCost ?? Infinity;
  const bc = b.accuracyCost ?? Infinity;
  const noWorse = a.bytesAtTarget <= b.bytesAtTarget && ac <= bc && a.msPerToken <= b.msPerToken;
  const better = a.bytesAtTarget < b.bytesAtTarget || ac < bc || a.msPerToken < b.msPerToken;
  return noWorse && better;
}

/** auto's pick among the configurations that hold the target, with the reason. */
function pickAuto(modes: ModePlan[], bound: number): { auto: string | null; autoReason: string } {
  const fitting = modes.filter((m) => m.fitsTarget && !m.dominatedBy);
  if (fitting.length === 0) return { auto: null, autoReason: 'no configuration holds the target context in the budget' };
  const cost = (m: ModePlan) => m.accuracyCost ?? Infinity;
  // The most accurate of a set, the faster one between equals.
  const mostAccurate = (set: ModePlan[]) => set.reduce((a, b) => (cost(b) < cost(a) || (cost(b) === cost(a) && b.msPerToken < a.msPerToken) ? b : a));
  const within = fitting.filter((m) => cost(m) <= bound);
  if (within.length > 0) {
    const fastest = Math.min(...within.map((m) => m.msPerToken));
    const best = mostAccurate(within.filter((m) => m.msPerToken <= fastest * (1 + SPEED_TIE)));
    return { auto: best.mode, autoReason: `the fastest within +${(bound * 100).toFixed(1)}% perplexity that holds the target` };
  }
  const best = mostAccurate(fitting);
  return { auto: best.mode, autoReason: `nothing within +${(bound * 100).toFixed(1)}% perplexity fits: the most accurate that holds the target` };
}

export function planCache(spec: ModelSpec, budgetBytes: number, targetContext: number, o: PlanOptions = {}): CachePlan {
  if (!(budgetBytes > 0)) throw new InvalidArgumentError('must be a positive number of bytes', { field: 'memoryBudget', got: String(budgetBytes) });
  if (!(Number.isInteger(targetContext) && targetContext > 0)) {
    throw new InvalidArgumentError('must be a positive integer', { field: 'context', got: String(targetContext) });
  }
  const device = o.device ?? {};
  const profile = o.profile ?? DEFAULT_PROFILE;
  const weightBytes = o.weightBytes ?? stepWeightBytes(spec, 'q4');
  const bound = o.accuracyBound ?? DEFAULT_ACCURACY_BOUND;
  const modes: ModePlan[] = candidates(spec, budgetBytes, targetContext, o).map((config) => {
    const { maxContext, bindingLimited } = capacity(spec, config, budgetBytes, device);
    const step = decodeStepCost(spec, config, targetContext);
    return {
      mode: cacheModeName(config),
      bytesPerToken: cacheBytesPerToken(spec, config),
      bytesAtTarget: cacheBytesFor(spec, config, targetContext),
      hot: config.hot ?? 0,
      maxContext,
      fitsTarget: maxContext >= targetContext,
      bindingLimited,
      msPerToken: estimateStepMs(profile, weightBytes + step.cacheBytes, step.rebuildFlops, spec.numLayers),
      rebuildGflop: step.rebuildFlops / 1e9,
      accuracyCost: accuracyCost(spec, config),
      dominatedBy: null,
    };
  });
  for (const m of modes) m.dominatedBy = modes.find((other) => other !== m && dominates(other, m))?.mode ?? null;
  return {
    budgetBytes,
    targetContext,
    profile: { name: profile.name, source: profile.source },
    accuracyBound: bound,
    accuracySource: accuracyTableFor(spec).source,
    modes,
    ...pickAuto(modes, bound),
  };
}

/** The residual window (f16 X) and a hot tier's ring (fp16 K/V, hotRingTokens) are fixed costs whatever the context. */
function fixedCacheBytes(spec: ModelSpec, config: CacheConfig): number {
  return config.residual * spec.numLayers * spec.hiddenSize * 2 + hotRingTokens(config.hot ?? 0) * fp16KvBytesPerToken(spec);
}

/**
 * Bytes a cache of `config` needs for `tokens` tokens, at most: fixed costs, the per-token cost, the sliding
 * layers' rings (every mode but xquant-cl), and for the per-channel K of kivi / xquant-gqa the f16 rows of the block still
 * filling (up to a page plus the residual window), which the per-token figure amortizes away.
 */
export function cacheBytesFor(spec: ModelSpec, config: CacheConfig, tokens: number): number {
  const tail = MODE_TRAITS[config.mode].kBlocks ? Math.min(tokens, PAGE_TOKENS - 1 + config.residual) * spec.numLayers * kvDim(spec) * 2 : 0;
  return fixedCacheBytes(spec, config) + tokens * cacheBytesPerToken(spec, config) + ringCacheBytes(spec, config, tokens) + tail;
}

/** The cache config `auto` stands for, or a typed error that says what the target needs. */
export function autoCacheMode(spec: ModelSpec, budgetBytes: number, targetContext: number, o: PlanOptions = {}): CacheConfig {
  const plan = planCache(spec, budgetBytes, targetContext, o);
  if (plan.auto) return parseCacheMode(plan.auto);
  const smallest = plan.modes.reduce((a, b) => (b.bytesAtTarget < a.bytesAtTarget ? b : a));
  throw new InvalidArgumentError(`no cache mode holds ${targetContext} tokens in ${budgetBytes} bytes`, {
    field: 'memoryBudget',
    expected: `at least ${smallest.bytesAtTarget} bytes (${cacheModeName(parseCacheMode(smallest.mode))}, the smallest mode, at ${smallest.bytesPerToken} bytes per token)`,
    got: `${budgetBytes} bytes`,
  });
}

/** A named cache mode for `tokens` tokens of a model, refused with a typed error when it does not fit `budgetBytes`. */
export function namedCache(spec: ModelSpec, name: string, tokens: number, budgetBytes: number): CacheConfig {
  const config = parseCacheMode(name);
  const need = cacheBytesFor(spec, config, tokens);
  if (need > budgetBytes) {
    throw new GpuOutOfMemoryError(`the ${name} cache for ${tokens} tokens does not fit the memory budget`, {
      field: 'memoryBudgetMB',
      expected: `at most ${budgetBytes} bytes`,
      got: `${need} bytes`,
      requested: need,
      budget: budgetBytes,
    });
  }
  return config;
}

/** A memory budget in MiB as bytes, or a typed error. */
export function budgetBytesOf(mb: number): number {
  if (!(typeof mb === 'number' && mb > 0 && Number.isFinite(mb)))
    throw new InvalidArgumentError('must be a positive number', { field: 'memoryBudgetMB', got: String(mb) });
  return mb * 2 ** 20;
}

/** The load option `accuracyBound` checked: a fraction of perplexity in [0, 1] (default DEFAULT_ACCURACY_BOUND). */
export function accuracyBoundOf(bound: number | undefined): number {
  if (bound === undefined) return DEFAULT_ACCURACY_BOUND;
  if (!(Number.isFinite(bound) && bound >= 0 && bound <= 1)) {
    throw new InvalidArgumentError('must be a fraction of perplexity between 0 and 1 (0.01: +1%)', { field: 'accuracyBound', got: String(bound) });
  }
  return bound;
}
