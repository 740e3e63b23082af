// A GPU whose devices share one allowance of buffer bytes, as the devices of one real GPU share its memory:
// a buffer's bytes count until it or its device is destroyed. For tests of what a load does when two models cannot
// both be resident. A createBuffer past the allowance fails as in scarce-device.ts: an invalid buffer, and the
// innermost 'out-of-memory' error scope catches the error.

export interface SharedAllowance {
  /** Bytes the live buffers hold, and the most they held at once. */
  allocated: number;
  peak: number;
  limit: number;
}

function allowanceDevice(real: GPUDevice, pool: SharedAllowance): GPUDevice {
  /** The live buffers' sizes: destroying the device frees each once. */
  const live = new Map<GPUBuffer, number>();
  const scopes: { filter: GPUErrorFilter; injected: string | null }[] = [];
  const overrides: Partial<GPUDevice> = {
    createBuffer(d: GPUBufferDescriptor): GPUBuffer {
      if (pool.allocated + d.size <= pool.limit) {
        pool.allocated += d.size;
        pool.peak = Math.max(pool.peak, pool.allocated);
        const buffer = real.createBuffer(d);
        const destroy = buffer.destroy.bind(buffer);
        live.set(buffer, d.size);
        buffer.destroy = () => {
          pool.allocated -= live.get(buffer) ?? 0;
          live.delete(buffer);
          return destroy();
        };
        return buffer;
      }
      const scope = [...scopes].reverse().find((s) => s.filter === 'out-of-memory');
      if (scope) scope.injected ??= `out of memory: ${d.size} bytes for ${d.label ?? 'a buffer'}`;
      // MAP_READ with STORAGE is invalid: an error buffer, as a failed allocation returns.
      real.pushErrorScope('validation');
      const invalid = real.createBuffer({ label: d.label, size: d.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
      void real.popErrorScope();
      return invalid;
    },
    pushErrorScope(filter: GPUErrorFilter): undefined {
      scopes.push({ filter, injected: null });
      return real.pushErrorScope(filter);
    },
    async popErrorScope(): Promise<GPUError | null> {
      const scope = scopes.pop();
      const error = await real.popErrorScope();
      return scope?.injected ? ({ message: scope.injected } as GPUError) : error;
    },
    destroy(): undefined {
      for (const size of live.values()) pool.allocated -= size;
      live.clear();
      return real.destroy();
    },
  };
  return new Proxy(real, {
    get(target, key) {
      if (key in overrides) return overrides[key as keyof GPUDevice];
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export function sharedAllowanceGpu(gpu: GPU, pool: SharedAllowance): GPU {
  return {
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const adapter = await gpu.requestAdapter(o);
      if (!adapter) return null;
      return new Proxy(adapter, {
        get(target, key) {
          if (key === 'requestDevice') return async (d?: GPUDeviceDescriptor) => allowanceDevice(await target.requestDevice(d), pool);
          const v: unknown = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  } as GPU;
}
