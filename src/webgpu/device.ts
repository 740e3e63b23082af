// WebGPU device acquisition: explicit limits (Chromium hands out WebGPU defaults otherwise), optional
// features detected rather than assumed, and a clear error when there is no adapter at all.

import { GpuUnavailableError } from '../errors';
import type { AdapterFacts } from './kernel-family';

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** Resolves when the device is lost (never, for a healthy device); the engine turns it into DeviceLostError. */
  lost: Promise<{ reason: string; message: string }>;
  maxStorageBindingBytes: number;
  features: GpuFeatures;
  adapterInfo: AdapterFacts;
}

/**
 * Limits this engine asks for, capped at what the adapter offers. Storage bindings: as large as the adapter
 * grants, up to 2 GiB (so every element index of a binding fits a u32 with room to spare). WebGPU guarantees
 * only 128 MiB, and the engine works there (matrices split into row parts, the planner knows each mode's
 * longest context), but xquant-cl keeps every layer in one buffer: its longest context scales with this
 * limit, and desktop adapters commonly grant 1-4 GiB.
 */
export const WANTED_LIMITS = {
  maxStorageBufferBindingSize: 2 * 1024 * 1024 * 1024,
  maxBufferSize: 4 * 1024 * 1024 * 1024,
  maxComputeWorkgroupStorageSize: 32 * 1024,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBuffersPerShaderStage: 8,
} as const;

export interface DeviceOptions {
  /** Request the `subgroups` feature when the adapter has it (default true); false forces the workgroup-memory reductions. */
  subgroups?: boolean;
}

export async function acquireDevice(gpu: GPU | undefined = globalThis.navigator?.gpu, o: DeviceOptions = {}): Promise<AcquiredDevice> {
  if (!gpu) {
    throw new GpuUnavailableError('WebGPU is not available in this context (navigator.gpu is undefined); use a browser with WebGPU enabled');
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new GpuUnavailableError(
      'no WebGPU adapter found; on machines without a GPU, start Chromium with --enable-unsafe-webgpu (CPU adapters are blocklisted by default)',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const [name, want] of Object.entries(WANTED_LIMITS)) {
    const have = (adapter.limits as unknown as Record<string, number>)[name];
    requiredLimits[name] = Math.min(want, have);
  }
  // A binding lies inside one buffer.
  requiredLimits.maxStorageBufferBindingSize = Math.min(requiredLimits.maxStorageBufferBindingSize, requiredLimits.maxBufferSize);
  const features: GpuFeatures = {
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: (o.subgroups ?? true) && adapter.features.has('subgroups'),
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if (features.shaderF16) requiredFeatures.push('shader-f16');
  // The tiled kernel family reduces its GEMV sums with subgroupAdd where the device has subgroups.
  if (features.subgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const lost = device.lost.then((i) => ({ reason: String(i.reason), message: i.message }));
  return {
    device,
    lost,
    maxStorageBindingBytes: device.limits.maxStorageBufferBindingSize,
    features,
    adapterInfo: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      // GPUAdapterInfo.isFallbackAdapter in current browsers; GPUAdapter.isFallbackAdapter before.
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    },
  };
}
