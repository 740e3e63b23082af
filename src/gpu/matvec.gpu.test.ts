// GPU smoke test in Node: dawn.node (`webgpu` package) on SwiftShader, the driver of Debian's chromium.
// Runs under vitest's `gpu` project (`npm run test:gpu`).

import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { matvec } from '../reference/ops';
import { acquireDevice } from './device';
import { gpuMatvec } from './matvec';
import { nodeGpu } from './node-gpu';

const shader = readFileSync(new URL('../../shaders/matvec-f32-gemv.wgsl', import.meta.url), 'utf8');

test('the f32 matvec kernel matches the reference decoder product', async () => {
  const { device, adapterInfo } = await acquireDevice(nodeGpu());
  expect(adapterInfo.description).not.toBe('');
  const rows = 70;
  const cols = 33;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37));
  const x = Float32Array.from({ length: cols }, (_, i) => Math.cos(i * 0.11));
  const bias = Float32Array.from({ length: rows }, (_, i) => i / 10);
  const got = await gpuMatvec(device, shader, w, rows, cols, x, bias);
  const want = new Float32Array(rows);
  matvec(w, rows, cols, x, 0, want, 0, bias);
  for (let i = 0; i < rows; i++) expect(Math.abs(got[i] - want[i]), `row ${i}`).toBeLessThan(1e-5);
  device.destroy();
});
