// Every kernel that declares workgroup memory, with the bytes it takes for a model at a device's limit:
// the figures the op builders pass to the pipeline cache, gathered for one model so a test (and a reader)
// can see that real shapes fit WebGPU's guaranteed 16 KiB.

import { CACHE_MODES, MODE_TRAITS, type ModeTraits } from '../cache/cache-config';
import { kvDim, type ModelSpec } from '../model/model-spec';
import { ARGMAX_WORKGROUP_BYTES } from './ops/argmax';
import { RMSNORM_WORKGROUP_BYTES } from './ops/rmsnorm';
import { flashAttentionBytes, flashQueryTokens } from './ops/attention';
import { gemmWorkgroupBytes, gemvRows, gemvWorkgroupBytes } from './ops/linear';
import { SAMPLE_SPLIT_WORKGROUP_BYTES, SAMPLE_WORKGROUP_BYTES } from './ops/sample';
import { absorbTiling, fusedTiling, rematTiling, scoresTiling, type RematShape } from './ops/xquant-tiling';

export interface KernelWorkgroupUse {
  kernel: string;
  /** The cache modes it serves ('all' for the model's own kernels). */
  modes: string;
  bytes: number;
}

/** The K-side and V-side rows the quantized modes rebuild from, by what they store (ModeTraits.stores). */
export function rematShapes(spec: ModelSpec): Partial<Record<ModeTraits['stores'], RematShape>> {
  const kv = kvDim(spec);
  const base = { headDim: spec.headDim, heads: spec.numHeads, kvHeads: spec.numKvHeads };
  const out: ReturnType<typeof rematShapes> = {
    x: { ...base, kWidth: spec.hiddenSize, vWidth: spec.hiddenSize, identityK: false, identityV: false },
    kv: { ...base, kWidth: kv, vWidth: kv, identityK: true, identityV: true },
  };
  if (spec.numKvHeads < spec.numHeads) out.latents = { ...base, kWidth: kv, vWidth: kv, identityK: false, identityV: false };
  return out;
}

/** Throws UnsupportedModelError (kernel, bytes, limit) when a kernel cannot fit at any tile size. */
export function workgroupUse(spec: ModelSpec, limit: number): KernelWorkgroupUse[] {
  const out: KernelWorkgroupUse[] = [
    { kernel: 'rmsnorm', modes: 'all', bytes: RMSNORM_WORKGROUP_BYTES },
    { kernel: 'argmax', modes: 'all', bytes: ARGMAX_WORKGROUP_BYTES },
    { kernel: 'sample', modes: 'all', bytes: SAMPLE_WORKGROUP_BYTES },
    { kernel: 'sample-split', modes: 'all', bytes: SAMPLE_SPLIT_WORKGROUP_BYTES },
    // tiled-family GEMVs (a part's rows decide the rows per lane; K lanes do not change the bytes): the LM head
    // is the tallest matrix; a fused RoPE takes at most 2 rows per lane where its height alone would give 1.
    { kernel: 'linear-gemv', modes: 'all', bytes: gemvWorkgroupBytes({ kLanes: 8, laneRows: Math.max(2, gemvRows(spec.vocabSize)) }) },
    { kernel: 'gate-up-swiglu-gemv', modes: 'all', bytes: gemvWorkgroupBytes({ kLanes: 8, laneRows: gemvRows(spec.intermediateSize) }, 2) },
    { kernel: 'linear-gemm', modes: 'all', bytes: gemmWorkgroupBytes() },
    { kernel: 'gate-up-swiglu-gemm', modes: 'all', bytes: gemmWorkgroupBytes() },
  ];
  // Falls back to attention-split when not one token's rows fit (query groups wider than 32 heads). f32
  // queries: the larger of its two variants.
  const queryTokens = flashQueryTokens(spec, limit);
  if (queryTokens > 0) {
    out.push(
      { kernel: 'attention-flash (decode)', modes: 'f32, fp16', bytes: flashAttentionBytes(spec, 1) },
      { kernel: 'attention-flash (prefill)', modes: 'all', bytes: flashAttentionBytes(spec, queryTokens) },
    );
  }
  for (const [stores, shape] of Object.entries(rematShapes(spec))) {
    const modes = CACHE_MODES.filter((m) => MODE_TRAITS[m].quantized && MODE_TRAITS[m].stores === stores).join(', ');
    const fused = stores === 'x' ? fusedTiling(shape, limit) : null;
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
