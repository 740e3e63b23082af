// Kernels of the quantized cache modes (xquant, xquant-cl, xquant-gqa, kivi): store the step's tokens
// (xquant-append.wgsl, xquant-window.wgsl, latent-k-ring.wgsl, latent-commit.wgsl), attend over the past
// by rematerializing K and V inside the kernel (xquant-attend.wgsl), merge and apply the absorbed V
// (xquant-values.wgsl). All read the store layout of shaders/xquant-store.wgsl (+ latent-sources.wgsl).

import { pad32 } from '../../quant/weight-format';
import { weightPrefix, type GpuMatrix } from '../gpu-matrix';
import type { ShaderConsts } from '../shader-library';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** The store's shape: what the kernels need to find and decode a row. */
export interface StoreLayout {
  layers: number;
  page: number;
  group: number;
  /** First delta layer of XQuant-CL; 0 otherwise. */
  clBase: number;
  layerBits: readonly number[];
  /** Per-token rows (X, or the V side): words per row, offset of the rows in a page, words per group. */
  rowWords: readonly number[];
  rowOffset: readonly number[];
  groupWords: readonly number[];
  /** Residual window in tokens (0: none) and its f16 ring of per-token rows. */
  residual: number;
  ringBase: number;
  ringRowWords: number;
  /** kivi / xquant-gqa: the per-channel K side (absent for xquant). */
  k?: { width: number; ring: number; ringBase: number; ringRowWords: number; groupWords: readonly number[] };
}

function storeSource(s: StoreLayout): { consts: ShaderConsts; declarations: string[]; prefixes: string[] } {
  const table = (name: string, v: readonly number[]) => `var<private> ${name}: array<u32, ${v.length}> = array<u32, ${v.length}>(${v.map((x) => `${x}u`).join(', ')});`;
  const consts: Record<string, number> = {
    LAYERS: s.layers,
    PAGE: s.page,
    GROUP: s.group,
    CL_BASE: s.clBase,
    RESIDUAL: s.residual,
    RING_BASE: s.ringBase,
    RING_ROW_WORDS: s.ringRowWords,
  };
  const declarations = [table('LAYER_BITS', s.layerBits), table('ROW_WORDS', s.rowWords), table('ROW_OFFSET', s.rowOffset), table('GROUP_WORDS', s.groupWords)];
  if (s.k) {
    Object.assign(consts, { KW: s.k.width, K_RING: s.k.ring, K_RING_BASE: s.k.ringBase, K_RING_ROW_WORDS: s.k.ringRowWords });
    declarations.push(table('K_GROUP_WORDS', s.k.groupWords));
  }
  return { consts, declarations, prefixes: ['xquant-store', s.k ? 'latent-sources' : 'xquant-sources'] };
}

function singlePart(m: GpuMatrix, what: string) {
  if (m.parts.length !== 1) throw new Error(`${what} must fit one storage binding for the cache kernels`);
  return m.parts[0];
}

export interface StoreBuffers {
  pages: GPUBuffer;
  pool: GPUBuffer;
  /** Per layer a 16-byte uniform holding its index (shaders/xquant-store.wgsl LayerParams). */
  layerParams: readonly GPUBuffer[];
}

/** Kernels that write the store: bindings (source rows, pages, pool, layer). */
function storeKernel(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, op: string, consts: ShaderConsts, src: GPUBuffer, grid: (tokens: number) => [number, number], quantizes: boolean): Dispatch {
  const store = storeSource(s);
  return makeDispatch(
    ctx,
    { op, prefixes: [...store.prefixes, ...(quantizes ? ['quantize'] : [])], consts: { ...store.consts, ...consts }, declarations: store.declarations },
    ['read', 'read', 'write', 'uniform'],
    [src, b.pages, b.pool, b.layerParams[layer]],
    grid,
  );
}

/** Per-token side: quantize the tokens leaving the window, then put the new ones in it. */
export function rowAppendOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, src: GPUBuffer, width: number, stride: number): Dispatch[] {
  const consts = { D: width, X_STRIDE: stride };
  const out = [storeKernel(ctx, s, b, layer, 'xquant-append', consts, src, (tokens) => flatGrid(tokens * Math.ceil(width / s.group)), true)];
  if (s.residual > 0) out.push(storeKernel(ctx, s, b, layer, 'xquant-window', consts, src, (tokens) => flatGrid(tokens * s.ringRowWords), false));
  return out;
}

/** Per-channel K side: the new rows into the f16 ring (before RoPE). */
export function kRingOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number, src: GPUBuffer, stride: number): Dispatch {
  const k = s.k!;
  return storeKernel(ctx, s, b, layer, 'latent-k-ring', { K_STRIDE: stride }, src, (tokens) => flatGrid(tokens * k.ringRowWords), false);
}

/** Per-channel K side: quantize the blocks this step completes. */
export function kCommitOp(ctx: OpContext, s: StoreLayout, b: StoreBuffers, layer: number): Dispatch {
  const k = s.k!;
  return storeKernel(ctx, s, b, layer, 'latent-commit', {}, ctx.empty, (tokens) => flatGrid((Math.ceil(tokens / s.page) + 1) * k.width), true);
}

export interface AttendArgs {
  layer: number;
  q: GPUBuffer;
  xPartial: GPUBuffer;
  partial: GPUBuffer;
  rope: GPUBuffer;
  /** K = rows · kMatrixᵀ + kBias; null: the rows are K (kivi). */
  kMatrix: GpuMatrix | null;
  kBias: GPUBuffer | null;
  /** V = x̄ · vMatrixᵀ + vBias; null: the rows are V (kivi). */
  vMatrix: GpuMatrix | null;
  vBias: GPUBuffer | null;
  /** Widths of the K-side and V-side rows. */
  kWidth: number;
  vWidth: number;
  headDim: number;
  heads: number;
  kvHeads: number;
  qStride: number;
  window: number;
  maxXChunks: number;
  /** A prefill list: tile queries so each rematerialized K serves several of them. */
  prefill: boolean;
}

/** Workgroup memory budget of xquant-attend (floats): 32 KiB less room for the compiler. */
const SHARED_FLOATS = 7680;

export function attendOps(ctx: OpContext, s: StoreLayout, b: StoreBuffers, a: AttendArgs): [Dispatch, Dispatch] {
  const store = storeSource(s);
  const same = !s.k;
  const kwp = pad32(a.kWidth);
  const vwp = pad32(a.vWidth);
  const group = a.heads / a.kvHeads;
  const ept = Math.ceil(vwp / 64);
  // Per invocation the accumulators hold queries x heads x EPT floats; keep that at most 64. Decode: one
  // query, as many kv heads per workgroup as fit (rows dequantized once for all). Prefill: one kv head per
  // workgroup, as many queries as fit (each rematerialized K row serves all of them).
  let perWg = a.prefill ? 1 : a.kvHeads;
  while (perWg > 1 && (perWg * group * ept > 64 || a.kvHeads % perWg !== 0)) perWg--;
  const qt = a.prefill ? Math.max(1, Math.min(16, Math.floor(64 / (group * ept)))) : 1;
  const perToken = kwp + (same ? 0 : vwp) + perWg * a.headDim + qt * perWg * group;
  const tt = Math.max(4, Math.min(32, 4 * Math.floor(SHARED_FLOATS / perToken / 4)));
  const wk = a.kMatrix ? singlePart(a.kMatrix, 'the K matrix') : null;
  const wv = a.vMatrix ? singlePart(a.vMatrix, 'the V matrix') : null;
  const attend = makeDispatch(
    ctx,
    {
      op: 'xquant-attend',
      prefixes: [weightPrefix(a.kMatrix?.format ?? 'f32'), ...store.prefixes],
      consts: {
        ...store.consts,
        KW: a.kWidth,
        KWP: kwp,
        VW: a.vWidth,
        VWP: vwp,
        SAME_KV: same,
        IDENTITY_K: a.kMatrix === null,
        HEAD_DIM: a.headDim,
        HALF: a.headDim / 2,
        HEADS: a.heads,
        KV_HEADS: a.kvHeads,
        KV_GROUP: group,
        KV_PER_WG: perWg,
        QT: qt,
        Q_STRIDE: a.qStride,
        TT: tt,
        EPT: ept,
        W_ROW_WORDS: a.kMatrix?.rowWords ?? 0,
        W_SCALE_WORDS: a.kMatrix?.scaleWords ?? 0,
        HAS_BIAS: a.kBias !== null,
        WINDOW: a.window,
        SCALE: { f32: 1 / Math.sqrt(a.headDim) },
      },
      declarations: store.declarations,
    },
    ['read', 'read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
    [a.q, b.pages, b.pool, wk?.data ?? ctx.empty, wk?.scales ?? ctx.empty, a.kBias ?? ctx.empty, a.rope, a.xPartial, b.layerParams[a.layer]],
    (tokens, plan) => flatGrid(Math.ceil(tokens / qt) * (a.kvHeads / perWg) * plan.xChunks, 1),
  );
  const values = makeDispatch(
    ctx,
    {
      op: 'xquant-values',
      prefixes: [weightPrefix(a.vMatrix?.format ?? 'f32')],
      consts: {
        D: a.vWidth,
        DP: vwp,
        HEAD_DIM: a.headDim,
        HEADS: a.heads,
        KV_GROUP: group,
        MAX_X_CHUNKS: a.maxXChunks,
        IDENTITY_V: a.vMatrix === null,
        W_ROW_WORDS: a.vMatrix?.rowWords ?? 0,
        W_SCALE_WORDS: a.vMatrix?.scaleWords ?? 0,
        HAS_BIAS: a.vBias !== null,
      },
    },
    ['read', 'read', 'read', 'read', 'write'],
    [a.xPartial, wv?.data ?? ctx.empty, wv?.scales ?? ctx.empty, a.vBias ?? ctx.empty, a.partial],
    (tokens) => flatGrid(tokens * a.heads * a.headDim),
  );
  return [attend, values];
}
