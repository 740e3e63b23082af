import { nodeGpu, nodeShaders } from './src/gpu/node-gpu';
import { WebGpuBackend } from './src/engine/webgpu-backend';
import { sharedModel } from './src/test-support/shared-models';
import { parseCacheMode } from './src/cache/cache-config';
import { CpuBackend } from './src/engine/backend';
const name = (process.argv[2] ?? 'stories260K') as any;
const mode = process.argv[3] ?? 'xquant-4';
const m = await sharedModel(name);
const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32' });
const cpu = new CpuBackend(m);
const cfg = parseCacheMode(mode);
const gs = gpu.createSession(cfg), cs = cpu.createSession(cfg);
const prompt = Array.from({length: Number(process.env.P ?? 64)}, (_, i) => (i * 37 + 5) % m.spec.vocabSize); prompt[0] = 1;
let a = await gs.forward(prompt, 'last'); let b = await cs.forward(prompt, 'last');
const diff = (a: Float32Array, b: Float32Array) => { let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]-b[i])); return d; };
let worst = diff(a, b); console.log('prefill diff', worst);
const t1 = performance.now();
for (let s = 0; s < 64; s++) {
  let id = 0; for (let i = 1; i < b.length; i++) if (b[i] > b[id]) id = i;
  a = await gs.forward([id], 'last'); b = await cs.forward([id], 'last');
  const d = diff(a, b); if (s % 16 == 0 || d > 0.01) console.log('step', s, d);
  worst = Math.max(worst, d);
}
console.log('decode worst', worst, 'ms/step', ((performance.now()-t1)/64).toFixed(1), gpu.memoryReport());
process.exit(0);
