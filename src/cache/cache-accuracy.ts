// What each cache mode costs in accuracy: perplexity over f32's, relative (0.01 = +1%), measured on the
// reference backend with every prediction read from the quantized cache (BENCHMARKS.md, "Accuracy: perplexity
// by cache mode"). Two tables, because attention's shape decides which mode wins: on a GQA model X is as wide as
// K+V or wider and per-channel K quantization shines; on an MHA model X is half of K+V.
//
// These are trained models of 5-6 layers, far from 1-8B ones; a larger model's order may differ. Options only
// improve on their mode (a residual window and pinned layers keep more bits, a hot tier keeps exact K/V for the
// newest tokens), so a configuration is charged its plain mode's figure: an upper bound.

import type { ModelSpec } from '../model/model-spec';
import { isQuantized, type CacheConfig } from './cache-config';

export interface AccuracyTable {
  /** Where the numbers come from: model, text, windows, command, date. */
  source: string;
  /** The f32 cache's perplexity, the base of every figure. */
  f32Ppl: number;
  /** Perplexity minus f32's, by mode name ("kivi-4"). */
  deltaPpl: Readonly<Record<string, number>>;
}

/** GQA: stories260K (5 layers, d 64, 8 heads over 4 kv heads), tinystories-valid-head, 32 windows of 512. */
export const GQA_ACCURACY: AccuracyTable = {
  source: 'stories260K (GQA 2:1, 5 layers), tinystories-valid-head, 32 × 512 tokens, `npm run ppl-table`, 2026-11-27',
  f32Ppl: 4.2762,
  deltaPpl: {
    fp16: 0,
    'xquant-8': 0.0005,
    'xquant-gqa-4': 0.0084,
    'kivi-4': 0.0121,
    'xquant-cl-4': 0.0389,
    'kivi-3': 0.0541,
    'xquant-gqa-3': 0.0541,
    'xquant-cl-3': 0.0598,
    'xquant-4': 0.0663,
    'xquant-cl-2': 0.1947,
    'xquant-3': 0.2757,
    'kivi-2': 0.4113,
    'xquant-gqa-2': 0.4311,
    'xquant-2': 6.1045,
  },
};

/**
 * MHA: austen-3m (6 layers, d 192, 6 heads), held-out Pride and Prejudice, 16 windows of 512 (8,176 scored tokens).
 * Here X is half of K+V, and xquant-cl-4 is closer to f32 than kivi-4 at half its bytes, as the paper finds.
 */
export const MHA_ACCURACY: AccuracyTable = {
  source: 'austen-3m (MHA, 6 layers), Pride and Prejudice (held out), 16 × 512 tokens, `npm run -s ppl -- --backend reference`, 2026-12-06',
  f32Ppl: 55.9461,
  deltaPpl: {
    fp16: 0.0001,
    'xquant-8': -0.0002,
    'xquant-cl-4': 0.0034,
    'xquant-cl-3': 0.0297,
    'kivi-4': 0.0348,
    'xquant-4': 0.0477,
    'kivi-3': 0.0548,
    'xquant-cl-2': 0.0729,
    'xquant-3': 0.1996,
    'xquant-2': 1.0497,
    'kivi-2': 1.2146,
  },
};

/**
 * Relative differences below this are treated as none: at 8-16K scored tokens, fp16 and xquant-8 land within it of
 * f32 either way, so ordering them by it would follow noise.
 */
export const ACCURACY_RESOLUTION = 0.0002;

export function accuracyTableFor(spec: ModelSpec): AccuracyTable {
  return spec.numKvHeads < spec.numHeads ? GQA_ACCURACY : MHA_ACCURACY;
}

/** The mode's name in the tables: its family and bits, options dropped. */
function tableKey(c: CacheConfig): string {
  return isQuantized(c.mode) ? `${c.mode}-${c.bits}` : c.mode;
}

/** Relative perplexity cost of a configuration on a model like `spec` (0 for f32), or null when unmeasured. */
export function accuracyCost(spec: ModelSpec, c: CacheConfig): number | null {
  if (c.mode === 'f32') return 0;
  const table = accuracyTableFor(spec);
  const delta = table.deltaPpl[tableKey(c)];
  if (delta === undefined) return null;
  const relative = delta / table.f32Ppl;
  return relative < ACCURACY_RESOLUTION ? 0 : relative;
}
