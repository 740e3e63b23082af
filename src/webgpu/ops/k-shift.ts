// Re-base cached K after a context shift (shaders/k-shift.wgsl): rows of a K pool stored after RoPE turned back by
// the shift. The Step uniform of `ctx` carries the rows (pos0: first row, tokens: how many).

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface KShiftArgs {
  pool: GPUBuffer;
  /** vec2(cos, sin) of -shift * invFreq[i], [headDim / 2]. */
  table: GPUBuffer;
  headDim: number;
  kvHeads: number;
  f16: boolean;
}

export function kShiftOp(ctx: OpContext, a: KShiftArgs): Dispatch {
  return makeDispatch(
    ctx,
    { op: 'k-shift', consts: { HALF: a.headDim / 2, KV_HEADS: a.kvHeads, KV_F16: a.f16 } },
    ['write', 'read'],
    [a.pool, a.table],
    (tokens) => flatGrid(tokens * a.kvHeads),
  );
}

/** cos and sin of -shift * invFreq[i] (f64, as the reference's table). */
export function shiftTable(invFreq: Float64Array, shift: number): Float32Array<ArrayBuffer> {
  const t = new Float32Array(invFreq.length * 2);
  invFreq.forEach((f, i) => {
    t[2 * i] = Math.cos(-shift * f);
    t[2 * i + 1] = Math.sin(-shift * f);
  });
  return t;
}
