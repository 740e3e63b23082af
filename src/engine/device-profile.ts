// A device's throughput as the planner needs it: how fast its matrix-vector kernels stream bytes (decode is
// bandwidth-bound) and how fast the K-rebuild kernels compute (rematerialization is compute-bound), measured
// at load (src/webgpu/calibrate.ts) or stated from a GPU's data sheet. estimateStepMs turns a step's bytes and
// FLOPs (src/cache/cache-cost.ts) into milliseconds: the two kinds of kernels run one after the other, so
// their times add.

import { InvalidArgumentError } from '../errors';
import type { ChunkStore } from '../storage/chunk-store';

export interface DeviceProfile {
  name: string;
  /** 'measured' on this device by the calibration, or 'stated': data-sheet figures times assumed efficiencies. */
  source: 'measured' | 'stated';
  /** Bytes per second the decode GEMVs stream, in GB/s. */
  gemvGBps: number;
  /** FLOPs per second of the K-rebuild kernels, in GFLOP/s. */
  rebuildGflops: number;
  /** Fixed microseconds per layer and step: launching its ~12 dispatches, whatever their size. */
  layerOverheadUs: number;
  /** How the figures were found, in words. */
  note: string;
}

/**
 * Efficiencies assumed for stated profiles: a WebGPU GEMV streams about 60% of the memory's peak (llama.cpp's
 * and WebLLM's q4 decode rates on such GPUs sit at 50-70%); the gpu-class K rebuild reaches about 7% of f32
 * peak, read from the kernel (a warp's weight load touches 32 rows, W_k is re-dequantized every 4 tokens,
 * 32 workgroups in flight). Both are estimates, ±2×, until a real GPU measures them.
 */
export const STATED_GEMV_EFFICIENCY = 0.6;
export const STATED_REBUILD_EFFICIENCY = 0.07;
/** About 12 dispatches per layer at 3-4 µs each in one compute pass on a native GPU. */
export const STATED_LAYER_OVERHEAD_US = 40;

function stated(name: string, memoryGBps: number, f32Tflops: number, sheet: string): DeviceProfile {
  return {
    name,
    source: 'stated',
    gemvGBps: memoryGBps * STATED_GEMV_EFFICIENCY,
    rebuildGflops: f32Tflops * 1000 * STATED_REBUILD_EFFICIENCY,
    layerOverheadUs: STATED_LAYER_OVERHEAD_US,
    note: `${sheet}; GEMV at ${STATED_GEMV_EFFICIENCY * 100}% of memory bandwidth, K rebuild at ${Math.round(STATED_REBUILD_EFFICIENCY * 100)}% of f32 peak (assumed)`,
  };
}

/** Data-sheet profiles of the GPUs our visitors have, for planning without a device (the plan CLI, tests). */
export const STATED_PROFILES: Readonly<Record<string, DeviceProfile>> = {
  'rtx-4060-laptop': stated('rtx-4060-laptop', 256, 11.6, 'NVIDIA RTX 4060 Laptop: 256 GB/s GDDR6, 11.6 TFLOP/s f32'),
  'apple-m2': stated('apple-m2', 100, 3.6, 'Apple M2 (10-core GPU): 100 GB/s LPDDR5, 3.6 TFLOP/s f32'),
  'intel-iris-xe': stated('intel-iris-xe', 68, 2.1, 'Intel Iris Xe (96 EU): 68 GB/s LPDDR4x-4266, 2.1 TFLOP/s f32'),
  'h100-sxm': stated('h100-sxm', 3350, 67, 'NVIDIA H100 SXM: 3.35 TB/s HBM3, 67 TFLOP/s f32 (no tensor cores in WGSL)'),
};

/** The profile the planner uses when nothing was measured: a mid-range laptop GPU. */
export const DEFAULT_PROFILE = STATED_PROFILES['rtx-4060-laptop'];

/** Milliseconds of one decode step of `layers` layers that reads `bytes` and rebuilds with `rebuildFlops`. */
export function estimateStepMs(profile: DeviceProfile, bytes: number, rebuildFlops: number, layers: number): number {
  return (bytes / (profile.gemvGBps * 1e9) + rebuildFlops / (profile.rebuildGflops * 1e9)) * 1000 + (layers * profile.layerOverheadUs) / 1000;
}

/** A profile from JSON (the plan CLI's --device-profile FILE): checked field by field. */
export function parseDeviceProfile(text: string, file: string): DeviceProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${file} is not JSON: ${(e as Error).message}`, { field: 'device-profile' });
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  for (const key of ['gemvGBps', 'rebuildGflops', 'layerOverheadUs'] as const) {
    const v = o[key];
    if (typeof v !== 'number' || !(v > 0))
      throw new InvalidArgumentError(`${file}: ${key} must be a positive number`, { field: key, expected: 'GB/s, GFLOP/s or µs > 0', got: String(v) });
  }
  return {
    name: typeof o.name === 'string' ? o.name : file,
    source: o.source === 'measured' ? 'measured' : 'stated',
    gemvGBps: o.gemvGBps as number,
    rebuildGflops: o.rebuildGflops as number,
    layerOverheadUs: o.layerOverheadUs as number,
    note: typeof o.note === 'string' ? o.note : `from ${file}`,
  };
}

/** Measured profiles kept per adapter and kernel family (IndexedDB in the Worker), so a later visit plans with them. */
export class ProfileCache {
  constructor(private readonly store: ChunkStore | null) {}

  private static key(adapter: string, kernels: string): string {
    return `device-profile/v1/${adapter}/${kernels}`;
  }

  /** The profile measured earlier on this adapter, or null (none, or unreadable: then the stated default is used). */
  async load(adapter: string, kernels: string): Promise<DeviceProfile | null> {
    const text = await this.store?.get(ProfileCache.key(adapter, kernels)).catch(() => undefined);
    if (typeof text !== 'string') return null;
    try {
      return { ...parseDeviceProfile(text, 'the stored device profile'), source: 'measured' };
    } catch {
      return null;
    }
  }

  async save(adapter: string, kernels: string, profile: DeviceProfile): Promise<void> {
    await this.store?.set(ProfileCache.key(adapter, kernels), JSON.stringify(profile));
  }
}
