// WebGPU devices with an allowance of buffer bytes, for out-of-memory tests (a real GPU cannot be made to run
// out on demand, and SwiftShader allocates from host memory). A createBuffer past the allowance fails the way
// WebGPU reports running out of memory: it returns an invalid buffer (every use of it is a validation error)
// and the innermost open 'out-of-memory' error scope catches an error.
//   scarceDevice: one device; what it allocated counts for good (frees are not given back).
//   sharedAllowanceGpu: every device of a GPU draws on one allowance, as one real GPU's memory is shared; a
//   buffer's bytes count until it or its device is destroyed.
import type { AcquiredDevice } from '../webgpu/device';

export interface Allowance {
  /** Bytes the counted buffers hold, and the most they held at once. */
  allocated: number;
  peak: number;
  limit: number;
  /** Allocations that failed with no 'out-of-memory' scope open: real WebGPU would only log them. */
  unscopedFailures: string[];
}

export const newAllowance = (): Allowance => ({ allocated: 0, peak: 0, limit: Infinity, unscopedFailures: [] });

/** `real` drawing on `pool`; with `frees`, destroying a buffer or the device gives its bytes back. */
function allowanceDevice(real: GPUDevice, pool: Allowance, frees: boolean): GPUDevice {
  const live = new Map<GPUBuffer, number>();
  const scopes: { filter: GPUErrorFilter; injected: string | null }[] = [];
  const overrides: Partial<GPUDevice> = {
    createBuffer(d: GPUBufferDescriptor): GPUBuffer {
      if (pool.allocated + d.size <= pool.limit) {
        pool.allocated += d.size;
        pool.peak = Math.max(pool.peak, pool.allocated);
        const buffer = real.createBuffer(d);
        if (frees) {
          const destroy = buffer.destroy.bind(buffer);
          live.set(buffer, d.size);
          buffer.destroy = () => {
            pool.allocated -= live.get(buffer) ?? 0;
            live.delete(buffer);
            return destroy();
          };
        }
        return buffer;
      }
      const message = `out of memory: ${d.size} bytes for ${d.label ?? 'a buffer'}`;
      const scope = [...scopes].reverse().find((s) => s.filter === 'out-of-memory');
      if (scope) scope.injected ??= message;
      else pool.unscopedFailures.push(message);
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

export interface ScarceDevice extends AcquiredDevice {
  /** Bytes that later allocations may add to what is allocated now (Infinity: no limit). */
  allowMore(bytes: number): void;
  /** Allocations that failed with no 'out-of-memory' scope open: real WebGPU would only log them. */
  readonly unscopedFailures: string[];
}

export function scarceDevice(acquired: AcquiredDevice): ScarceDevice {
  const pool = newAllowance();
  return {
    ...acquired,
    device: allowanceDevice(acquired.device, pool, false),
    allowMore: (bytes) => (pool.limit = pool.allocated + bytes),
    unscopedFailures: pool.unscopedFailures,
  };
}

export function sharedAllowanceGpu(gpu: GPU, pool: Allowance): GPU {
  return {
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const adapter = await gpu.requestAdapter(o);
      if (!adapter) return null;
      return new Proxy(adapter, {
        get(target, key) {
          if (key === 'requestDevice') return async (d?: GPUDeviceDescriptor) => allowanceDevice(await target.requestDevice(d), pool, true);
          const v: unknown = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  } as GPU;
}
