// The xquant modes' kernels: quantize new X into the paged store (xquant-append.wgsl), fused
// rematerializing attention over the past (xquant-attend.wgsl), and its merge with absorbed V
// (xquant-values.wgsl). All share the store layout of shaders/xquant-store.wgsl.

import { pad32 } from '../../quant/weight-format';
import { weightPrefix, type GpuMatrix } from '../gpu-matrix';
import type { ShaderConsts } from '../shader-library';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** The store's shape: what xquant-store.wgsl needs to find and decode a row. */
export interface XStoreLayout {
  layers: number;
  page: number;
  group: number;
  /** First delta layer of XQuant-CL; 0 for plain xquant. */
  clBase: number;
  layerBits: readonly number[];
  rowWords: readonly number[];
  groupWords: readonly number[];
  /** Residual window in tokens (0: none); its f16 ring sits at the start of the pool. */
  residual: number;
  /** u32 words of one f16 row in the ring. */
  ringRowWords: number;
}

function storeSource(s: XStoreLayout): { consts: ShaderConsts; declarations: string[] } {
  const table = (name: string, v: readonly number[]) => `var<private> ${name}: array<u32, ${v.length}> = array<u32, ${v.length}>(${v.map((x) => `${x}u`).join(', ')});`;
  return {
    consts: { LAYERS: s.layers, PAGE: s.page, GROUP: s.group, CL_BASE: s.clBase, RESIDUAL: s.residual, RING_ROW_WORDS: s.ringRowWords },
    declarations: [table('LAYER_BITS', s.layerBits), table('ROW_WORDS', s.rowWords), table('GROUP_WORDS', s.groupWords)],
  };
}

function singlePart(m: GpuMatrix, what: string) {
  if (m.parts.length !== 1) throw new Error(`${what} must fit one storage binding for the xquant kernels`);
  return m.parts[0];
}

export interface XStoreBuffers {
  pages: GPUBuffer;
  pool: GPUBuffer;
}

/** Store one layer's step: quantize the tokens leaving the window, then put the new ones in it. */
export function xquantAppendOps(ctx: OpContext, s: XStoreLayout, b: XStoreBuffers, layer: number, x: GPUBuffer, d: number, xStride: number): Dispatch[] {
  const src = storeSource(s);
  const kernel = (op: string, grid: (tokens: number) => [number, number]) =>
    makeDispatch(
      ctx,
      { op, prefixes: ['xquant-store'], consts: { ...src.consts, LAYER: layer, D: d, X_STRIDE: xStride }, declarations: src.declarations },
      ['read', 'read', 'write'],
      [x, b.pages, b.pool],
      grid,
    );
  const out = [kernel('xquant-append', (tokens) => flatGrid(tokens * Math.ceil(d / s.group)))];
  if (s.residual > 0) out.push(kernel('xquant-window', (tokens) => flatGrid(tokens * s.ringRowWords)));
  return out;
}

export interface XAttendArgs {
  layer: number;
  q: GPUBuffer;
  xPartial: GPUBuffer;
  partial: GPUBuffer;
  rope: GPUBuffer;
  wk: GpuMatrix;
  wv: GpuMatrix;
  bk: GPUBuffer | null;
  bv: GPUBuffer | null;
  d: number;
  headDim: number;
  heads: number;
  kvHeads: number;
  qStride: number;
  window: number;
  maxXChunks: number;
}

/** Workgroup memory budget of xquant-attend (floats): 32 KiB less room for the compiler. */
const SHARED_FLOATS = 7680;

export function xquantAttendOps(ctx: OpContext, s: XStoreLayout, b: XStoreBuffers, a: XAttendArgs): [Dispatch, Dispatch] {
  const src = storeSource(s);
  const dp = pad32(a.d);
  const group = a.heads / a.kvHeads;
  const tt = Math.max(1, Math.min(32, Math.floor(SHARED_FLOATS / (dp + a.headDim + group))));
  const wk = singlePart(a.wk, 'W_k');
  const wv = singlePart(a.wv, 'W_v');
  const attend = makeDispatch(
    ctx,
    {
      op: 'xquant-attend',
      prefixes: [weightPrefix(a.wk.format), 'xquant-store'],
      consts: {
        ...src.consts,
        LAYER: a.layer,
        D: a.d,
        DP: dp,
        HEAD_DIM: a.headDim,
        HALF: a.headDim / 2,
        HEADS: a.heads,
        KV_HEADS: a.kvHeads,
        KV_GROUP: group,
        Q_STRIDE: a.qStride,
        TT: tt,
        EPT: Math.ceil(dp / 64),
        W_ROW_WORDS: a.wk.rowWords,
        W_SCALE_WORDS: a.wk.scaleWords,
        HAS_BIAS: a.bk !== null,
        WINDOW: a.window,
        SCALE: { f32: 1 / Math.sqrt(a.headDim) },
      },
      declarations: src.declarations,
    },
    ['read', 'read', 'read', 'read', 'read', 'read', 'read', 'write'],
    [a.q, b.pages, b.pool, wk.data, wk.scales ?? ctx.empty, a.bk ?? ctx.empty, a.rope, a.xPartial],
    (tokens, plan) => flatGrid(tokens * a.kvHeads * plan.xChunks, 1),
  );
  const values = makeDispatch(
    ctx,
    {
      op: 'xquant-values',
      prefixes: [weightPrefix(a.wv.format)],
      consts: {
        D: a.d,
        DP: dp,
        HEAD_DIM: a.headDim,
        HEADS: a.heads,
        KV_GROUP: group,
        MAX_X_CHUNKS: a.maxXChunks,
        W_ROW_WORDS: a.wv.rowWords,
        W_SCALE_WORDS: a.wv.scaleWords,
        HAS_BIAS: a.bv !== null,
      },
    },
    ['read', 'read', 'read', 'read', 'write'],
    [a.xPartial, wv.data, wv.scales ?? ctx.empty, a.bv ?? ctx.empty, a.partial],
    (tokens) => flatGrid(tokens * a.heads * a.headDim),
  );
  return [attend, values];
}
