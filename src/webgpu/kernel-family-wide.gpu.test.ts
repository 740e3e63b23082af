// The tiled kernel family at real widths, against the rowwise family (itself tested against the reference decoder
// at these widths in xquant-wide.gpu.test.ts): Qwen2.5-0.5B's (d 896, MLP 4864, vocabulary 151,936, q/k/v
// biases) on a device binding at most 16 MiB, so the LM head splits into row parts, and Llama-3.1-8B's
// (d 4096, 32 heads, 8 kv heads, head 128, MLP 14336, vocabulary 128,256, untied LM head). 2 layers (the
// 8B shape 1: its prefill GEMM tiles cost minutes on a CPU adapter), random q4 weights: the same weights in
// both classes, a 6-token prompt and 3 greedy decode steps, f32 cache (so only summation order differs).

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { acquireDevice } from './device';
import type { KernelFamily } from './kernel-family';
import { nodeGpu, nodeShaders } from './node-gpu';
import { parseModelConfig, type ModelSpec } from '../model/model-spec';
import { maxAbsDiff } from '../test-support/compare';
import { randomPackedStream } from '../test-support/random-packed';
import { REAL_CONFIGS } from '../test-support/real-configs';
import { WebGpuBackend } from './backend';

const F32 = parseCacheMode('f32');
const opened: WebGpuBackend[] = [];
afterAll(() => opened.forEach((b) => b.destroy()));

const SHAPES: { name: string; config: Record<string, unknown>; binding: number | null }[] = [
  { name: 'Qwen2.5-0.5B widths, 16 MiB bindings', config: { ...REAL_CONFIGS.qwen25_05b, num_hidden_layers: 2 }, binding: 16 * 2 ** 20 },
  {
    name: 'Llama-3.1-8B widths',
    config: {
      ...REAL_CONFIGS.llama32_1b,
      num_hidden_layers: 1,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 128,
      intermediate_size: 14336,
      tie_word_embeddings: false,
    },
    binding: null,
  },
];

async function backend(spec: ModelSpec, kernels: KernelFamily, binding: number | null): Promise<WebGpuBackend> {
  const acquired = await acquireDevice(nodeGpu());
  const b = await WebGpuBackend.fromStream(
    binding ? { ...acquired, maxStorageBindingBytes: binding } : acquired,
    nodeShaders(),
    spec,
    randomPackedStream(spec, 'q4', 5),
    { kernels },
  );
  opened.push(b);
  return b;
}

/** Logits of the prompt's last token and of 3 greedy steps after it. */
async function run(b: WebGpuBackend): Promise<Float32Array[]> {
  const s = b.createSession(F32);
  const out = [await s.forward([1, 200, 3000, 45000, 7, 99], 'last')];
  for (let i = 0; i < 3; i++) {
    const last = out[out.length - 1];
    let id = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[id]) id = v;
    out.push(await s.forward([id], 'last'));
  }
  s.close();
  return out;
}

describe('tiled kernel family at real widths equals the rowwise family', () => {
  for (const shape of SHAPES) {
    it(shape.name, async () => {
      const spec = parseModelConfig(JSON.stringify(shape.config), `${shape.name}/config.json`);
      const cpu = await backend(spec, 'rowwise', shape.binding);
      const want = await run(cpu);
      cpu.destroy();
      opened.pop();
      const gpu = await backend(spec, 'tiled', shape.binding);
      if (shape.binding) expect(gpu.weights.lmHead.parts.length).toBeGreaterThan(1);
      const got = await run(gpu);
      for (let i = 0; i < want.length; i++) {
        const scale = want[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(scale).toBeGreaterThan(0);
        console.log(`${shape.name} step ${i}: max |logit| ${scale.toFixed(3)}, max diff ${maxAbsDiff(got[i], want[i]).toExponential(2)}`);
        expect(maxAbsDiff(got[i], want[i]) / scale, `step ${i}`).toBeLessThan(2e-5);
      }
    });
  }
});
