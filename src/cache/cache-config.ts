// Cache modes and their options, the names the CLIs and the engine API accept ("xquant-cl-3", "fp16", ...).

import { InvalidArgumentError } from '../errors';
import type { ModelSpec } from '../model/model-spec';
import { QUANT_BITS, type QuantBits } from '../quant/quantize';

export type CacheMode = 'f32' | 'fp16' | 'kivi' | 'xquant' | 'xquant-cl' | 'xquant-gqa';
export const CACHE_MODES: readonly CacheMode[] = ['f32', 'fp16', 'kivi', 'xquant', 'xquant-cl', 'xquant-gqa'];

/** What a mode is, in the terms the backends, the planner and the byte formulas act on (instead of comparing names). */
export interface ModeTraits {
  /** Codes of `bits` width (kivi and the xquant family); f32 and fp16 keep floats. */
  quantized: boolean;
  /** Stores K and V without loss (f32): a perplexity window may run as one batched prefill. */
  lossless: boolean;
  /** What is kept per token: K/V rows, the layer input X, or the latents X·U_k and X·U_v. */
  stores: 'kv' | 'x' | 'latents';
  /**
   * The K side is quantized per channel in blocks of 128 tokens (kivi's K, xquant-gqa's X·U_k): the block
   * still filling waits in f16 (a K-block ring on the GPU).
   */
  kBlocks: boolean;
  /** K is kept before RoPE and rotated as it is read (kivi): RoPE cannot ride in the K projection. */
  preRopeK: boolean;
  /** Layers above the base are deltas of the layer below (xquant-cl): a layer's rebuild reads every earlier layer. */
  crossLayer: boolean;
  /** Rebuilds K and V through SVD factors of W_k and W_v: GQA models only (fewer kv heads than heads). */
  latents: boolean;
}

const KV = { lossless: false, stores: 'kv', kBlocks: false, preRopeK: false, crossLayer: false, latents: false } as const;
export const MODE_TRAITS: Readonly<Record<CacheMode, ModeTraits>> = {
  f32: { ...KV, quantized: false, lossless: true },
  fp16: { ...KV, quantized: false },
  kivi: { ...KV, quantized: true, kBlocks: true, preRopeK: true },
  xquant: { ...KV, quantized: true, stores: 'x' },
  'xquant-cl': { ...KV, quantized: true, stores: 'x', crossLayer: true },
  'xquant-gqa': { ...KV, quantized: true, stores: 'latents', kBlocks: true, latents: true },
};

/** Tokens per quantization group: along the row for per-token groups, along time for per-channel groups. */
export const GROUP_SIZE = 128;

/** Tokens per page of every GPU cache (a per-channel K block is one page). */
export const PAGE_TOKENS = 128;

/**
 * Tokens a tiered cache's hot ring holds: its `hot` tokens plus a spare page, so steps run past a stop (run-ahead
 * decode) never overwrite a token still in the window.
 */
export function hotRingTokens(hot: number): number {
  return hot > 0 ? hot + PAGE_TOKENS : 0;
}

export interface CacheConfig {
  mode: CacheMode;
  /** Code width of quantized modes (ignored by f32 and fp16). */
  bits: QuantBits;
  /** The newest R tokens stay unquantized (fp16). */
  residual: number;
  /** Layers 0..P-1 use at least 4 bits. */
  pinLayers: number;
  /**
   * Tiered cache (GPU, quantized modes; beyond the paper): the newest `hot` tokens (a multiple of 128) also
   * keep materialized fp16 K/V, so decode rematerializes only older tokens. 0 = pure XQuant.
   */
  hot?: number;
  /** Test hook: store f32 rows instead of quantizing, to check that rematerialization itself is exact. */
  exact?: boolean;
}

export function isQuantized(mode: CacheMode): boolean {
  return MODE_TRAITS[mode].quantized;
}

export interface CacheOptions {
  residual?: number;
  pinLayers?: number;
  hot?: number;
}

/** The option names a mode string may carry after a colon, as `cacheModeName` writes them. */
const OPTION_KEYS: Readonly<Record<string, keyof CacheOptions>> = { hot: 'hot', residual: 'residual', 'pin-layers': 'pinLayers' };
const OPTIONS_EXPECTED = 'MODE[:hot=H][,residual=R][,pin-layers=P] with non-negative integers';

/** The options written after the mode's colon ("hot=256,residual=16"), each at most once. */
function parseOptionSuffix(name: string, suffix: string): CacheOptions {
  const out: CacheOptions = {};
  for (const part of suffix.split(',')) {
    const m = /^([a-z-]+)=(\d+)$/.exec(part);
    const key = m ? OPTION_KEYS[m[1]] : undefined;
    if (!m || !key || out[key] !== undefined) throw new InvalidArgumentError('bad cache option', { field: 'cache', expected: OPTIONS_EXPECTED, got: name });
    out[key] = Number(m[2]);
  }
  return out;
}

/**
 * Parse "f32", "fp16", "kivi-4", "xquant-2", "xquant-cl-3", "xquant-gqa-8", optionally followed by options
 * ("xquant-cl-4:hot=256", "xquant-2:residual=32,pin-layers=2"): the form the engine API, the drop-in tag's
 * data-cache and the CLIs' --cache all accept. `options` (the CLIs' flags) may not set an option the name also sets.
 */
export function parseCacheMode(name: string, options: CacheOptions = {}): CacheConfig {
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const fromName = parseOptionSuffix(name, name.slice(colon + 1));
    for (const [option, key] of Object.entries(OPTION_KEYS)) {
      if (fromName[key] !== undefined && options[key] !== undefined)
        throw new InvalidArgumentError(`${option} is set twice`, { field: 'cache', expected: 'the option in the mode name or as a flag, not both', got: name });
    }
    return parseCacheMode(name.slice(0, colon), { ...options, ...fromName });
  }
  const m = /^(f32|fp16|kivi|xquant|xquant-cl|xquant-gqa)(?:-(\d+))?$/.exec(name);
  const expected = `f32, fp16, or kivi|xquant|xquant-cl|xquant-gqa followed by -B with B in ${QUANT_BITS.join(', ')}, then optionally :hot=H,residual=R,pin-layers=P`;
  if (!m) throw new InvalidArgumentError('unknown cache mode', { field: 'cache', expected, got: name });
  const mode = m[1] as CacheMode;
  const quantized = isQuantized(mode);
  if (quantized !== (m[2] !== undefined)) throw new InvalidArgumentError('bad cache mode', { field: 'cache', expected, got: name });
  const bits = (quantized ? Number(m[2]) : 16) as QuantBits;
  if (quantized && !QUANT_BITS.includes(bits)) throw new InvalidArgumentError('unsupported bit width', { field: 'cache', expected, got: name });
  const residual = options.residual ?? 0;
  const pinLayers = options.pinLayers ?? 0;
  const hot = options.hot ?? 0;
  for (const [field, v] of [
    ['residual', residual],
    ['pinLayers', pinLayers],
    ['hot', hot],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError('must be a non-negative integer', { field, got: String(v) });
  }
  if (hot % GROUP_SIZE !== 0) throw new InvalidArgumentError('must be a multiple of 128 tokens', { field: 'hot', got: String(hot) });
  if (hot > 0 && !quantized) throw new InvalidArgumentError('a hot tier only applies to quantized modes', { field: 'hot', got: `${hot} with ${name}` });
  return hot > 0 ? { mode, bits, residual, pinLayers, hot } : { mode, bits, residual, pinLayers };
}

/** The name parseCacheMode reads back: the mode, then its non-zero options ("xquant-2:hot=128,residual=16"). */
export function cacheModeName(c: CacheConfig): string {
  const base = isQuantized(c.mode) ? `${c.mode}-${c.bits}` : c.mode;
  const options = [
    ['hot', c.hot ?? 0],
    ['residual', c.residual],
    ['pin-layers', c.pinLayers],
  ].filter(([, v]) => v !== 0);
  return options.length ? `${base}:${options.map(([k, v]) => `${k}=${v}`).join(',')}` : base;
}

/** Bits used for one layer: pinned layers get at least 4. */
export function layerBits(c: CacheConfig, layer: number): QuantBits {
  return layer < c.pinLayers && c.bits < 4 ? 4 : c.bits;
}

/**
 * XQuant-CL base layers: stored as plain X at max(4, B) bits; deltas start after them.
 * The paper uses 3 base layers; on models with fewer than 5 layers we keep all but the last 2 (at least 1),
 * so shallow test models still have delta layers.
 */
export function clBaseLayers(spec: ModelSpec): number {
  return spec.numLayers >= 5 ? 3 : Math.max(1, spec.numLayers - 2);
}

export function clBaseBits(c: CacheConfig): QuantBits {
  return Math.max(c.bits, 4) as QuantBits;
}

/** Throws when a mode does not apply to a model. */
export function checkModeFits(spec: ModelSpec, c: CacheConfig): void {
  if (MODE_TRAITS[c.mode].latents && spec.numKvHeads === spec.numHeads) {
    throw new InvalidArgumentError('xquant-gqa needs a model with fewer kv heads than heads (use xquant for MHA models)', {
      field: 'cache',
      got: `${spec.numHeads} heads, ${spec.numKvHeads} kv heads`,
    });
  }
}
