// A model's tensors, in one table: the engine's key, the Hugging Face name, llama.cpp's GGUF name and the
// shape that config.json implies. The checkpoint reader (checkpoint.ts), the GGUF mapping (gguf-model.ts),
// the packer and weight stream (src/quant/), the GPU upload (src/webgpu/gpu-weights.ts) and the test writers
// (src/test-support/) all read it; a new tensor (a q/k norm, a fused projection) is one row here.

import type { Architecture } from './architectures';
import { kvDim, type ModelSpec } from './model-spec';

export const LAYER_MATRICES = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const;
export const LAYER_VECTORS = ['attnNorm', 'bq', 'bk', 'bv', 'qNorm', 'kNorm', 'postAttnNorm', 'mlpNorm', 'postMlpNorm'] as const;
export type LayerMatrix = (typeof LAYER_MATRICES)[number];
export type LayerVector = (typeof LAYER_VECTORS)[number];
/** Vectors a layer may lack (biases, q/k norms and Gemma's post-norms only where the architecture has them). */
type OptionalVector = 'bq' | 'bk' | 'bv' | 'qNorm' | 'kNorm' | 'postAttnNorm' | 'postMlpNorm';

/** One layer's tensors held as M (matrices) and V (vectors): f32 arrays, packed matrices, GPU buffers. */
export type LayerTensors<M, V> = Record<LayerMatrix, M> & Record<Exclude<LayerVector, OptionalVector>, V> & Record<OptionalVector, V | null>;

export interface TensorDef<K extends string = string> {
  /** The engine's key (a layer's tensors are keyed `l{i}.{key}`). */
  key: K;
  /** Hugging Face name (a layer's after `model.layers.{i}.`). */
  hf: string;
  /** The Hugging Face name where an architecture uses another (Gemma's pre-MLP norm is `pre_feedforward_layernorm`). */
  hfByArch?: Partial<Record<Architecture, string>>;
  /** llama.cpp's GGUF name (a layer's after `blk.{i}.`). */
  gguf: string;
  /** [rows, cols] of a matrix (Hugging Face [out, in]); [n] of a vector. */
  shape(spec: ModelSpec): number[];
  /** Whether a model with this spec has the tensor (default: always). */
  present?(spec: ModelSpec): boolean;
  /** Not even looked for where absent: its name means another tensor in other models (Gemma's post-attention norm). */
  strict?: boolean;
}

const qDim = (s: ModelSpec) => s.numHeads * s.headDim;
const bias = (s: ModelSpec) => s.attentionBias;
const qkNorm = (s: ModelSpec) => s.qkNorm;
const sandwich = (s: ModelSpec) => s.sandwichNorms;

/** A layer's tensors: the weights in the order a layer uses them, then the biases some architectures add. */
export const LAYER_TENSORS: readonly TensorDef<LayerMatrix | LayerVector>[] = [
  { key: 'attnNorm', hf: 'input_layernorm.weight', gguf: 'attn_norm.weight', shape: (s) => [s.hiddenSize] },
  { key: 'wq', hf: 'self_attn.q_proj.weight', gguf: 'attn_q.weight', shape: (s) => [qDim(s), s.hiddenSize] },
  { key: 'wk', hf: 'self_attn.k_proj.weight', gguf: 'attn_k.weight', shape: (s) => [kvDim(s), s.hiddenSize] },
  { key: 'wv', hf: 'self_attn.v_proj.weight', gguf: 'attn_v.weight', shape: (s) => [kvDim(s), s.hiddenSize] },
  { key: 'wo', hf: 'self_attn.o_proj.weight', gguf: 'attn_output.weight', shape: (s) => [s.hiddenSize, qDim(s)] },
  // Llama's `post_attention_layernorm` is the norm before the MLP; Gemma's is the norm of the attention output.
  {
    key: 'mlpNorm',
    hf: 'post_attention_layernorm.weight',
    hfByArch: { Gemma3ForCausalLM: 'pre_feedforward_layernorm.weight' },
    gguf: 'ffn_norm.weight',
    shape: (s) => [s.hiddenSize],
  },
  { key: 'wGate', hf: 'mlp.gate_proj.weight', gguf: 'ffn_gate.weight', shape: (s) => [s.intermediateSize, s.hiddenSize] },
  { key: 'wUp', hf: 'mlp.up_proj.weight', gguf: 'ffn_up.weight', shape: (s) => [s.intermediateSize, s.hiddenSize] },
  { key: 'wDown', hf: 'mlp.down_proj.weight', gguf: 'ffn_down.weight', shape: (s) => [s.hiddenSize, s.intermediateSize] },
  { key: 'bq', hf: 'self_attn.q_proj.bias', gguf: 'attn_q.bias', shape: (s) => [qDim(s)], present: bias },
  { key: 'bk', hf: 'self_attn.k_proj.bias', gguf: 'attn_k.bias', shape: (s) => [kvDim(s)], present: bias },
  { key: 'bv', hf: 'self_attn.v_proj.bias', gguf: 'attn_v.bias', shape: (s) => [kvDim(s)], present: bias },
  { key: 'qNorm', hf: 'self_attn.q_norm.weight', gguf: 'attn_q_norm.weight', shape: (s) => [s.headDim], present: qkNorm },
  { key: 'kNorm', hf: 'self_attn.k_norm.weight', gguf: 'attn_k_norm.weight', shape: (s) => [s.headDim], present: qkNorm },
  {
    key: 'postAttnNorm',
    hf: 'post_attention_layernorm.weight',
    gguf: 'post_attention_norm.weight',
    shape: (s) => [s.hiddenSize],
    present: sandwich,
    strict: true,
  },
  { key: 'postMlpNorm', hf: 'post_feedforward_layernorm.weight', gguf: 'post_ffw_norm.weight', shape: (s) => [s.hiddenSize], present: sandwich, strict: true },
];

/** A layer tensor's Hugging Face name (after `model.layers.{i}.`) in a model of this spec. */
export function hfNameIn(spec: Pick<ModelSpec, 'architecture'>, t: TensorDef): string {
  return t.hfByArch?.[spec.architecture] ?? t.hf;
}

/** The layer tensors a model of this spec has. */
function layerDefs(spec: ModelSpec): readonly TensorDef[] {
  return LAYER_TENSORS.filter((t) => t.present?.(spec) ?? true);
}

/**
 * Fused tensors some checkpoints store in place of their parts (Phi-3: `qkv_proj` and `gate_up_proj`; llama.cpp's
 * `attn_qkv` and, without an `ffn_gate`, a double-height `ffn_up`): the parts' rows one after another, in this order.
 */
export const FUSED_TENSORS: readonly { hf: string; gguf: string; parts: readonly LayerMatrix[] }[] = [
  { hf: 'self_attn.qkv_proj.weight', gguf: 'attn_qkv.weight', parts: ['wq', 'wk', 'wv'] },
  { hf: 'mlp.gate_up_proj.weight', gguf: 'ffn_up.weight', parts: ['wGate', 'wUp'] },
];

export type GlobalKey = 'embed' | 'lm_head' | 'final_norm';

/** The tensors outside the layers. Tied embeddings have no lm_head: the embedding matrix serves both. */
export const GLOBAL_TENSORS: readonly TensorDef<GlobalKey>[] = [
  { key: 'embed', hf: 'model.embed_tokens.weight', gguf: 'token_embd.weight', shape: (s) => [s.vocabSize, s.hiddenSize] },
  { key: 'lm_head', hf: 'lm_head.weight', gguf: 'output.weight', shape: (s) => [s.vocabSize, s.hiddenSize], present: (s) => !s.tieWordEmbeddings },
  { key: 'final_norm', hf: 'model.norm.weight', gguf: 'output_norm.weight', shape: (s) => [s.hiddenSize] },
];

export const hfLayerPrefix = (layer: number): string => `model.layers.${layer}.`;

/**
 * A multimodal checkpoint's text-model tensor (MULTIMODAL_TEXT_MODELS) under the name a text-only checkpoint gives
 * it: Gemma 3 4B+ as first published (`language_model.model.…`, `language_model.lm_head.weight`) and as transformers
 * 4.52+ saves it (`model.language_model.…`). Other names, the vision tower's included, are returned unchanged.
 */
export function textModelName(name: string): string {
  if (name.startsWith('language_model.')) return name.slice('language_model.'.length);
  if (name.startsWith('model.language_model.')) return `model.${name.slice('model.language_model.'.length)}`;
  return name;
}
export const ggufLayerPrefix = (layer: number): string => `blk.${layer}.`;

/** The engine's key of a layer's tensor. */
export const layerKey = (layer: number, key: LayerMatrix | LayerVector): string => `l${layer}.${key}`;

/** Build one layer's tensors from the engine's keys (a vector the model lacks is null). */
export function layerTensors<M, V>(matrix: (key: LayerMatrix) => M, vector: (key: LayerVector) => V | null): LayerTensors<M, V> {
  const out: Record<string, M | V | null> = {};
  for (const k of LAYER_MATRICES) out[k] = matrix(k);
  for (const k of LAYER_VECTORS) out[k] = vector(k);
  return out as LayerTensors<M, V>;
}

/** The same layer with its matrices converted (packing, unpacking); vectors shared. */
export function mapLayerMatrices<A, B, V>(layer: LayerTensors<A, V>, f: (m: A, key: LayerMatrix) => B): LayerTensors<B, V> {
  return layerTensors(
    (k) => f(layer[k], k),
    (k) => layer[k],
  );
}

/** Hugging Face name -> GGUF name, for every tensor a layer or the model of this spec has (the test writers use it). */
export function ggufNameOf(hfName: string, spec: ModelSpec): string | null {
  const global = GLOBAL_TENSORS.find((t) => t.hf === hfName);
  if (global) return global.gguf;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const t = m && (layerDefs(spec).find((d) => hfNameIn(spec, d) === m[2]) ?? FUSED_TENSORS.find((d) => d.hf === m[2]));
  return t ? ggufLayerPrefix(Number(m[1])) + t.gguf : null;
}

/** GGUF name -> Hugging Face name in a model of this spec (gguf-model.ts); null for tensors the engine does not read. */
export function hfNameOf(ggufName: string, spec: Pick<ModelSpec, 'architecture'>): string | null {
  const global = GLOBAL_TENSORS.find((t) => t.gguf === ggufName);
  if (global) return global.hf;
  const m = /^blk\.(\d+)\.(.+)$/.exec(ggufName);
  // ffn_up is the plain up projection here; a file without ffn_gate stores gate and up in it (gguf-model.ts).
  const def = m && LAYER_TENSORS.find((d) => d.gguf === m[2]);
  if (def) return hfLayerPrefix(Number(m![1])) + hfNameIn(spec, def);
  const fused = m && FUSED_TENSORS.find((d) => d.gguf === m[2]);
  return fused ? hfLayerPrefix(Number(m![1])) + fused.hf : null;
}
