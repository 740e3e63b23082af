import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../model/model-spec';
import { syntheticConfig, TINY } from '../test-support/synthetic-model';
import { Rope, ropeInverseFrequencies } from './rope';

const spec = (edit: Record<string, unknown>) => parseModelConfig(JSON.stringify({ ...syntheticConfig(TINY), ...edit }));

describe('RoPE', () => {
  it('plain inverse frequencies are theta^(-2i/d)', () => {
    const inv = ropeInverseFrequencies(spec({ head_dim: 8, rope_theta: 10000 }));
    expect(Array.from(inv)).toEqual([1, 0.1, 0.01, 0.001].map((x, i) => expect.closeTo(x, 12 - i)));
  });

  it('llama3 scaling keeps short wavelengths, divides long ones, blends the band between', () => {
    // head_dim 8, theta 10000: wavelengths 2π·[1, 10, 100, 1000] = 6.28, 62.8, 628, 6283.
    // original ctx 1000, low 1, high 4: long > 1000 -> /8; short < 250 -> kept; 628 is blended.
    const s = spec({
      head_dim: 8,
      rope_theta: 10000,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 1000 },
    });
    const inv = ropeInverseFrequencies(s);
    expect(inv[0]).toBeCloseTo(1, 12);
    expect(inv[1]).toBeCloseTo(0.1, 12);
    const smooth = (1000 / (2 * Math.PI * 100) - 1) / 3; // = 0.1972...
    expect(inv[2]).toBeCloseTo((1 - smooth) * (0.01 / 8) + smooth * 0.01, 12);
    expect(inv[3]).toBeCloseTo(0.001 / 8, 12);
  });

  it('rotates pairs (i, i + d/2) and preserves the norm', () => {
    const rope = new Rope(spec({ head_dim: 4, rope_theta: 10000 }));
    const v = Float32Array.from([1, 0, 0, 1]);
    rope.apply(v, 0, 1, 3); // pair 0 angle 3, pair 1 angle 0.03
    expect(v[0]).toBeCloseTo(Math.cos(3), 6);
    expect(v[2]).toBeCloseTo(Math.sin(3), 6);
    expect(v[1]).toBeCloseTo(-Math.sin(0.03), 6);
    expect(v[3]).toBeCloseTo(Math.cos(0.03), 6);
  });
});
