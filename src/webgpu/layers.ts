// The forward pass as GPU dispatches: the twin of src/reference/decoder.ts, step for step, in the order of a
// token's life (embed, per layer: norm, q/k/v, RoPE, attention over the cache, o + residual, norm, gate/up,
// down + residual; then the final norm and the LM head). This is the one place that lists a layer's
// dispatches; a session (session.ts) builds these lists once per cache generation and replays them.
//
// Where the tiled kernel family decodes with GEMVs, an RMSNorm rides in the GEMVs that read it and RoPE in
// the q/k GEMVs, so some reference steps have no dispatch of their own; the comments say where they went.

import type { ModelSpec } from '../model/model-spec';
import { MAX_CHUNKS, type GpuCache, type LayerAttention } from './caches/gpu-cache';
import type { GpuMemory } from './memory';
import type { GpuMatrix } from './gpu-matrix';
import type { GpuWeights } from './gpu-weights';
import type { Dispatch, OpContext } from './ops/dispatch';
import { embedOps } from './ops/embed';
import { gateUpOps } from './ops/gate-up';
import { GEMM_TILE, linearOps, ropeFusable, usesGemv, type FusedNorm, type FusedRope } from './ops/linear';
import { rmsNormOp } from './ops/rmsnorm';
import { headNormOp } from './ops/head-norm';
import { ropeOp } from './ops/rope';
import { layerRopeKind, type LayerRopeKind } from '../reference/rope';

/** Prefill register tile (tokens per invocation of the rowwise linear kernel). */
export const PREFILL_TILE = 4;

/** The activation buffers of one forward: rows of up to maxBatch tokens at the strides below. */
export interface Activations {
  ids: GPUBuffer;
  /** The residual stream. */
  h: GPUBuffer;
  /** A normed copy of h (the attention or MLP input). */
  xn: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  attn: GPUBuffer;
  /** silu(gate) * up. */
  g: GPUBuffer;
  partial: GPUBuffer;
  logits: GPUBuffer;
}

/** Row strides (elements) of the activations: hidden, q, k/v and MLP widths, each padded to 32. */
export interface Strides {
  d: number;
  q: number;
  kv: number;
  f: number;
}

/** A forward's working rows (Activations but the logits), which a kept session frees. */
export const SLICE_BUFFERS = ['ids', 'h', 'xn', 'q', 'k', 'v', 'attn', 'g', 'partial'] as const;

/** The working rows of a forward of up to `maxBatch` tokens. */
export function sliceBuffers(memory: GpuMemory, s: ModelSpec, maxBatch: number, stride: Strides): Record<(typeof SLICE_BUFFERS)[number], GPUBuffer> {
  const rows = Math.ceil(maxBatch / PREFILL_TILE) * PREFILL_TILE; // linear.wgsl reads whole token tiles
  const act = (label: string, floats: number) =>
    memory.create('activations', label, floats * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
  return {
    ids: act('ids', maxBatch),
    h: act('h', rows * stride.d),
    xn: act('xn', rows * stride.d),
    q: act('q', rows * stride.q),
    k: act('k', rows * stride.kv),
    v: act('v', rows * stride.kv),
    attn: act('attn', rows * stride.q),
    g: act('g', rows * stride.f),
    partial: act('attn.partial', maxBatch * s.numHeads * (MAX_CHUNKS + 1) * (s.headDim + 2)),
  };
}

/** What a forward's dispatches are built from. */
export interface Forward {
  ctx: OpContext;
  spec: ModelSpec;
  weights: GpuWeights;
  buf: Activations;
  stride: Strides;
  cache: GpuCache;
  /**
   * (cos, sin) per position and frequency, as many positions as the cache holds, per RoPE kind the layers use
   * (src/reference/rope.ts layerRopeKind): Gemma 3's local layers have their own base; a layer without RoPE
   * (SmolLM3) reads a table of cos 1, sin 0, so the cache kernels rotate by nothing with no variant of their own.
   */
  rope: ReadonlyMap<LayerRopeKind, GPUBuffer>;
}

/** A forward's dispatches in the order they run: embed, each layer's, then the final norm (if not folded into the head). */
export interface ForwardSections {
  embed: Dispatch[];
  layers: Dispatch[][];
  end: Dispatch[];
}

/** A forward's sections as the one list they run as. */
export function sectionsInOrder({ embed, layers, end }: ForwardSections): Dispatch[] {
  return [...embed, ...layers.flat(), ...end];
}

/**
 * Every layer's dispatches with `tile` tokens per invocation of the linear kernels (1: decode, one token),
 * ending with the residual stream in `h` (and its final norm in `xn` unless the LM head folds it in); by section,
 * since a prompt run layer by layer (layer-major.ts) runs them apart.
 */
export function forwardSections(f: Forward, tile: number, gemmTokens = GEMM_TILE): ForwardSections {
  const { ctx, spec: s, weights: w, buf: b, stride: st, cache } = f;
  const lin = (
    label: string,
    m: GpuMatrix,
    x: GPUBuffer,
    y: GPUBuffer,
    bias: GPUBuffer | null,
    xStride: number,
    yStride: number,
    accumulate = false,
    norm?: FusedNorm,
    rope?: FusedRope,
  ) => linearOps(ctx, label, m, { x, y, bias, xStride, yStride, tileM: tile, accumulate, lastOnly: false, norm, rope, gemmTokens });
  // Tiled-family decode folds each RMSNorm into the GEMVs that read it, unless the cache stores the normed X.
  const fuse = usesGemv(ctx, { tileM: tile, lastOnly: false });
  const fuseAttentionNorm = fuse && !cache.readsInput;
  const norm = (gamma: GPUBuffer): FusedNorm => ({ gamma, d: s.hiddenSize, eps: s.rmsNormEps });

  // h = embed[ids] (× √hidden on Gemma)
  const embed = embedOps(ctx, w.embed, b.ids, b.h, st.d, s.embeddingScale);
  const layers = w.layers.map((l, i) => {
    const list: Dispatch[] = [];
    // x = rmsNorm(h)
    if (!fuseAttentionNorm) list.push(rmsNormOp(ctx, b.h, l.attnNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps));
    const qkvIn = fuseAttentionNorm ? b.h : b.xn;
    const qkvNorm = fuseAttentionNorm ? norm(l.attnNorm) : undefined;
    // q, k, v = x·Wᵀ + b; RoPE rides in the q/k GEMVs unless the mode keeps K before RoPE (kivi), a part splits a head,
    // or q/k norms (Qwen3) come between the projection and RoPE.
    const kind = layerRopeKind(s, i);
    const turned = kind !== 'none';
    const table = f.rope.get(kind);
    if (!table) throw new Error(`layer ${i} needs the ${kind} RoPE table, which the session did not make`);
    const fuseRope = turned && fuse && !cache.needsPreRopeK && !s.qkNorm && ropeFusable(l.wq, s.headDim) && ropeFusable(l.wk, s.headDim);
    const rope = fuseRope ? { table, headDim: s.headDim } : undefined;
    list.push(
      ...lin(`l${i}.q`, l.wq, qkvIn, b.q, l.bq, st.d, st.q, false, qkvNorm, rope),
      ...lin(`l${i}.k`, l.wk, qkvIn, b.k, l.bk, st.d, st.kv, false, qkvNorm, rope),
      ...lin(`l${i}.v`, l.wv, qkvIn, b.v, l.bv, st.d, st.kv, false, qkvNorm),
    );
    const attention: LayerAttention = {
      layer: i,
      q: b.q,
      k: b.k,
      v: b.v,
      x: b.xn,
      out: b.attn,
      partial: b.partial,
      rope: table,
      wk: l.wk,
      wv: l.wv,
      bk: l.bk,
      bv: l.bv,
      kNorm: l.kNorm,
      normEps: s.rmsNormEps,
      xStride: st.d,
      qStride: st.q,
      kvStride: st.kv,
      prefill: tile > 1,
    };
    // q_norm / k_norm per head (Qwen3), then what the mode stores before RoPE (kivi's K, xquant-gqa's latents), then RoPE.
    if (s.qkNorm) {
      if (!l.qNorm || !l.kNorm) throw new Error(`layer ${i} has no q_norm / k_norm weights`);
      list.push(
        headNormOp(ctx, {
          q: b.q,
          k: b.k,
          qGamma: l.qNorm,
          kGamma: l.kNorm,
          headDim: s.headDim,
          qHeads: s.numHeads,
          kHeads: s.numKvHeads,
          qStride: st.q,
          kStride: st.kv,
          eps: s.rmsNormEps,
        }),
      );
    }
    list.push(...cache.preRopeOps(ctx, attention));
    if (turned && !fuseRope) {
      list.push(
        ropeOp(ctx, {
          q: b.q,
          k: b.k,
          table,
          headDim: s.headDim,
          qHeads: s.numHeads,
          kHeads: s.numKvHeads,
          qStride: st.q,
          kStride: st.kv,
          interleaved: false,
        }),
      );
    }
    // attn = attention over the cache and the step's tokens; the cache stores the step's tokens.
    list.push(...cache.layerOps(ctx, attention));
    // h += attn·W_oᵀ; Gemma: h += rmsNorm(attn·W_oᵀ) (xn is free once the cache has stored the step's X).
    if (l.postAttnNorm) {
      list.push(
        ...lin(`l${i}.o`, l.wo, b.attn, b.xn, null, st.q, st.d, false),
        rmsNormOp(ctx, b.xn, l.postAttnNorm, b.h, s.hiddenSize, st.d, s.rmsNormEps, true),
      );
    } else list.push(...lin(`l${i}.o`, l.wo, b.attn, b.h, null, st.q, st.d, true));
    // x2 = rmsNorm(h); g = act(x2·W_gateᵀ) * (x2·W_upᵀ) (SiLU, or Gemma's GELU); h += g·W_downᵀ (Gemma: its rmsNorm)
    if (!fuse) list.push(rmsNormOp(ctx, b.h, l.mlpNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps));
    list.push(
      ...gateUpOps(ctx, `l${i}.gate-up`, l.wGate, l.wUp, {
        x: fuse ? b.h : b.xn,
        y: b.g,
        xStride: st.d,
        yStride: st.f,
        tileM: tile,
        norm: fuse ? norm(l.mlpNorm) : undefined,
        gemmTokens,
        gelu: s.activation === 'gelu_tanh',
      }),
    );
    if (l.postMlpNorm) {
      list.push(
        ...lin(`l${i}.down`, l.wDown, b.g, b.xn, null, st.f, st.d, false),
        rmsNormOp(ctx, b.xn, l.postMlpNorm, b.h, s.hiddenSize, st.d, s.rmsNormEps, true),
      );
    } else list.push(...lin(`l${i}.down`, l.wDown, b.g, b.h, null, st.f, st.d, true));
    return list;
  });
  // rmsNorm(h) before the LM head; the head's GEMV takes it itself when fused (headDispatches).
  const end = fuse ? [] : [rmsNormOp(ctx, b.h, w.finalNorm, b.xn, s.hiddenSize, st.d, s.rmsNormEps)];
  return { embed, layers, end };
}

/** logits = rmsNorm(h)·W_headᵀ for the last token, or for every token of the slice. */
export function headDispatches(f: Forward, lastOnly: boolean): Dispatch[] {
  const { ctx, spec: s, weights: w, buf: b, stride: st } = f;
  const a = { tileM: PREFILL_TILE, lastOnly };
  // The tiled family's GEMV folds the final norm in and reads the residual stream (decode skips that norm).
  const norm = usesGemv(ctx, a) ? { gamma: w.finalNorm, d: s.hiddenSize, eps: s.rmsNormEps } : undefined;
  return linearOps(ctx, 'lm_head', w.lmHead, {
    ...a,
    x: norm ? b.h : b.xn,
    y: b.logits,
    bias: null,
    xStride: st.d,
    yStride: s.vocabSize,
    accumulate: false,
    norm,
  });
}
