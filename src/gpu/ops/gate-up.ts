// The MLP's first half, y = silu(W_gate x) * (W_up x), in one dispatch per row part (the gate and up
// matrices have the same shape, so their parts pair up). Kernel class cpu: shaders/gate-up-swiglu.wgsl for
// every step; class gpu: shaders/gate-up-swiglu-gpu.wgsl for one-token steps (decode), the cpu kernel for
// prefill tiles.

import { pad32 } from '../../quant/weight-format';
import { weightPrefix, type GpuMatrix } from '../gpu-matrix';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';
import { gemvGrid, gemvRows, gemvWorkgroupBytes, GEMV_WG } from './linear';

export interface GateUpArgs {
  x: GPUBuffer;
  y: GPUBuffer;
  xStride: number;
  yStride: number;
  /** Tokens per invocation of the cpu kernel: 1 for decode, 4 for prefill. */
  tileM: number;
}

export function gateUpOps(ctx: OpContext, label: string, gate: GpuMatrix, up: GpuMatrix, a: GateUpArgs): Dispatch[] {
  const gpu = ctx.kernels === 'gpu' && a.tileM === 1;
  const prefixes = ['gate-up-bindings', weightPrefix(gate.format), `${weightPrefix(up.format)}@up`];
  const shared = { W_ROW_WORDS: gate.rowWords, W_SCALE_WORDS: gate.scaleWords, IN_VEC4: pad32(gate.cols) / 4, X_STRIDE: a.xStride, Y_STRIDE: a.yStride };
  return gate.parts.map((p, i) => {
    const u = up.parts[i];
    const buffers = [p.params, p.data, p.scales ?? ctx.empty, u.data, u.scales ?? ctx.empty, a.x, a.y];
    const bindings = ['uniform', 'read', 'read', 'read', 'read', 'read', 'write'] as const;
    if (gpu) {
      const rows = gemvRows(p.rows);
      const source = { op: 'gate-up-swiglu-gpu', prefixes, consts: { ...shared, ROWS: rows, GEMV_WG }, workgroupBytes: gemvWorkgroupBytes(p.rows, 2) };
      return { ...makeDispatch(ctx, source, bindings, buffers, (tokens) => gemvGrid(Math.ceil(p.rows / rows) * Math.max(1, tokens))), label };
    }
    const source = { op: 'gate-up-swiglu', prefixes, consts: { ...shared, TILE_M: a.tileM } };
    return { ...makeDispatch(ctx, source, bindings, buffers, (tokens) => flatGrid(p.rows * Math.ceil(tokens / a.tileM))), label };
  });
}
