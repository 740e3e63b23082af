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
  /** Kernels being compiled asynchronously, by key (shared by overlapping `compileAhead` calls). */
  private readonly inflight = new Map<string, Promise<void>>();
  /** While `compileAhead` collects: the keys its build asked for. */
  private pending: Map<string, Promise<void>> | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly shaders: ShaderLibrary,
  ) {}

  get size(): number {
    return this.kernels.size;
  }

  /**
   * Compile every kernel `build` asks for with createComputePipelineAsync, all in parallel, and wait for
   * them: the dispatches `build` makes meanwhile carry no pipeline and must be thrown away; built again
   * afterwards, they find every kernel compiled. This is how a cache mode is made ready without stalling.
   */
  async compileAhead(build: () => void): Promise<number> {
    const pending = new Map<string, Promise<void>>();
    this.pending = pending;
    try {
      build();
    } finally {
      this.pending = null;
    }
    await Promise.all(pending.values());
    return pending.size;
  }

  get(source: KernelSource, bindings: readonly BindingKind[]): Kernel {
    const key = `${kernelKey(source)}|${bindings.join(',')}`;
    let k = this.kernels.get(key);
    if (!k && this.pending) {
      const layout = this.layoutFor(source, bindings);
      let compiling = this.inflight.get(key);
      if (!compiling) {
        compiling = this.device
          .createComputePipelineAsync(this.pipelineDescriptor(source, layout))
          .then((pipeline) => {
            this.kernels.set(key, { pipeline, layout });
          })
          .finally(() => this.inflight.delete(key));
        this.inflight.set(key, compiling);
      }
      this.pending.set(key, compiling);
      return { pipeline: null as unknown as GPUComputePipeline, layout };
    }
    if (!k) {
      const layout = this.layoutFor(source, bindings);
      this.kernels.set(key, (k = { pipeline: this.device.createComputePipeline(this.pipelineDescriptor(source, layout)), layout }));
    }
    return k;
  }

  private layoutFor(source: KernelSource, bindings: readonly BindingKind[]): GPUBindGroupLayout {
    const limit = this.device.limits.maxComputeWorkgroupStorageSize;
    if ((source.workgroupBytes ?? 0) > limit) {
      // Builders size their tiles to the limit; this is the last line before a validation error.
      throw new UnsupportedModelError(`kernel ${source.op} needs ${source.workgroupBytes} bytes of workgroup memory; this device allows ${limit}`, {
        field: 'maxComputeWorkgroupStorageSize',
        expected: `at least ${source.workgroupBytes} bytes`,
        got: String(limit),
      });
    }
    return this.device.createBindGroupLayout({
      label: source.op,
      entries: bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
  }

  private pipelineDescriptor(source: KernelSource, layout: GPUBindGroupLayout): GPUComputePipelineDescriptor {
    const module = this.device.createShaderModule({ label: source.op, code: composeKernel(this.shaders, source) });
    return { label: source.op, layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' } };
  }
}
