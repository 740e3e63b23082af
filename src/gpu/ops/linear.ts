// y = W x (+ bias) (+ y) for a packed matrix (shaders/linear.wgsl): one dispatch per row part.

import { pad32 } from '../../quant/weight-format';
import { weightPrefix, type GpuMatrix } from '../gpu-matrix';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

export interface LinearArgs {
  x: GPUBuffer;
  y: GPUBuffer;
  bias: GPUBuffer | null;
  /** Row strides of x and y in elements. */
  xStride: number;
  yStride: number;
  /** Tokens per invocation: 1 for decode (GEMV), 4 for prefill (GEMM). */
  tileM: number;
  /** y += W x (a fused residual add). */
  accumulate: boolean;
  /** Only the step's last token, written to y's row 0. */
  lastOnly: boolean;
}

export function linearOps(ctx: OpContext, label: string, w: GpuMatrix, a: LinearArgs): Dispatch[] {
  const consts = {
    W_ROW_WORDS: w.rowWords,
    W_SCALE_WORDS: w.scaleWords,
    IN_VEC4: pad32(w.cols) / 4,
    X_STRIDE: a.xStride,
    Y_STRIDE: a.yStride,
    TILE_M: a.lastOnly ? 1 : a.tileM,
    HAS_BIAS: a.bias !== null,
    ACCUMULATE: a.accumulate,
    LAST_ONLY: a.lastOnly,
  };
  return w.parts.map((p) => {
    const tiles = (tokens: number) => (a.lastOnly ? 1 : Math.ceil(tokens / consts.TILE_M));
    const d = makeDispatch(
      ctx,
      { op: 'linear', prefixes: [weightPrefix(w.format)], consts },
      ['uniform', 'read', 'read', 'read', 'read', 'write'],
      [p.params, p.data, p.scales ?? ctx.empty, a.x, a.bias ?? ctx.empty, a.y],
      (tokens) => flatGrid(p.rows * tiles(tokens)),
    );
    return { ...d, label };
  });
}
