// Small synthetic Llama checkpoints built in memory, for loader and decoder tests that need exact control
// over the bytes (bad headers, dtypes, shards, biases, tied weights).

import { ARCHITECTURES, type Architecture } from '../model/architectures';
import { MemoryFileSource } from '../model/file-source';
import type { ModelSpec } from '../model/model-spec';
import { FUSED_TENSORS, hfLayerPrefix, hfNameIn, LAYER_TENSORS } from '../model/tensors';
import { f32ToF16Bits } from '../quant/f16';

export interface TensorSpec {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: 'F32' | 'F16' | 'BF16';
}

export function encodeTensor(t: TensorSpec): Uint8Array {
  const dtype = t.dtype ?? 'F32';
  if (dtype === 'F32') return new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  const out = new Uint16Array(t.data.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < t.data.length; i++) {
    if (dtype === 'F16') out[i] = f32ToF16Bits(t.data[i]);
    else {
      f[0] = t.data[i];
      out[i] = u[0] >>> 16; // truncation: the test data is chosen to be exact in bf16
    }
  }
  return new Uint8Array(out.buffer);
}

/** Serialize tensors; `header` may be edited before encoding to make broken files. */
export function buildSafetensors(
  tensors: TensorSpec[],
  opts: { metadata?: Record<string, string>; editHeader?: (h: Record<string, unknown>) => void } = {},
): ArrayBuffer {
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = encodeTensor(t);
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  opts.editHeader?.(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out.buffer;
}

export interface SyntheticShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  bias?: boolean;
  tied?: boolean;
  architecture?: string;
  ropeScaling?: Record<string, unknown> | null;
  /** More config.json fields (partial_rotary_factor, original_max_position_embeddings ...). */
  config?: Record<string, unknown>;
  /** Store q/k/v and gate/up fused as Phi-3 does (qkv_proj, gate_up_proj); default: for Phi3ForCausalLM. */
  fused?: boolean;
}

export const TINY: SyntheticShape = { hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, ffn: 48, vocab: 40 };

export function syntheticConfig(s: SyntheticShape): Record<string, unknown> {
  return {
    architectures: [s.architecture ?? 'LlamaForCausalLM'],
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.headDim,
    intermediate_size: s.ffn,
    vocab_size: s.vocab,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: s.ropeScaling ?? null,
    attention_bias: s.bias ?? false,
    tie_word_embeddings: s.tied ?? false,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    max_position_embeddings: 512,
    ...s.config,
  };
}

/** Deterministic weights drawn from a seeded generator, scaled like a trained model's. */
export function syntheticTensors(s: SyntheticShape, seed = 7): TensorSpec[] {
  let state = seed >>> 0;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const t = (name: string, shape: number[], scale: number, base = 0): TensorSpec => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => base + rand() * scale),
  });
  // The spec fields the tensor table's shapes and names read.
  const arch = ARCHITECTURES[(s.architecture ?? 'LlamaForCausalLM') as Architecture];
  const spec = {
    architecture: arch?.name ?? 'LlamaForCausalLM',
    sandwichNorms: arch?.gemma === true,
    hiddenSize: s.hidden,
    numHeads: s.heads,
    numKvHeads: s.kvHeads,
    headDim: s.headDim,
    intermediateSize: s.ffn,
    vocabSize: s.vocab,
    attentionBias: s.bias === true,
    qkNorm: arch?.qkNorm === true,
    tieWordEmbeddings: s.tied === true,
  } as ModelSpec;
  const norm = arch?.gemma ? 0 : 1;
  const out: TensorSpec[] = [t('model.embed_tokens.weight', [s.vocab, s.hidden], 2)];
  for (let i = 0; i < s.layers; i++) {
    for (const d of LAYER_TENSORS) {
      if (d.present && !d.present(spec)) continue;
      const shape = d.shape(spec);
      // Norms near 1 (Gemma stores w of 1 + w: near 0), biases around 0, matrices scaled by their input width.
      const [scale, base] = d.key.endsWith('Norm') ? [0.4, norm] : shape.length === 1 ? [0.5, 0] : [2 / Math.sqrt(shape[1]), 0];
      out.push(t(hfLayerPrefix(i) + hfNameIn(spec, d), shape, scale, base));
    }
  }
  out.push(t('model.norm.weight', [s.hidden], 0.4, norm));
  if (!s.tied) out.push(t('lm_head.weight', [s.vocab, s.hidden], 2));
  return (s.fused ?? s.architecture === 'Phi3ForCausalLM') ? fuseTensors(out, s.layers) : out;
}

/** The same weights with each layer's q/k/v and gate/up stored as one tensor (Phi-3's layout). */
function fuseTensors(tensors: TensorSpec[], layers: number): TensorSpec[] {
  const out = [...tensors];
  for (let i = 0; i < layers; i++) {
    for (const f of FUSED_TENSORS) {
      const names = f.parts.map((p) => hfLayerPrefix(i) + LAYER_TENSORS.find((d) => d.key === p)!.hf);
      const parts = names.map((n) => out.find((x) => x.name === n)!);
      const data = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
      let at = 0;
      for (const p of parts) data.set(p.data, at), (at += p.data.length);
      const first = out.indexOf(parts[0]);
      out.splice(first, 1, { name: hfLayerPrefix(i) + f.hf, shape: [parts.reduce((a, p) => a + p.shape[0], 0), parts[0].shape[1]], data });
      for (const p of parts.slice(1)) out.splice(out.indexOf(p), 1);
    }
  }
  return out;
}

/** A word-level tokenizer over "w0".."w{n-1}" with <unk>, <s>, </s> at 0, 1, 2. */
export function syntheticTokenizerJson(vocab: number): string {
  const v: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let i = 3; i < vocab; i++) v[`w${i}`] = i;
  return JSON.stringify({
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 1, content: '<s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 2, content: '</s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: v, unk_token: '<unk>' },
  });
}

export function syntheticSource(
  s: SyntheticShape = TINY,
  edit: { files?: Record<string, ArrayBuffer | string | undefined>; tensors?: TensorSpec[] } = {},
): MemoryFileSource {
  const files = new Map<string, ArrayBuffer | string>([
    ['config.json', JSON.stringify(syntheticConfig(s))],
    ['tokenizer.json', syntheticTokenizerJson(s.vocab)],
    ['tokenizer_config.json', JSON.stringify({ bos_token: '<s>', eos_token: '</s>' })],
    ['model.safetensors', buildSafetensors(edit.tensors ?? syntheticTensors(s))],
  ]);
  for (const [k, v] of Object.entries(edit.files ?? {})) {
    if (v === undefined) files.delete(k);
    else files.set(k, v);
  }
  return new MemoryFileSource('synthetic', files);
}
