// What the demo's Compare button sets against fp16, and how it reads the result: the per-token NLL of one
// continuation under two caches is a paired sample, so the mean difference comes with its standard error,
// and a difference within twice that error is reported as no measurable cost, not as a result.

import type { CachePlan } from '../engine/planner';

/** The share of fp16's bytes the "tighter budget" stands for when the user's own pick is fp16 or f32. */
const TIGHTER = 1 / 4;

/**
 * The mode to compare with fp16: the user's pick, unless that is fp16 or f32 (as `auto` is on a generous
 * budget); then the most accurate mode that a budget of a quarter of fp16's cache would use.
 */
export function comparisonMode(selected: string, plan: CachePlan): { mode: string; why: string } {
  if (selected !== 'fp16' && selected !== 'f32') return { mode: selected, why: 'the selected mode' };
  const fp16 = plan.modes.find((m) => m.mode === 'fp16');
  // The most accurate plain mode (no hot tier) within a quarter of fp16's bytes.
  const cost = (m: CachePlan['modes'][number]) => m.accuracyCost ?? Infinity;
  const tighter = fp16
    ? plan.modes
        .filter((m) => m.mode !== 'fp16' && m.hot === 0 && m.bytesAtTarget <= fp16.bytesAtTarget * TIGHTER)
        .reduce<CachePlan['modes'][number] | undefined>((a, b) => (!a || cost(b) < cost(a) ? b : a), undefined)
    : undefined;
  if (!tighter) return { mode: 'xquant-cl-4', why: 'the mode this page features' };
  return { mode: tighter.mode, why: `what a budget of a quarter of fp16's cache would use (${selected} is selected)` };
}

export interface NllDifference {
  /** Mean over tokens of (other − base) NLL, nats per token. */
  mean: number;
  /** Its standard error from the tokens' spread (tokens of one text are not independent: a rough guide). */
  stderr: number;
  n: number;
}

export function nllDifference(base: readonly number[], other: readonly number[]): NllDifference {
  const n = Math.min(base.length, other.length);
  const d = Array.from({ length: n }, (_, i) => other[i] - base[i]);
  const mean = d.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const variance = n > 1 ? d.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : Number.NaN;
  return { mean, stderr: Math.sqrt(variance / n), n };
}

/** One sentence: measurable only beyond twice the standard error. */
export function describeDifference(mode: string, d: NllDifference): string {
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
  if (!(d.n > 1 && Number.isFinite(d.stderr))) return `${mode} vs fp16: the reply is too short to measure a difference.`;
  const figure = `${signed(d.mean)} ± ${d.stderr.toFixed(3)} nats per token over ${d.n} tokens`;
  if (Math.abs(d.mean) <= 2 * d.stderr) return `${mode} vs fp16: no measurable cost on this reply (${figure}).`;
  return d.mean > 0
    ? `${mode} vs fp16: costs ${figure} on this reply (beyond twice its standard error).`
    : `${mode} vs fp16: scores the fp16 reply higher by ${figure.slice(1)} on this reply (beyond twice its standard error).`;
}
