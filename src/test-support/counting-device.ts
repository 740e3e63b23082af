// A WebGPU device that counts what the engine asks of it: compute dispatches, queue submissions, buffer
// uploads (writeBuffer) and readbacks (mapAsync). For tests and benchmarks of round trips per token.
import type { AcquiredDevice } from '../webgpu/device';

export interface GpuCounts {
  dispatches: number;
  submits: number;
  writes: number;
  readbacks: number;
}

export interface CountingDevice extends AcquiredDevice {
  readonly counts: GpuCounts;
  /** The most workgroups one dispatch of each pipeline (by label: the kernel's op) asked for since reset. */
  readonly largestGrid: Map<string, number>;
  reset(): void;
}

/** Methods of `target` replaced by `overrides`; everything else passes through, bound to the real object. */
function wrap<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, key) {
      if (key in overrides) return overrides[key as keyof T];
      const v: unknown = Reflect.get(t, key);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

export function countingDevice(acquired: AcquiredDevice): CountingDevice {
  const real = acquired.device;
  const counts: GpuCounts = { dispatches: 0, submits: 0, writes: 0, readbacks: 0 };
  const largestGrid = new Map<string, number>();
  // Buffers go to the implementation's own methods, so they cannot be proxies: mapAsync is counted on
  // the buffers this device creates, by replacing the method on each of them.
  const countMaps = (b: GPUBuffer): GPUBuffer => {
    const map = b.mapAsync.bind(b);
    Object.defineProperty(b, 'mapAsync', { value: (...a: Parameters<GPUBuffer['mapAsync']>) => (counts.readbacks++, map(...a)) });
    return b;
  };
  const queue = wrap(real.queue, {
    submit: (buffers: Iterable<GPUCommandBuffer>) => (counts.submits++, real.queue.submit(buffers)),
    writeBuffer: (...a: Parameters<GPUQueue['writeBuffer']>) => (counts.writes++, real.queue.writeBuffer(...a)),
  });
  const device = wrap(real, {
    queue,
    createBuffer: (d: GPUBufferDescriptor) => countMaps(real.createBuffer(d)),
    createCommandEncoder: (d?: GPUCommandEncoderDescriptor) => {
      const encoder = real.createCommandEncoder(d);
      return wrap(encoder, {
        beginComputePass: (p?: GPUComputePassDescriptor) => {
          const pass = encoder.beginComputePass(p);
          let op = '';
          return wrap(pass, {
            setPipeline: (pipeline: GPUComputePipeline) => ((op = pipeline.label), pass.setPipeline(pipeline)),
            dispatchWorkgroups: (x: number, y = 1, z = 1) => {
              counts.dispatches++;
              largestGrid.set(op, Math.max(largestGrid.get(op) ?? 0, x * y * z));
              pass.dispatchWorkgroups(x, y, z);
            },
          });
        },
      });
    },
  });
  return {
    ...acquired,
    device,
    counts,
    largestGrid,
    reset: () => {
      Object.assign(counts, { dispatches: 0, submits: 0, writes: 0, readbacks: 0 });
      largestGrid.clear();
    },
  };
}
