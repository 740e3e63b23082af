// The MLP's first half, y = silu(W_gate x) * (W_up x), in one dispatch per row part (the gate and up
// matrices have the same shape, so their parts pair up). Kernel family rowwise: shaders/gate-up-swiglu.wgsl for
// every step; family tiled: shaders/gate-up-swiglu-gemv.wgsl for one-token steps (decode) and
// shaders/gate-up-swiglu-gemm.wgsl (tiles in workgroup memory) for prefill slices.

import { UnsupportedModelError } from '../../errors';
import { pad32 } from '../../quant/weight-format';
import { weightPrefixes, type GpuMatrix } from '../gpu-matrix';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';
import {
  blockVec4,
  GEMM_TILE,
  matmulMath,
  gemmWorkgroupBytes,
  gemvConsts,
  gemvGrid,
  gemvLayout,
  gemvReduce,
  gemvWorkgroupBytes,
  gemvWorkgroupRows,
  normConsts,
  type FusedNorm,
} from './linear';

export interface GateUpArgs {
  x: GPUBuffer;
  y: GPUBuffer;
  xStride: number;
  yStride: number;
  /** Tokens per invocation of the rowwise kernel: 1 for decode, 4 for prefill. */
  tileM: number;
  /** The MLP's RMSNorm fused in (tiled family, tileM 1 only): x is then the residual stream. */
  norm?: FusedNorm;
  /** tiled-family prefill GEMM: tokens per tile (as LinearArgs.gemmTokens). */
  gemmTokens?: number;
  /** GELU (tanh) gate in place of SiLU: Gemma's GeGLU. */
  gelu?: boolean;
}

export function gateUpOps(ctx: OpContext, label: string, gate: GpuMatrix, up: GpuMatrix, a: GateUpArgs): Dispatch[] {
  // Each matrix has its own format and row size; the GEMV reads both with one activation block width.
  if (gate.cols !== up.cols || gate.rows !== up.rows) throw new Error(`${label}: gate and up must have one shape`);
  const gemv = ctx.kernels === 'tiled' && a.tileM === 1;
  if (gemv && blockVec4(gate.format) !== blockVec4(up.format)) {
    throw new UnsupportedModelError('the gate and up projections of one layer are stored in formats the decode kernel cannot pair', {
      field: label,
      expected: 'formats with one block width (q4 and the GGUF block types; or q8; or f16; or f32): load with one weight format, e.g. q8',
      got: `${gate.format} / ${up.format}`,
    });
  }
  // Each dispatch reads a part of each: two formats of different row bytes may cut a large matrix at other rows.
  const aligned = gate.parts.length === up.parts.length && gate.parts.every((p, i) => p.rowOffset === up.parts[i].rowOffset && p.rows === up.parts[i].rows);
  if (!aligned) {
    throw new UnsupportedModelError('the gate and up projections of one layer are split into different binding-sized parts', {
      field: label,
      expected: 'one weight format for both (load with weights q8 or q4)',
      got: `${gate.format} in ${gate.parts.length} parts / ${up.format} in ${up.parts.length}`,
    });
  }
  if (a.norm && !gemv) throw new Error(`${label}: a fused RMSNorm needs the tiled-family kernel`);
  const prefixes = ['gate-up-bindings', ...weightPrefixes(gate.format), ...weightPrefixes(up.format, { suffix: 'up' })];
  const shared = {
    W_ROW_WORDS: gate.rowWords,
    W_SCALE_WORDS: gate.scaleWords,
    W_ROW_WORDS_up: up.rowWords,
    W_SCALE_WORDS_up: up.scaleWords,
    IN_VEC4: pad32(gate.cols) / 4,
    X_STRIDE: a.xStride,
    Y_STRIDE: a.yStride,
    GELU: a.gelu === true,
  };
  return gate.parts.map((p, i) => {
    const u = up.parts[i];
    const buffers = [p.params, p.data, p.scales ?? ctx.empty, u.data, u.scales ?? ctx.empty, a.x, a.y];
    const bindings = ['uniform', 'read', 'read', 'read', 'read', 'read', 'write'] as const;
    if (gemv) {
      const layout = gemvLayout(gate.format, gate.cols, p.rows);
      const reduce = gemvReduce(ctx);
      const math = matmulMath(ctx);
      const source = {
        op: 'gate-up-swiglu-gemv',
        prefixes: [
          'gate-up-bindings',
          ...weightPrefixes(gate.format, { vec4: true }),
          ...weightPrefixes(up.format, { vec4: true, suffix: 'up' }),
          reduce.prefix,
          'gemv-norm',
        ],
        enables: [...reduce.enables, ...math.enables],
        declarations: math.declarations,
        consts: { ...shared, ...gemvConsts(gate.format, layout, 2), ...normConsts(a.norm) },
        workgroupBytes: gemvWorkgroupBytes(layout, 2, ctx.subgroups),
      };
      const grid = (tokens: number) => gemvGrid(Math.ceil(p.rows / gemvWorkgroupRows(layout)) * Math.max(1, tokens));
      return { ...makeDispatch(ctx, source, [...bindings, 'read'], [...buffers, a.norm?.gamma ?? ctx.empty], grid), label };
    }
    if (ctx.kernels === 'tiled') {
      // Prefill: tiles of 64 (or 16) tokens x 32 gate rows and the same 32 up rows (gemm-tile.wgsl).
      const bm = a.gemmTokens ?? GEMM_TILE;
      const math = matmulMath(ctx);
      const source = {
        op: 'gate-up-swiglu-gemm',
        prefixes: [...prefixes, 'gemm-tile'],
        enables: math.enables,
        declarations: math.declarations,
        consts: { ...shared, GEMM_TOKENS: bm },
        workgroupBytes: gemmWorkgroupBytes(bm, math.f16),
      };
      const grid = (tokens: number) => gemvGrid(Math.ceil(p.rows / (GEMM_TILE / 2)) * Math.ceil(Math.max(1, tokens) / bm));
      return { ...makeDispatch(ctx, source, bindings, buffers, grid), label };
    }
    const source = { op: 'gate-up-swiglu', prefixes, consts: { ...shared, TILE_M: a.tileM } };
    return { ...makeDispatch(ctx, source, bindings, buffers, (tokens) => flatGrid(p.rows * Math.ceil(tokens / a.tileM))), label };
  });
}
