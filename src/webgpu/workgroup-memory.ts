// Every kernel that declares workgroup memory, with the bytes it takes for a model at a device's limit:
// the figures the op builders pass to the pipeline cache, gathered for one model so a test (and a reader)
// can see that real shapes fit WebGPU's guaranteed 16 KiB.

import type { CacheMode } from '../cache/cache-config';
import { kvDim, type ModelSpec } from '../model/model-spec';
import { ARGMAX_WORKGROUP_BYTES } from './ops/argmax';
import { RMSNORM_WORKGROUP_BYTES } from './ops/rmsnorm';
import { flashAttentionBytes, flashQueryTokens } from './ops/attention';
import { gemmWorkgroupBytes, gemvRows, gemvWorkgroupBytes } from './ops/linear';
import { SAMPLE_WORKGROUP_BYTES } from './ops/sample';
import { absorbTiling, fusedTiling, rematTiling, scoresTiling, type RematShape } from './ops/xquant-tiling';

export interface KernelWorkgroupUse {
  kernel: string;
  /** The cache modes it serves ('all' for the model's own kernels). */
  modes: string;
  bytes: number;
}

/** The K-side and V-side rows each family of quantized modes rebuilds from. */
export function rematShapes(spec: ModelSpec): Partial<Record<Extract<CacheMode, 'xquant' | 'kivi' | 'xquant-gqa'>, RematShape>> {
  const kv = kvDim(spec);
  const base = { headDim: spec.headDim, heads: spec.numHeads, kvHeads: spec.numKvHeads };
  const out: ReturnType<typeof rematShapes> = {
    xquant: { ...base, kWidth: spec.hiddenSize, vWidth: spec.hiddenSize, identityK: false, identityV: false },
    kivi: { ...base, kWidth: kv, vWidth: kv, identityK: true, identityV: true },
  };
  if (spec.numKvHeads < spec.numHeads) out['xquant-gqa'] = { ...base, kWidth: kv, vWidth: kv, identityK: false, identityV: false };
  return out;
}

/** Throws UnsupportedModelError (kernel, bytes, limit) when a kernel cannot fit at any tile size. */
export function workgroupUse(spec: ModelSpec, limit: number): KernelWorkgroupUse[] {
  const out: KernelWorkgroupUse[] = [
    { kernel: 'rmsnorm', modes: 'all', bytes: RMSNORM_WORKGROUP_BYTES },
    { kernel: 'argmax', modes: 'all', bytes: ARGMAX_WORKGROUP_BYTES },
    { kernel: 'sample', modes: 'all', bytes: SAMPLE_WORKGROUP_BYTES },
    // gpu-class GEMVs (a part's rows decide the rows per lane; K lanes do not change the bytes): the LM head
    // is the tallest matrix; a fused RoPE takes at most 2 rows per lane where its height alone would give 1.
    { kernel: 'linear-gemv-gpu', modes: 'all', bytes: gemvWorkgroupBytes({ kLanes: 8, laneRows: Math.max(2, gemvRows(spec.vocabSize)) }) },
    { kernel: 'gate-up-swiglu-gpu', modes: 'all', bytes: gemvWorkgroupBytes({ kLanes: 8, laneRows: gemvRows(spec.intermediateSize) }, 2) },
    { kernel: 'linear-gemm-gpu', modes: 'all', bytes: gemmWorkgroupBytes() },
    { kernel: 'gate-up-swiglu-gemm-gpu', modes: 'all', bytes: gemmWorkgroupBytes() },
  ];
  // Falls back to attention-split when not one token's rows fit (query groups wider than 32 heads). f32
  // queries: the larger of its two variants.
  const queryTokens = flashQueryTokens(spec, limit);
  if (queryTokens > 0) {
    out.push(
      { kernel: 'attention-flash-gpu (decode)', modes: 'f32, fp16', bytes: flashAttentionBytes(spec, 1) },
      { kernel: 'attention-flash-gpu (prefill)', modes: 'all', bytes: flashAttentionBytes(spec, queryTokens) },
    );
  }
  for (const [family, shape] of Object.entries(rematShapes(spec))) {
    const modes = family === 'xquant' ? 'xquant, xquant-cl' : family;
    const fused = family === 'xquant' ? fusedTiling(shape, limit) : null;
    if (fused) out.push({ kernel: 'xquant-attend', modes, bytes: fused.bytes });
    out.push(
      { kernel: 'xquant-scores', modes, bytes: scoresTiling(shape, limit).bytes },
      { kernel: 'xquant-absorb', modes, bytes: absorbTiling(shape, limit).bytes },
      { kernel: 'xquant-remat (K)', modes, bytes: rematTiling(shape.kWidth, shape.identityK, shape, limit).bytes },
      { kernel: 'xquant-remat (V)', modes, bytes: rematTiling(shape.vWidth, shape.identityV, shape, limit).bytes },
    );
  }
  return out;
}
