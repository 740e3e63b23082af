// GPU smoke test in Node: dawn.node (`webgpu` package) on SwiftShader, the driver of Debian's chromium.
// Runs under node:test (`npm run test:gpu`). Not part of `npm test` for now: on the build machine
// dawn.node crashes (SIGSEGV / futex errors) in this test and in shared/webgpu-lab's own matvec script,
// while the same kernel passes in Chromium's Worker (e2e). See README "Known problems".

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create, globals } from 'webgpu';
import { matvec } from '../reference/ops';
import { acquireDevice } from './device';
import { gpuMatvec } from './matvec';

Object.assign(globalThis, globals);
const shader = readFileSync(new URL('../../shaders/matvec-f32-gemv.wgsl', import.meta.url), 'utf8');

test('the f32 matvec kernel matches the reference decoder product', async () => {
  const { device, adapterInfo } = await acquireDevice(create([]));
  assert.notEqual(adapterInfo.architecture, '');
  const rows = 70;
  const cols = 33;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37));
  const x = Float32Array.from({ length: cols }, (_, i) => Math.cos(i * 0.11));
  const bias = Float32Array.from({ length: rows }, (_, i) => i / 10);
  const got = await gpuMatvec(device, shader, w, rows, cols, x, bias);
  const want = new Float32Array(rows);
  matvec(w, rows, cols, x, 0, want, 0, bias);
  for (let i = 0; i < rows; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `row ${i}: ${got[i]} vs ${want[i]}`);
  device.destroy();
});
