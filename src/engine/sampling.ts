// Choosing the next token: greedy, or temperature / top-k / top-p sampling from a seeded generator, so a
// given seed always gives the same text.

import { InvalidArgumentError } from '../errors';

export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  /** 0 means no top-k cut. */
  topK: number;
  /** 1 means no nucleus cut. */
  topP: number;
  /** Keep only tokens with at least minP times the top token's probability; 0 (default) means no cut. */
  minP?: number;
  seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature)))
    throw new InvalidArgumentError('must be >= 0', { field: 'temperature', got: String(o.temperature) });
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) throw new InvalidArgumentError('must be an integer >= 0', { field: 'top_k', got: String(o.topK) });
  if (!(o.topP > 0 && o.topP <= 1)) throw new InvalidArgumentError('must be in (0, 1]', { field: 'top_p', got: String(o.topP) });
  const minP = o.minP ?? 0;
  if (!(minP >= 0 && minP <= 1)) throw new InvalidArgumentError('must be in [0, 1]', { field: 'min_p', got: String(o.minP) });
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Choose a token from logits with a uniform draw u in [0, 1). This is the definition shaders/sample.wgsl
 * implements, phrased with thresholds so a GPU can compute it without sorting:
 *  - top-k keeps every token whose logit is at least the k-th largest (ties at the cut are all kept);
 *  - top-p then keeps every token whose logit is at least tau, the largest value such that the kept
 *    tokens at or above it hold at least top_p of the (temperature-scaled) probability;
 *  - min-p then keeps only tokens whose probability is at least min_p times the top token's: logits at least
 *    max + ln(min_p) * temperature, computed in f32 as the GPU computes it;
 *  - u picks a token by walking the kept tokens in vocabulary order, each weighted by its probability.
 */
export function pickToken(logits: Float32Array, o: SamplingOptions, u: number): number {
  if (o.temperature === 0) return argmax(logits);
  const V = logits.length;
  const inv = 1 / o.temperature;
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]);
  const desc = Array.from(logits).sort((a, b) => b - a);
  let cut = o.topK > 0 && o.topK < V ? desc[o.topK - 1] : -Infinity;
  const weight = (z: number) => Math.exp((z - max) * inv);
  if (o.topP < 1) {
    let total = 0;
    for (const z of desc) if (z >= cut) total += weight(z);
    let mass = 0;
    for (const z of desc) {
      if (z < cut) break;
      mass += weight(z);
      if (mass >= o.topP * total) {
        cut = z;
        break;
      }
    }
  }
  if (o.minP) {
    const f = Math.fround;
    cut = Math.max(cut, f(max + f(f(Math.log(f(o.minP))) / f(inv))));
  }
  let kept = 0;
  let last = 0;
  for (let i = 0; i < V; i++) {
    if (logits[i] >= cut) {
      kept += weight(logits[i]);
      last = i;
    }
  }
  let r = u * kept;
  for (let i = 0; i < V; i++) {
    if (logits[i] < cut) continue;
    r -= weight(logits[i]);
    if (r < 0) return i;
  }
  return last;
}

/** Sampling options plus the seeded generator: one draw per token, wherever the choice is computed. */
export class Sampler {
  private readonly random: () => number;
  constructor(readonly options: SamplingOptions) {
    checkSampling(options);
    this.random = seededRandom(options.seed);
  }

  get greedy(): boolean {
    return this.options.temperature === 0;
  }

  /** The uniform draw for the next token (greedy choices draw nothing). */
  draw(): number {
    return this.greedy ? 0 : this.random();
  }

  next(logits: Float32Array): number {
    return pickToken(logits, this.options, this.draw());
  }
}
