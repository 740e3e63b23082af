import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors';
import { adjustLogits, argmax, maskLogits, pickToken, Sampler, tokenLogprob, type Penalties } from './sampling';

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

describe('pickToken (the definition the GPU sampler implements)', () => {
  const z = Float32Array.from([1, 3, 2.5, -1, 0, 3]);
  it('top-k keeps ties at the cut; u walks the kept tokens in vocabulary order', () => {
    const o = { temperature: 1, topK: 1, topP: 1, seed: 0 };
    // top-k 1: the largest value is 3 (ids 1 and 5, equal weight)
    expect(pickToken(z, o, 0.49)).toBe(1);
    expect(pickToken(z, o, 0.51)).toBe(5);
  });

  it('top-p keeps the smallest set of top values holding top_p of the mass', () => {
    const o = { temperature: 1, topK: 0, topP: 0.6, seed: 0 };
    // weights e^(z-3): ids 1 and 5 hold 2/(2 + e^-0.5 + e^-2 + e^-3 + e^-4) ≈ 0.70 >= 0.6, so only they stay
    for (const u of [0, 0.3, 0.7, 0.999]) expect([1, 5]).toContain(pickToken(z, o, u));
    const wide = { ...o, topP: 0.8 }; // needs id 2 as well
    expect(pickToken(z, wide, 0.999)).toBe(5);
    expect(new Set([0.1, 0.35, 0.5, 0.65, 0.9].map((u) => pickToken(z, wide, u)))).toEqual(new Set([1, 2, 5]));
  });

  it('min-p keeps tokens with at least min_p x the top probability, at the temperature', () => {
    // weights e^(z-3) at T = 1: ids 1, 5: 1; id 2: e^-0.5 = 0.61; id 0: e^-2 = 0.14; id 4: 0.05; id 3: 0.018
    const keep = (minP: number, temperature = 1) =>
      new Set(Array.from({ length: 400 }, (_, i) => pickToken(z, { temperature, topK: 0, topP: 1, minP, seed: 0 }, (i + 0.5) / 400)));
    expect(keep(0.5)).toEqual(new Set([1, 2, 5]));
    expect(keep(0.1)).toEqual(new Set([0, 1, 2, 5]));
    expect(keep(0.01)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    // At T = 2 the weights are square roots: e^-1 = 0.37 for id 0, so min_p 0.3 keeps it.
    expect(keep(0.3, 2)).toEqual(new Set([0, 1, 2, 5]));
    expect(() => new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 1.5, seed: 0 })).toThrow(/min_p/);
  });
});

describe('penalties and logit bias (the definition shaders/logit-adjust.wgsl implements)', () => {
  const z = Float32Array.from([1, 3, 2.5, -1, 0, 3]);
  const none: Penalties = { frequency: 0, presence: 0, repetition: 1, bias: new Map() };

  it('repetition (prompt or reply) divides a positive logit and multiplies a negative one; then bias; then frequency and presence (reply)', () => {
    const p: Penalties = {
      frequency: 0.5,
      presence: 0.25,
      repetition: 2,
      bias: new Map([
        [4, 1.5],
        [0, -100],
      ]),
    };
    const reply = new Map([[1, 2]]); // id 1 twice in the reply
    const prompt = new Map([
      [3, 1],
      [2, 1],
    ]); // ids 3 and 2 in the prompt
    const out = Array.from(adjustLogits(z, p, reply, prompt));
    // id 0: bias -100 -> -99; id 1: 3 / 2 - (0.5 * 2 + 0.25) = 0.25; id 2: 2.5 / 2 = 1.25; id 3: -1 * 2 = -2; id 4: 0 + 1.5; id 5 unchanged
    expect(out).toEqual([-99, 0.25, 1.25, -2, 1.5, 3]);
    expect(Array.from(adjustLogits(z, none, reply, prompt))).toEqual(Array.from(z));
  });

  it('a greedy reply with a frequency penalty stops repeating the top token; logit_bias -100 bans a token', () => {
    const flat = Float32Array.from([0, 1, 0.9, 0.8]);
    const greedy = (penalties?: Penalties) => {
      const s = new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0, penalties });
      return Array.from({ length: 4 }, () => s.next(flat));
    };
    expect(greedy()).toEqual([1, 1, 1, 1]);
    // After one 1, its logit is 1 - 0.15 = 0.85 < 0.9: then 2 (0.9), then 1 (0.85) beats 2 (0.75) and 3 (0.8)...
    expect(greedy({ ...none, frequency: 0.15 })).toEqual([1, 2, 1, 3]);
    expect(greedy({ ...none, bias: new Map([[1, -100]]) })).toEqual([2, 2, 2, 2]);
    // Repetition counts the prompt: with token 1 in it, 1 / 2 = 0.5 loses from the start.
    const s = new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0, penalties: { ...none, repetition: 2 } }, [1]);
    expect(s.next(flat)).toBe(2);
    expect(() => new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0, penalties: { ...none, presence: 3 } })).toThrow(/presence_penalty/);
    expect(() => new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0, penalties: { ...none, bias: new Map([[1, 101]]) } })).toThrow(/logit_bias/);
  });

  it('logprobs: within 1e-4 of a float64 log-softmax of the same logits, with the top alternatives in order', () => {
    let seed = 99;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const z = Float32Array.from({ length: 50_000 }, () => 6 * rand() - 3);
    z[123] = 9; // a clear top token
    z[77] = 8.5;
    // The definition, written out: log p_i = z_i - log(sum_j exp(z_j)), each z_j widened to float64.
    const values = Array.from(z, Number);
    const lse = Math.log(values.reduce((a, v) => a + Math.exp(v), 0));
    for (const id of [123, 77, 5, 49_999]) {
      const r = tokenLogprob(z, id, 3);
      expect(Math.abs(r.logprob - (values[id] - lse))).toBeLessThan(1e-4);
      expect(r.top.map((t) => t.id)).toEqual([123, 77, r.top[2].id]);
      expect(r.top[2].logprob).toBeLessThanOrEqual(r.top[1].logprob);
      for (const t of r.top) expect(Math.abs(t.logprob - (values[t.id] - lse))).toBeLessThan(1e-4);
    }
    const s = new Sampler({ temperature: 0, topK: 0, topP: 1, seed: 0 }, [], null, 2);
    s.next(logits);
    expect(s.logprobs).toHaveLength(1);
    expect(s.logprobs[0]).toMatchObject({ id: 1, top: [{ id: 1 }, { id: 2 }] });
  });

  it("a constraint's mask: masked tokens are never chosen, even when top-k reaches past the allowed ones", () => {
    const mask = Uint32Array.of(0b10100); // ids 2 and 4 allowed
    const z = maskLogits(logits, mask);
    expect(argmax(z)).toBe(2);
    const picks = new Set(Array.from({ length: 300 }, (_, i) => pickToken(z, { temperature: 5, topK: 4, topP: 1, seed: 0 }, i / 300)));
    expect(picks).toEqual(new Set([2, 4]));
    expect(pickToken(z, { temperature: 1, topK: 0, topP: 1, seed: 0 }, 0.999999)).toBe(4);
  });
});
