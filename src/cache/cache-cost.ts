// What one decode step costs at a given context, per cache mode, counted from the algorithms of the gpu
// kernel class (shaders/xquant-scores.wgsl, xquant-absorb.wgsl, xquant-values.wgsl, attention.wgsl): bytes
// read from the cache, and the FLOPs of rematerialization (the K rebuild and the absorbed V), the work that
// runs at shader-math speed rather than at memory speed. The planner turns these into milliseconds with a
// device's throughput (src/engine/device-profile.ts).
//
// Left out on purpose: attention's own FLOPs over materialized K/V (about one FLOP per byte read, so the
// bytes bound it), dequantization arithmetic, and the residual window's f16 rows (a constant few tokens). The
// arithmetic left out is what XQuant-CL's summed rows save: each kernel and kv-head block dequantized the whole chain
// (on the 1B, 107 rows per position per kernel pass) where now one pass does; the rows cost bytes, counted here.

import { tensorSlots } from '../model/checkpoint';
import { kvDim, layerWindow, type ModelSpec } from '../model/model-spec';
import { packedBytes, type PackFormat } from '../quant/weight-format';
import { layerBytesPerToken } from './cache-bytes';
import { clBaseLayers, MODE_TRAITS, type CacheConfig } from './cache-config';

export interface StepCost {
  /** Bytes the attention kernels read from the cache in one decode step (all layers). */
  cacheBytes: number;
  /** FLOPs of rebuilding K and applying V from the stored form (all layers); 0 for modes that store K/V. */
  rebuildFlops: number;
  /** Tokens whose K is rebuilt in a full layer (the context less the hot tier; a sliding layer's fewer); 0 for K/V modes. */
  rebuiltTokens: number;
}

/**
 * Rows of the stored form read to rebuild one token's input to layer l: 1, except xquant-cl above its base, whose
 * X̂_l is the last base layer's X plus every delta up to l.
 */
export function rowsPerRebuild(spec: ModelSpec, c: CacheConfig, l: number): number {
  if (!MODE_TRAITS[c.mode].crossLayer) return 1;
  const base = clBaseLayers(spec);
  return l < base ? 1 : l - base + 2;
}

/**
 * XQuant-CL's decode sums each delta layer's X̂ once per step into f32 rows (context x hidden) of at most this many
 * bytes, which the layer's kernels read instead of the chain (src/webgpu/caches/quant-cache.ts); past it (Llama-3.2-1B:
 * 8,192 tokens) each kernel sums the chain as it reads.
 */
export const SUMMED_ROWS_BYTES = 64 * 2 ** 20;

export function summedRowsFit(spec: ModelSpec, context: number): boolean {
  return context * spec.hiddenSize * 4 <= SUMMED_ROWS_BYTES;
}

/** One decode step over `context` stored tokens (the new token included). */
export function decodeStepCost(spec: ModelSpec, c: CacheConfig, context: number): StepCost {
  const traits = MODE_TRAITS[c.mode];
  const d = spec.hiddenSize;
  const dkv = kvDim(spec);
  const fp16Row = 2 * dkv * 2;
  if (traits.stores === 'kv') {
    let cacheBytes = 0;
    // A sliding layer's attention reads only its window's keys.
    for (let l = 0; l < spec.numLayers; l++) cacheBytes += Math.min(context, layerWindow(spec, l) ?? context) * layerBytesPerToken(spec, c, l);
    return { cacheBytes, rebuildFlops: 0, rebuiltTokens: 0 };
  }
  // X (d wide) or the latents (dkv wide per side): the width a K row and a V row are rebuilt from.
  const width = traits.latents ? dkv : d;
  // X is read twice per token, by the scores kernel (K side) and the absorb kernel (V side); latents once, a side each.
  const reads = traits.latents ? 1 : 2;
  let cacheBytes = 0;
  let rebuildFlops = 0;
  let rebuiltTokens = 0;
  for (let l = 0; l < spec.numLayers; l++) {
    // A sliding layer's kernels start at its window: older tokens are neither read nor rebuilt.
    const seen = Math.min(context, layerWindow(spec, l) ?? context);
    const hot = Math.min(seen, c.hot ?? 0);
    const cold = seen - hot;
    rebuiltTokens = Math.max(rebuiltTokens, cold);
    const stored = layerBytesPerToken(spec, c, l);
    const chain = rowsPerRebuild(spec, c, l);
    // The chain read by each kernel, or once into the summed f32 rows that each kernel then reads.
    const perToken = chain > 1 && summedRowsFit(spec, context) ? chain * stored + (1 + reads) * 4 * d : reads * chain * stored;
    cacheBytes += cold * perToken + hot * fp16Row;
    // K rebuild: a [width] row times the [width, dkv] K factor per token; absorbed V: Σ p·row per query head;
    // then W_v (or the V factor) once per head.
    rebuildFlops += cold * (2 * width * dkv + 2 * spec.numHeads * width) + 2 * spec.numHeads * width * spec.headDim;
  }
  return { cacheBytes, rebuildFlops, rebuiltTokens };
}

/**
 * Bytes of weights one decode step reads: every layer matrix and the LM head (the embedding lookup reads one
 * row), in the engine's packed `format`; vectors are negligible.
 */
export function stepWeightBytes(spec: ModelSpec, format: PackFormat): number {
  // Every layer matrix of the tensor table, then the LM head (the embedding matrix itself when tied).
  const layers = tensorSlots(spec).filter((t) => t.required && t.shape.length === 2 && /^l\d+\./.test(t.key));
  return layers.reduce((a, t) => a + packedBytes(format, t.shape[0], t.shape[1]), 0) + packedBytes(format, spec.vocabSize, spec.hiddenSize);
}
