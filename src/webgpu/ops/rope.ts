// Rotary embedding of q and k in place (shaders/rope.wgsl) from a (cos, sin) table.

import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface RopeArgs {
  q: GPUBuffer;
  k: GPUBuffer;
  /** vec2(cos, sin) per position and frequency: [positions, headDim / 2]. */
  table: GPUBuffer;
  headDim: number;
  qHeads: number;
  kHeads: number;
  qStride: number;
  kStride: number;
  interleaved: boolean;
}

export function ropeOp(ctx: OpContext, a: RopeArgs): Dispatch {
  const half = a.headDim / 2;
  return makeDispatch(
    ctx,
    {
      op: 'rope',
      consts: { HALF: half, Q_HEADS: a.qHeads, K_HEADS: a.kHeads, Q_STRIDE: a.qStride, K_STRIDE: a.kStride, INTERLEAVED: a.interleaved },
    },
    ['write', 'write', 'read'],
    [a.q, a.k, a.table],
    (tokens) => flatGrid(tokens * (a.qHeads + a.kHeads) * half),
  );
}

/** The table the reference uses: amp[i] times cos and sin of pos * invFreq[i], computed in f64. */
export function ropeTable(invFreq: Float64Array, positions: number, amp?: Float64Array): Float32Array<ArrayBuffer> {
  const half = invFreq.length;
  const t = new Float32Array(positions * half * 2);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i];
      const a = amp?.[i] ?? 1;
      t[(p * half + i) * 2] = a * Math.cos(angle);
      t[(p * half + i) * 2 + 1] = a * Math.sin(angle);
    }
  }
  return t;
}
