// Choosing the next token: greedy, or temperature / top-k / top-p sampling from a seeded generator, so a
// given seed always gives the same text.

import { InvalidArgumentError } from '../errors';
import type { ConstraintState } from '../grammar/token-mask';

export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  /** 0 means no top-k cut. */
  topK: number;
  /** 1 means no nucleus cut. */
  topP: number;
  /** Keep only tokens with at least minP times the top token's probability; 0 (default) means no cut. */
  minP?: number;
  /** Penalties and logit bias, applied to the logits before any choice (greedy too). */
  penalties?: Penalties;
  seed: number;
}

/** Logit processors before the choice (shaders/logit-adjust.wgsl is their GPU twin). */
export interface Penalties {
  /** OpenAI's frequency_penalty: subtracted once per occurrence of the token in the reply so far. */
  frequency: number;
  /** OpenAI's presence_penalty: subtracted once if the token occurs in the reply so far. */
  presence: number;
  /** Hugging Face's repetition_penalty, for tokens of the prompt or the reply: a positive logit is divided by it, a negative one multiplied; 1 means none. */
  repetition: number;
  /** OpenAI's logit_bias: added to a token's logit (token id -> bias). */
  bias: ReadonlyMap<number, number>;
}

/** Whether penalties change anything (the GPU then skips their dispatches). */
export function hasPenalties(p: Penalties | undefined): p is Penalties {
  return p !== undefined && (p.frequency !== 0 || p.presence !== 0 || p.repetition !== 1 || p.bias.size > 0);
}

/**
 * The logits after penalties and bias, in f32 steps as the GPU computes them: repetition (prompt or reply),
 * then bias, then frequency and presence (reply). `reply` and `prompt` count each token's occurrences.
 */
export function adjustLogits(logits: Float32Array, p: Penalties, reply: ReadonlyMap<number, number>, prompt: ReadonlyMap<number, number>): Float32Array {
  const f = Math.fround;
  const out = Float32Array.from(logits);
  const touched = new Set([...reply.keys(), ...prompt.keys(), ...p.bias.keys()]);
  for (const t of touched) {
    if (t < 0 || t >= out.length) continue;
    const n = reply.get(t) ?? 0;
    let z = out[t];
    if (n + (prompt.get(t) ?? 0) > 0) z = z > 0 ? f(z / f(p.repetition)) : f(z * f(p.repetition));
    z = f(z + f(p.bias.get(t) ?? 0));
    z = f(z - f(f(f(p.frequency) * n) + (n > 0 ? f(p.presence) : 0)));
    out[t] = z;
  }
  return out;
}

/** What a token outside a constraint's mask gets as its logit (shaders/logit-mask.wgsl writes the same). */
export const MASKED_LOGIT = Math.fround(-3.0e38);
/** Sampling never keeps a token at or below this logit: a masked token stays out even when top-k reaches past the allowed ones. */
export const KEEP_FLOOR = Math.fround(-2.9e38);

/** The logits with every token outside `mask` (a bit per token) set to MASKED_LOGIT. */
export function maskLogits(logits: Float32Array, mask: Uint32Array): Float32Array {
  const out = Float32Array.from(logits);
  for (let i = 0; i < out.length; i++) if (!(mask[i >>> 5] & (1 << (i & 31)))) out[i] = MASKED_LOGIT;
  return out;
}

/** A chosen token's log-probability and the most likely alternatives (OpenAI's logprobs), from the raw logits in float64. */
export interface TokenLogprob {
  id: number;
  logprob: number;
  top: { id: number; logprob: number }[];
}

/** log-softmax of the raw logits at `id`, and the `top` most likely tokens (highest first), in float64. */
export function tokenLogprob(logits: Float32Array, id: number, top: number): TokenLogprob {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    for (let i = 0; i < logits.length; i++) {
      let at: number;
      if (best.length < top) at = best.push(i) - 1;
      else if (logits[i] > logits[best[top - 1]]) best[(at = top - 1)] = i;
      else continue;
      for (; at > 0 && logits[best[at - 1]] < logits[best[at]]; at--) [best[at - 1], best[at]] = [best[at], best[at - 1]];
    }
  }
  return { id, logprob: logits[id] - lse, top: best.map((t) => ({ id: t, logprob: logits[t] - lse })) };
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature)))
    throw new InvalidArgumentError('must be >= 0', { field: 'temperature', got: String(o.temperature) });
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) throw new InvalidArgumentError('must be an integer >= 0', { field: 'top_k', got: String(o.topK) });
  if (!(o.topP > 0 && o.topP <= 1)) throw new InvalidArgumentError('must be in (0, 1]', { field: 'top_p', got: String(o.topP) });
  const minP = o.minP ?? 0;
  if (!(minP >= 0 && minP <= 1)) throw new InvalidArgumentError('must be in [0, 1]', { field: 'min_p', got: String(o.minP) });
  const p = o.penalties;
  if (p) {
    for (const [field, v] of [
      ['frequency_penalty', p.frequency],
      ['presence_penalty', p.presence],
    ] as const) {
      if (!(v >= -2 && v <= 2)) throw new InvalidArgumentError('must be in [-2, 2]', { field, got: String(v) });
    }
    if (!(p.repetition > 0 && Number.isFinite(p.repetition)))
      throw new InvalidArgumentError('must be > 0', { field: 'repetition_penalty', got: String(p.repetition) });
    for (const [id, b] of p.bias) {
      if (!Number.isInteger(id) || id < 0) throw new InvalidArgumentError('keys must be token ids', { field: 'logit_bias', got: String(id) });
      if (!(b >= -100 && b <= 100)) throw new InvalidArgumentError('values must be in [-100, 100]', { field: `logit_bias.${id}`, got: String(b) });
    }
  }
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
  cut = Math.max(cut, KEEP_FLOOR);
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
  /** Occurrences of each token in the prompt and in the reply so far (penalties, on the CPU). */
  private readonly promptCounts = new Map<number, number>();
  private readonly replyCounts = new Map<number, number>();
  /**
   * `promptIds`: the prompt whose tokens the repetition penalty counts (a GPU session uploads its counts).
   * `constraint`: the grammar the output must follow; only tokens in its mask are chosen.
   * `topLogprobs`: record each chosen token's log-probability and this many alternatives (undefined: none) in
   * `logprobs`.
   */
  constructor(
    readonly options: SamplingOptions,
    readonly promptIds: readonly number[] = [],
    readonly constraint: ConstraintState | null = null,
    readonly topLogprobs?: number,
    readonly logprobs: TokenLogprob[] = [],
  ) {
    checkSampling(options);
    this.random = seededRandom(options.seed);
    for (const id of promptIds) this.promptCounts.set(id, (this.promptCounts.get(id) ?? 0) + 1);
  }

  /** The penalties in effect, or undefined when they change nothing. */
  get penalties(): Penalties | undefined {
    return hasPenalties(this.options.penalties) ? this.options.penalties : undefined;
  }

  get greedy(): boolean {
    return this.options.temperature === 0;
  }

  /** The uniform draw for the next token (greedy choices draw nothing). */
  draw(): number {
    return this.greedy ? 0 : this.random();
  }

  /** Whether each choice needs its step's logits on the CPU (a GPU session then reads them back). */
  get wantsLogits(): boolean {
    return this.topLogprobs !== undefined;
  }

  /** The next token from a step's logits: penalties, the constraint's mask, then the choice. */
  next(logits: Float32Array): number {
    const p = this.penalties;
    let z = p ? adjustLogits(logits, p, this.replyCounts, this.promptCounts) : logits;
    if (this.constraint) z = maskLogits(z, this.constraint.mask());
    const id = pickToken(z, this.options, this.draw());
    if (p) this.replyCounts.set(id, (this.replyCounts.get(id) ?? 0) + 1);
    this.chosen(id, logits);
    return id;
  }

  /** After a choice (made here or on a GPU): the constraint advances, the log-probability is recorded. */
  chosen(id: number, logits?: Float32Array): void {
    this.constraint?.accept(id);
    if (this.topLogprobs !== undefined && logits) this.logprobs.push(tokenLogprob(logits, id, this.topLogprobs));
  }
}
