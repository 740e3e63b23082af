import { describe, expect, it } from 'vitest';
import type { CachePlan } from '../engine/planner';
import { comparisonMode, describeDifference, nllDifference } from './compare';

const plan = (modes: [string, number, number][]): CachePlan => ({
  budgetBytes: 2 ** 28,
  targetContext: 512,
  profile: { name: 'test', source: 'stated' },
  accuracyBound: 0.01,
  accuracySource: 'test',
  auto: 'fp16',
  autoReason: 'test',
  modes: modes.map(
    ([mode, bytesPerToken, accuracyCost]) => ({ mode, bytesPerToken, bytesAtTarget: 512 * bytesPerToken, accuracyCost, hot: 0 }) as CachePlan['modes'][number],
  ),
});

describe('Compare', () => {
  const modes = plan([
    ['fp16', 4608, 0],
    ['xquant-8', 2400, 0.0001],
    ['xquant-4', 1100, 0.015],
    ['xquant-gqa-4', 1300, 0.002],
    ['kivi-4', 1250, 0.003],
    ['xquant-cl-4', 1100, 0.009],
  ]);

  it("sets the user's pick against fp16; on fp16 (auto's pick on a large budget) the mode a quarter of fp16's bytes needs", () => {
    expect(comparisonMode('xquant-2', modes).mode).toBe('xquant-2');
    // 4608 / 4 = 1152: the most accurate mode at or under it.
    expect(comparisonMode('fp16', modes)).toEqual({ mode: 'xquant-cl-4', why: "what a budget of a quarter of fp16's cache would use (fp16 is selected)" });
    expect(comparisonMode('f32', plan([['fp16', 100, 0]])).mode).toBe('xquant-cl-4');
  });

  it('reports a paired difference with its standard error, and calls it measurable only beyond twice that', () => {
    const base = [2, 3, 1, 4];
    const same = nllDifference(base, [2.01, 2.99, 1.02, 3.99]);
    // Differences 0.01, -0.01, 0.02, -0.01: mean 0.0025, sample variance 2.25e-4, standard error sqrt(2.25e-4 / 4).
    expect(same.mean).toBeCloseTo(0.0025, 9);
    expect(same.stderr).toBeCloseTo(0.0075, 9);
    expect(describeDifference('xquant-2', same)).toBe('xquant-2 vs fp16: no measurable cost on this reply (+0.003 ± 0.007 nats per token over 4 tokens).');
    const worse = nllDifference(base, [2.5, 3.6, 1.4, 4.5]);
    expect(describeDifference('xquant-2', worse)).toBe(
      'xquant-2 vs fp16: costs +0.500 ± 0.041 nats per token over 4 tokens on this reply (beyond twice its standard error).',
    );
    expect(describeDifference('xquant-2', nllDifference([1], [2]))).toBe('xquant-2 vs fp16: the reply is too short to measure a difference.');
  });
});
