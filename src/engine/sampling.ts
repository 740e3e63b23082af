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
  seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature))) throw new InvalidArgumentError('must be >= 0', { field: 'temperature', got: String(o.temperature) });
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) throw new InvalidArgumentError('must be an integer >= 0', { field: 'top_k', got: String(o.topK) });
  if (!(o.topP > 0 && o.topP <= 1)) throw new InvalidArgumentError('must be in (0, 1]', { field: 'top_p', got: String(o.topP) });
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

export class Sampler {
  private readonly random: () => number;
  constructor(private readonly o: SamplingOptions) {
    checkSampling(o);
    this.random = seededRandom(o.seed);
  }

  get greedy(): boolean {
    return this.o.temperature === 0;
  }

  next(logits: Float32Array): number {
    const { temperature, topK, topP } = this.o;
    if (temperature === 0) return argmax(logits);
    let order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    if (topK > 0) order = order.slice(0, topK);
    const max = logits[order[0]];
    const p = order.map((i) => Math.exp((logits[i] - max) / temperature));
    const total = p.reduce((a, b) => a + b, 0);
    let keep = order.length;
    if (topP < 1) {
      let cum = 0;
      for (let i = 0; i < order.length; i++) {
        cum += p[i] / total;
        if (cum >= topP) {
          keep = i + 1;
          break;
        }
      }
    }
    const kept = p.slice(0, keep).reduce((a, b) => a + b, 0);
    let r = this.random() * kept;
    for (let i = 0; i < keep; i++) {
      r -= p[i];
      if (r < 0) return order[i];
    }
    return order[keep - 1];
  }
}
