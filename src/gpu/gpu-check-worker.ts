// In a dedicated module Worker: acquire a WebGPU device and run one checked compute dispatch.
// The demo page and the e2e smoke test both use it.
import { acquireDevice } from './device';
import { gpuMatvec } from './matvec';
import matvecShader from '../../shaders/matvec-f32-gemv.wgsl?raw';

try {
  const { device, adapterInfo, features } = await acquireDevice(self.navigator.gpu);
  const rows = 40;
  const cols = 24;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => (i % 7) - 3);
  const x = Float32Array.from({ length: cols }, (_, i) => i / 4);
  const y = await gpuMatvec(device, matvecShader, w, rows, cols, x);
  const expected = Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let i = 0; i < cols; i++) s += w[r * cols + i] * x[i];
    return s;
  });
  const maxAbsErr = Math.max(...expected.map((v, i) => Math.abs(v - y[i])));
  self.postMessage({ adapterInfo, features, maxAbsErr, first: Array.from(y.slice(0, 4)) });
} catch (e) {
  self.postMessage({ error: String(e) });
}
