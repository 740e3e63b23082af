// Compiled compute pipelines, keyed by op, prefix and constants (a shape-keyed program cache, as in
// onnxruntime-web). Layouts are explicit: 'auto' layouts drop bindings a variant does not use (the scale
// buffer of f32 weights, an absent bias), which would make one bind-group recipe fail for some variants.

import { UnsupportedModelError } from '../errors';
import { composeKernel, kernelKey, type KernelSource, type ShaderLibrary } from './shader-library';

/** One entry per binding, in binding order: a uniform, a read-only or a read-write storage buffer. */
export type BindingKind = 'uniform' | 'read' | 'write';

export interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly kernels = new Map<string, Kernel>();

  constructor(
    private readonly device: GPUDevice,
    private readonly shaders: ShaderLibrary,
  ) {}

  get size(): number {
    return this.kernels.size;
  }

  get(source: KernelSource, bindings: readonly BindingKind[]): Kernel {
    const key = `${kernelKey(source)}|${bindings.join(',')}`;
    let k = this.kernels.get(key);
    if (!k) {
      const limit = this.device.limits.maxComputeWorkgroupStorageSize;
      if ((source.workgroupBytes ?? 0) > limit) {
        // Builders size their tiles to the limit; this is the last line before a validation error.
        throw new UnsupportedModelError(`kernel ${source.op} needs ${source.workgroupBytes} bytes of workgroup memory; this device allows ${limit}`, {
          field: 'maxComputeWorkgroupStorageSize',
          expected: `at least ${source.workgroupBytes} bytes`,
          got: String(limit),
        });
      }
      const layout = this.device.createBindGroupLayout({
        label: source.op,
        entries: bindings.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      const module = this.device.createShaderModule({ label: source.op, code: composeKernel(this.shaders, source) });
      const pipeline = this.device.createComputePipeline({
        label: source.op,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      this.kernels.set(key, (k = { pipeline, layout }));
    }
    return k;
  }
}
