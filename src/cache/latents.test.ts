// xquant-gqa's factors: the SVD reproduces W_k and W_v, and the q8 factors both backends use stay within q8's rounding.

import { describe, expect, it } from 'vitest';
import { packMatrix, unpackMatrix } from '../quant/weight-format';
import { sharedModel } from '../test-support/shared-models';
import { cachedLatents, storedLatents } from './latents';

describe('xquant-gqa factors', () => {
  it('up x down is W_k in f32; the stored q8 factors are q8 values and stay within 5% of its largest value', async () => {
    const m = await sharedModel('stories260K');
    const kv = m.spec.numKvHeads * m.spec.headDim;
    const d = m.spec.hiddenSize;
    const exact = cachedLatents(m);
    const stored = storedLatents(exact);
    expect(storedLatents(exact)).toBe(stored); // computed once per set of factors
    const product = (b: { up: Float32Array; down: Float32Array }) =>
      Float32Array.from({ length: kv * d }, (_, i) => {
        const [r, c] = [Math.floor(i / d), i % d];
        let s = 0;
        for (let j = 0; j < kv; j++) s += b.up[r * kv + j] * b.down[j * d + c];
        return s;
      });
    const wk = m.weights.layers[0].wk;
    const scale = Math.max(...Array.from(wk, Math.abs));
    const err = (a: Float32Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - wk[i]))) / scale;
    expect(err(product(exact[0].k))).toBeLessThan(1e-5);
    const q = stored[0].k;
    expect(q.down).toEqual(unpackMatrix(packMatrix(q.down, kv, d, 'q8'))); // already q8 values: packing again is lossless
    expect(err(product(q))).toBeLessThan(5e-2); // 2.4% on stories260K's layer 0
    expect(err(product(q))).toBeGreaterThan(1e-5); // and really rounded
  });
});
