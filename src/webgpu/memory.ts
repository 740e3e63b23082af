// Every GPU buffer the engine makes goes through here, tagged with what it holds, so the engine can say
// exactly where its GPU memory went (weights, KV cache, activations, staging for readback).

import type { MemoryCategory, MemoryReport } from '../engine/backend';

export type { MemoryCategory, MemoryReport } from '../engine/backend';

export class GpuMemory {
  private readonly live = new Map<GPUBuffer, MemoryCategory>();
  private readonly bytes: Record<MemoryCategory, number> = { weights: 0, cache: 0, activations: 0, staging: 0 };
  private readonly transientBuffers = new Set<GPUBuffer>();
  private transientBytes = 0;
  private transientPeak = 0;

  constructor(readonly device: GPUDevice) {}

  /** `transient`: held for one request only (also counted in the transient figures of the report). */
  create(category: MemoryCategory, label: string, size: number, usage: GPUBufferUsageFlags, transient = false): GPUBuffer {
    // Storage bindings need a size that is a multiple of 4 and not zero.
    const bytes = Math.max(16, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({ label, size: bytes, usage });
    this.live.set(buffer, category);
    this.bytes[category] += bytes;
    if (transient) {
      this.transientBuffers.add(buffer);
      this.transientBytes += bytes;
      this.transientPeak = Math.max(this.transientPeak, this.transientBytes);
    }
    return buffer;
  }

  /** A storage buffer filled with `data`. */
  upload(category: MemoryCategory, label: string, data: ArrayBufferView<ArrayBuffer>, extraUsage: GPUBufferUsageFlags = 0, transient = false): GPUBuffer {
    const buffer = this.create(category, label, data.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extraUsage, transient);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** A larger copy of `old` (its first `keepBytes` bytes copied over, `old` released); a new buffer when `old` is null. */
  grow(old: GPUBuffer | null, category: MemoryCategory, label: string, bytes: number, keepBytes: number): GPUBuffer {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.create(category, label, bytes, usage);
    if (old) {
      const enc = this.device.createCommandEncoder();
      if (keepBytes > 0) enc.copyBufferToBuffer(old, 0, buffer, 0, keepBytes);
      this.device.queue.submit([enc.finish()]);
      this.release(old);
    }
    return buffer;
  }

  /** Every live buffer: what it is, what it holds, its size. */
  buffers(): { label: string; category: MemoryCategory; bytes: number }[] {
    return [...this.live].map(([b, category]) => ({ label: b.label, category, bytes: b.size }));
  }

  release(buffer: GPUBuffer): void {
    const category = this.live.get(buffer);
    if (category === undefined) return;
    this.live.delete(buffer);
    this.bytes[category] -= buffer.size;
    if (this.transientBuffers.delete(buffer)) this.transientBytes -= buffer.size;
    buffer.destroy();
  }

  releaseAll(category?: MemoryCategory): void {
    for (const [buffer, c] of [...this.live]) if (category === undefined || c === category) this.release(buffer);
  }

  report(): MemoryReport {
    const b = this.bytes;
    return { ...b, total: b.weights + b.cache + b.activations + b.staging, transient: this.transientBytes, transientPeak: this.transientPeak };
  }
}

/** What the error scopes around a group of allocations caught. */
export interface AllocationErrors {
  outOfMemory: GPUError | null;
  /** A validation error: a bug, or the use of a buffer whose allocation failed. */
  invalid: GPUError | null;
}

/**
 * Run `allocate` inside out-of-memory and validation error scopes and return its value at once, with
 * what the scopes caught to come. WebGPU reports a failed allocation only through an error scope (the
 * buffer it returns is invalid, and every later use of it is a validation error), so the caller awaits
 * `errors` before trusting what was allocated.
 */
export function scopedAllocation<T>(device: GPUDevice, allocate: () => T): { value: T; errors: Promise<AllocationErrors> } {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let result: { value: T } | { error: unknown };
  try {
    result = { value: allocate() };
  } catch (error) {
    result = { error };
  }
  const outOfMemory = device.popErrorScope();
  const invalid = device.popErrorScope();
  if ('error' in result) throw result.error;
  return { value: result.value, errors: Promise.all([outOfMemory, invalid]).then(([o, i]) => ({ outOfMemory: o, invalid: i })) };
}
