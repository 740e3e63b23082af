// GPU smoke test in Node: dawn.node (`webgpu` package) on SwiftShader, the driver of Debian's chromium.

import { create, globals } from 'webgpu';
import { describe, expect, it } from 'vitest';
import { matvec } from '../reference/ops';
import { acquireDevice } from './device';
import { gpuMatvec } from './matvec';

Object.assign(globalThis, globals);

describe('WebGPU in Node', () => {
  it('runs the f32 matvec kernel and matches the reference decoder product', async () => {
    const { device, adapterInfo } = await acquireDevice(create([]));
    expect(adapterInfo.architecture).not.toBe('');
    const rows = 70;
    const cols = 33;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37));
    const x = Float32Array.from({ length: cols }, (_, i) => Math.cos(i * 0.11));
    const bias = Float32Array.from({ length: rows }, (_, i) => i / 10);
    const got = await gpuMatvec(device, w, rows, cols, x, bias);
    const want = new Float32Array(rows);
    matvec(w, rows, cols, x, 0, want, 0, bias);
    for (let i = 0; i < rows; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    device.destroy();
  });
});
