import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { argmax, Sampler } from './sampling';

const logits = Float32Array.from([1, 3, 2.5, -1, 0]);

describe('sampling', () => {
  it('greedy and top-k 1 pick the argmax', () => {
    expect(argmax(logits)).toBe(1);
    expect(new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 1 }).next(logits)).toBe(1);
    expect(new Sampler({ temperature: 2, topK: 1, topP: 1, seed: 1 }).next(logits)).toBe(1);
  });

  it('the same seed gives the same draws; top-p keeps only the nucleus', () => {
    const draw = (seed: number, topP: number) => {
      const s = new Sampler({ temperature: 1, topK: 0, topP, seed });
      return Array.from({ length: 200 }, () => s.next(logits));
    };
    expect(draw(42, 1)).toEqual(draw(42, 1));
    expect(draw(42, 1)).not.toEqual(draw(43, 1));
    // softmax of [1, 3, 2.5, -1, 0]: p(1) ≈ 0.55, p(2) ≈ 0.33 -> top-p 0.8 keeps ids 1 and 2 only
    expect(new Set(draw(7, 0.8))).toEqual(new Set([1, 2]));
    expect(new Set(draw(7, 1)).size).toBeGreaterThan(2);
  });

  it('rejects bad parameters', () => {
    expect(() => new Sampler({ temperature: -1, topK: 0, topP: 1, seed: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Sampler({ temperature: 1, topK: 0, topP: 0, seed: 0 })).toThrow(/top_p/);
  });
});
