// A WebGPU device with a fixed allowance of buffer bytes, for out-of-memory tests (a real GPU cannot be
// made to run out on demand, and SwiftShader allocates from host memory). A createBuffer past the
// allowance fails the way WebGPU reports running out of memory: it returns an invalid buffer (every use
// of it is a validation error) and the innermost open 'out-of-memory' error scope catches an error.
import type { AcquiredDevice } from '../webgpu/device';

export interface ScarceDevice extends AcquiredDevice {
  /** Bytes that later allocations may add to what is allocated now (Infinity: no limit). */
  allowMore(bytes: number): void;
  /** Allocations that failed with no 'out-of-memory' scope open: real WebGPU would only log them. */
  readonly unscopedFailures: string[];
}

export function scarceDevice(acquired: AcquiredDevice): ScarceDevice {
  const real = acquired.device;
  let allocated = 0;
  let limit = Infinity;
  const scopes: { filter: GPUErrorFilter; injected: string | null }[] = [];
  const unscopedFailures: string[] = [];
  const overrides: Partial<GPUDevice> = {
    createBuffer(d: GPUBufferDescriptor): GPUBuffer {
      if (allocated + d.size <= limit) {
        allocated += d.size;
        return real.createBuffer(d);
      }
      const message = `out of memory: ${d.size} bytes for ${d.label ?? 'a buffer'}`;
      const scope = [...scopes].reverse().find((s) => s.filter === 'out-of-memory');
      if (scope) scope.injected ??= message;
      else unscopedFailures.push(message);
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
  };
  const device = new Proxy(real, {
    get(target, key) {
      if (key in overrides) return overrides[key as keyof GPUDevice];
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    ...acquired,
    device,
    allowMore: (bytes) => (limit = allocated + bytes),
    unscopedFailures,
  };
}
