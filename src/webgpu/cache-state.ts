// A session's cache as state: a context shift (rows moved over a dropped range, post-RoPE K turned back), a snapshot
// read back for saving (each buffer's used prefix), and a snapshot written into an empty cache. The GPU side of
// DecodeSession.shift / save / restore (src/engine/backend.ts).

import { SavedCacheError } from '../errors';
import type { SessionSnapshot } from '../engine/backend';
import type { ModelSpec } from '../model/model-spec';
import type { GpuCache } from './caches/gpu-cache';
import type { GpuMemory } from './memory';
import { encodeDispatches, STEP_BYTES, type OpContext } from './ops/dispatch';
import { kShiftOp, shiftTable } from './ops/k-shift';
import { layerRopeKind, ropeInverseFrequencies, type LayerRopeKind } from '../reference/rope';

/** What these need of the backend. */
interface Device {
  readonly device: GPUDevice;
  readonly memory: GpuMemory;
  readonly spec: ModelSpec;
}

/** save() reads the cache back through a staging buffer of at most this many bytes. */
const SAVE_STAGING_BYTES = 16 * 2 ** 20;

/** Drop tokens [from, to) where the cache can (canShift; false otherwise): one submit, its scratch buffers freed after it. */
export function shiftCache(b: Device, cache: GpuCache, ctx: OpContext, from: number, to: number): boolean {
  const mem = b.memory;
  const temps: GPUBuffer[] = [];
  const encoder = b.device.createCommandEncoder();
  const tables = new Map<LayerRopeKind, GPUBuffer>();
  let scratch: GPUBuffer | null = null;
  const shifted = cache.shift(from, to, {
    encoder,
    // One scratch serves every copy and kernel of the shift (they run in order), grown when a larger one is asked.
    scratch: (bytes) => {
      if (scratch && scratch.size >= bytes) return scratch;
      scratch = mem.create('activations', 'shift.scratch', bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, true);
      temps.push(scratch);
      return scratch;
    },
    uniform: (words) => {
      const buffer = mem.create('activations', 'shift.uniform', words.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, true);
      temps.push(buffer);
      b.device.queue.writeBuffer(buffer, 0, words);
      return buffer;
    },
    compute: (build) => {
      const pass = encoder.beginComputePass();
      encodeDispatches(pass, build(ctx), 0);
      pass.end();
    },
    rotateK: (pool, row0, rows, f16, layer) => {
      // A layer without RoPE (SmolLM3) stores K unturned; Gemma 3's local layers turn with their own base.
      const kind = layerRopeKind(b.spec, layer);
      if (kind === 'none') return;
      let table = tables.get(kind);
      if (!table) {
        tables.set(kind, (table = mem.upload('activations', `shift.${kind}`, shiftTable(ropeInverseFrequencies(b.spec, kind), to - from), 0, true)));
        temps.push(table);
      }
      // The kernel reads its rows from the Step uniform (pos0: first row, tokens: how many).
      const step = mem.create('activations', 'shift.step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, true);
      temps.push(step);
      b.device.queue.writeBuffer(step, 0, new Uint32Array([rows, row0]));
      const op = kShiftOp({ ...ctx, step }, { pool, table, headDim: b.spec.headDim, kvHeads: b.spec.numKvHeads, f16 });
      const pass = encoder.beginComputePass();
      encodeDispatches(pass, [op], rows);
      pass.end();
    },
  });
  b.device.queue.submit([encoder.finish()]);
  for (const buffer of temps) mem.release(buffer);
  return shifted;
}

/** The cache's used regions read back (through `read`, which maps a MAP_READ buffer's first bytes). */
export async function saveCache(b: Device, cache: GpuCache, read: (buffer: GPUBuffer, bytes: number) => Promise<ArrayBuffer>): Promise<SessionSnapshot> {
  const parts: Uint8Array[] = [];
  for (const r of cache.savedRegions()) {
    const out = new Uint8Array(r.bytes);
    if (r.bytes > 0) {
      const size = Math.min(r.bytes, SAVE_STAGING_BYTES);
      const staging = b.memory.create('staging', 'cache.save', size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      try {
        for (let at = 0; at < r.bytes; at += size) {
          const n = Math.min(size, r.bytes - at);
          const enc = b.device.createCommandEncoder();
          enc.copyBufferToBuffer(r.buffer, at, staging, 0, n);
          b.device.queue.submit([enc.finish()]);
          out.set(new Uint8Array(await read(staging, n)), at);
        }
      } finally {
        b.memory.release(staging);
      }
    }
    parts.push(out);
  }
  const held = cache.ringsHeld;
  return { length: cache.length, layout: cache.snapshotLayout(), parts, ...(held === undefined ? {} : { held }) };
}

/** Before anything is allocated: a snapshot of another layout, or an occupied cache, is refused. */
export function checkSnapshot(cache: GpuCache, snap: SessionSnapshot): void {
  const layout = cache.snapshotLayout();
  if (snap.layout !== layout)
    throw new SavedCacheError('the snapshot was made for another cache layout', { field: 'layout', expected: layout, got: snap.layout });
  if (cache.length !== 0) throw new SavedCacheError('restore needs an empty session', { field: 'length', expected: '0', got: String(cache.length) });
}

/** Write a snapshot into a checked, empty cache already grown to its length. */
export function restoreCache(b: Device, cache: GpuCache, snap: SessionSnapshot): void {
  cache.length = snap.length;
  const regions = cache.savedRegions();
  const sizes = (xs: readonly number[]) => xs.join(',');
  if (regions.length !== snap.parts.length || regions.some((r, i) => r.bytes !== snap.parts[i].byteLength)) {
    cache.length = 0;
    throw new SavedCacheError('the snapshot does not hold what its length needs', {
      field: 'parts',
      expected: sizes(regions.map((r) => r.bytes)),
      got: sizes(snap.parts.map((p) => p.byteLength)),
    });
  }
  try {
    cache.restored(snap.held);
  } catch (e) {
    cache.length = 0;
    throw e;
  }
  regions.forEach((r, i) => {
    const p = snap.parts[i];
    b.device.queue.writeBuffer(r.buffer, 0, p.buffer as ArrayBuffer, p.byteOffset, p.byteLength);
  });
}
