// A .gguf file seen as a model folder. The rest of the loader reads Hugging Face folders (config.json,
// tokenizer.json, tokenizer_config.json, safetensors); this source makes those three text files from the
// GGUF metadata and lists the file's tensors under Hugging Face names, so a GGUF model goes through the
// same spec parser, tokenizer, packer, weight cache and engine as any other.
//
// Architectures: `llama` (also Mistral and SmolLM, which llama.cpp converts as llama), `qwen2`, `qwen3`, `phi3`,
// `smollm3` and `gemma3`.
// llama.cpp stores a llama model's q/k rows in the interleaved-pair RoPE order (its NORM rope); the
// engine rotates halves (Hugging Face's layout), so those rows are marked and put back when read.

import { MissingFileError, ModelFormatError, UnsupportedModelError } from '../errors';
import { ggufTokenizerFiles } from '../tokenizer/gguf-tokenizer';
import type { Checkpoint, CheckpointTensor, SingleFileModel } from './checkpoint';
import type { ModelFileSource } from './file-source';
import { readGgufHeader, type GgufHeader, type GgufValue } from './gguf';
import { decodeRows, isTensorEncoding, TENSOR_ENCODINGS } from './tensor-encoding';
import { hfNameOf } from './tensors';
import { ggufArchitecture, GGUF_ARCHITECTURES, type ArchitectureInfo } from './architectures';

const TEXT_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

export function isGgufFileName(name: string): boolean {
  return /\.gguf$/i.test(name);
}

export class GgufModelSource implements SingleFileModel {
  readonly name: string;
  private header: Promise<GgufHeader> | null = null;
  private texts: Promise<{ files: Record<(typeof TEXT_FILES)[number], string>; headDim: number }> | null = null;

  /** The .gguf file's version where the file is remote (src/model/url-file-source.ts); picked files have none. */
  readonly version?: () => Promise<string | null>;

  /** `inner` holds the file `file` (a folder, a URL prefix, picked files). */
  constructor(
    readonly inner: ModelFileSource,
    readonly file: string,
  ) {
    this.name = `${inner.name}/${file}`;
    const remote = inner as { fileVersion?(file: string): Promise<string | null> };
    if (remote.fileVersion) this.version = () => remote.fileVersion!(file);
  }

  async has(file: string): Promise<boolean> {
    return (TEXT_FILES as readonly string[]).includes(file) || (file === this.file && this.inner.has(file));
  }

  async read(file: string): Promise<ArrayBuffer> {
    if (!(TEXT_FILES as readonly string[]).includes(file)) return this.inner.read(this.own(file));
    const text = (await this.made()).files[file as (typeof TEXT_FILES)[number]];
    return new TextEncoder().encode(text).buffer as ArrayBuffer;
  }

  size(file: string): Promise<number> {
    return this.inner.size(this.own(file));
  }

  readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.inner.readRange(this.own(file), begin, end);
  }

  /** The parsed header (read once). */
  ggufHeader(): Promise<GgufHeader> {
    if (!this.header) {
      this.header = (async () => {
        if (!(await this.inner.has(this.file))) throw new MissingFileError(this.name);
        return readGgufHeader(this.inner, this.file);
      })();
    }
    return this.header;
  }

  /** The tensors under Hugging Face names (shapes [out, in]), with llama's q/k rows marked interleaved. */
  async checkpoint(): Promise<Checkpoint> {
    const h = await this.ggufHeader();
    const arch = architecture(h);
    const { headDim } = await this.made();
    const tensors = new Map<string, CheckpointTensor>();
    for (const t of h.tensors.values()) {
      // A layer without ffn_gate stores gate and up in one double-height ffn_up (llama.cpp's phi3).
      const fusedUp = /^blk\.(\d+)\.ffn_up\.weight$/.exec(t.name);
      const name =
        fusedUp && !h.tensors.has(`blk.${fusedUp[1]}.ffn_gate.weight`)
          ? `model.layers.${fusedUp[1]}.mlp.gate_up_proj.weight`
          : hfNameOf(t.name, { architecture: arch.name });
      if (!name) continue;
      if (!isTensorEncoding(t.typeName) || t.end === null) {
        throw new UnsupportedModelError('tensor type not supported', {
          file: this.name,
          field: t.name,
          expected: TENSOR_ENCODINGS.join(', '),
          got: t.typeName,
        });
      }
      const interleaved = arch.ggufRopeInterleaved && /^blk\.\d+\.attn_[qk]\.(weight|bias)$/.test(t.name);
      tensors.set(name, {
        name,
        file: this.file,
        dtype: t.typeName,
        shape: [...t.dims].reverse(),
        begin: t.begin,
        end: t.end,
        stored: t.name,
        ...(interleaved ? { ropeInterleaved: headDim } : {}),
        // llama.cpp's converter adds Gemma's 1 to every norm weight.
        ...(arch.gemma && /norm\.weight$/.test(t.name) ? { offsetStored: true } : {}),
      });
    }
    return { source: this, files: [this.file], tensors };
  }

  private own(file: string): string {
    if (file !== this.file) throw new MissingFileError(`${this.inner.name}/${file}`, `not part of the GGUF model ${this.file}`);
    return file;
  }

  /** The text files made from the metadata (once), and the head width the tensor list needs. */
  private made(): Promise<{ files: Record<(typeof TEXT_FILES)[number], string>; headDim: number }> {
    if (!this.texts) {
      this.texts = (async () => {
        const h = await this.ggufHeader();
        const config = ggufConfig(h);
        const freqs = h.tensors.get('rope_freqs.weight');
        if (freqs) config.rope_freq_factors = await readRopeFactors(this.inner, this.file, h, freqs.name);
        // longrope (llama.cpp's phi3): short and long factors as tensors, the amplitude and trained context as metadata.
        if (h.tensors.has('rope_factors_short.weight')) {
          const arch = architecture(h).gguf;
          const attn = h.metadata.get(`${arch}.rope.scaling.attn_factor`);
          config.rope_scaling = {
            type: 'longrope',
            short_factor: await readRopeFactors(this.inner, this.file, h, 'rope_factors_short.weight'),
            long_factor: await readRopeFactors(this.inner, this.file, h, 'rope_factors_long.weight'),
            ...(typeof attn === 'number' ? { attention_factor: attn } : {}),
          };
          config.original_max_position_embeddings = h.metadata.get(`${arch}.rope.scaling.original_context_length`);
        }
        const tok = ggufTokenizerFiles(h.metadata, this.name);
        const files = { 'config.json': JSON.stringify(config, null, 1), 'tokenizer.json': tok.tokenizer, 'tokenizer_config.json': tok.tokenizerConfig };
        return { files, headDim: config.head_dim as number };
      })();
    }
    return this.texts;
  }
}

function architecture(h: GgufHeader): ArchitectureInfo & { gguf: string } {
  const arch = h.metadata.get('general.architecture');
  if (typeof arch !== 'string') throw new ModelFormatError('missing', { file: h.file, field: 'general.architecture', expected: 'a string' });
  const info = ggufArchitecture(arch);
  if (!info)
    throw new UnsupportedModelError('unsupported architecture', {
      file: h.file,
      field: 'general.architecture',
      expected: GGUF_ARCHITECTURES.join(', '),
      got: arch,
    });
  return { ...info, gguf: arch };
}

/** config.json (Hugging Face keys) from the `{arch}.*` metadata and the tensor list. */
export function ggufConfig(h: GgufHeader): Record<string, unknown> {
  const arch = architecture(h);
  const m = h.metadata;
  const key = (k: string) => `${arch.gguf}.${k}`;
  const get = (k: string, fallback?: number): number => {
    const v: GgufValue | undefined = m.get(key(k)) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ModelFormatError(v === undefined ? 'missing' : 'must be a positive number', {
        file: h.file,
        field: key(k),
        got: v === undefined ? undefined : String(v),
      });
    }
    return v;
  };
  const int = (k: string, fallback?: number): number => {
    const v = get(k, fallback);
    if (!Number.isSafeInteger(v)) throw new ModelFormatError('must be an integer', { file: h.file, field: key(k), got: String(v) });
    return v;
  };

  const hidden = int('embedding_length');
  const heads = int('attention.head_count');
  const kvRaw = m.get(key('attention.head_count_kv')) ?? heads;
  // Some files give one kv-head count per layer: the engine needs them all equal.
  const kvList = Array.isArray(kvRaw) ? kvRaw : [kvRaw];
  if (!kvList.every((n) => n === kvList[0]) || typeof kvList[0] !== 'number') {
    throw new UnsupportedModelError('layers with different kv-head counts are not supported', {
      file: h.file,
      field: key('attention.head_count_kv'),
      got: JSON.stringify(kvRaw),
    });
  }
  const headDim = int('attention.key_length', hidden / heads);
  if (int('attention.value_length', headDim) !== headDim) {
    throw new UnsupportedModelError('key and value heads of different widths are not supported', {
      file: h.file,
      field: key('attention.value_length'),
      expected: String(headDim),
    });
  }
  const rotary = int('rope.dimension_count', headDim);
  if (rotary > headDim || rotary % 2 !== 0) {
    throw new ModelFormatError('must be an even number of dims, at most the head width', {
      file: h.file,
      field: key('rope.dimension_count'),
      expected: `even, at most ${headDim}`,
      got: String(rotary),
    });
  }
  const scaling = m.get(key('rope.scaling.type'));
  const scalingFactor = get('rope.scaling.factor', 1);
  // linear (Gemma 3 4B+): llama.cpp's freq_scale = 1 / factor on the global layers, as transformers' rope_scaling.
  const linear = scaling === 'linear' && scalingFactor !== 1;
  if (scaling !== undefined && scaling !== 'none' && scalingFactor !== 1 && !linear) {
    throw new UnsupportedModelError('unsupported rope scaling', {
      file: h.file,
      field: key('rope.scaling.type'),
      expected: 'none or linear (llama3 scaling comes as rope_freqs.weight)',
      got: String(scaling),
    });
  }
  const embed = h.tensors.get('token_embd.weight');
  if (!embed) throw new ModelFormatError('missing tensor', { file: h.file, field: 'token_embd.weight' });
  const id = (k: string): number | undefined => {
    const v = m.get(`tokenizer.ggml.${k}`);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 2 ** 31 ? v : undefined;
  };
  return {
    architectures: [arch.name],
    hidden_size: hidden,
    num_hidden_layers: int('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: kvList[0],
    head_dim: headDim,
    partial_rotary_factor: rotary / headDim,
    intermediate_size: int('feed_forward_length'),
    vocab_size: embed.dims[1],
    rms_norm_eps: get('attention.layer_norm_rms_epsilon'),
    rope_theta: get('rope.freq_base', 10000),
    max_position_embeddings: int('context_length', 2048),
    ...(linear ? { rope_scaling: { rope_type: 'linear', factor: scalingFactor } } : {}),
    tie_word_embeddings: !h.tensors.has('output.weight'),
    attention_bias: h.tensors.has('blk.0.attn_q.bias'),
    // llama.cpp's smollm3 leaves every 4th layer unturned and writes nothing of it.
    ...(arch.noRopeLayers ? { no_rope_layer_interval: 4 } : {}),
    // llama.cpp's gemma3 fixes what the file does not say: 5 sliding layers in 6, their RoPE base 10,000, and the softmax
    // scale (query_pre_attn_scalar) of head_dim, except on the 27B, which it tells by its 62 layers: hidden / heads.
    ...(arch.gemma
      ? {
          sliding_window: int('attention.sliding_window'),
          sliding_window_pattern: 6,
          rope_local_base_freq: 10000,
          query_pre_attn_scalar: int('block_count') === GEMMA3_27B_LAYERS ? hidden / heads : headDim,
        }
      : {}),
    bos_token_id: id('bos_token_id') ?? null,
    eos_token_id: id('eos_token_id') ?? null,
  };
}

/** Gemma-3-27B's layer count: llama.cpp's gemma3 takes its softmax scale from hidden / heads (168) by it. */
const GEMMA3_27B_LAYERS = 62;

/** RoPE factors as llama.cpp stores them: one divisor per frequency (`rope_freqs.weight` for llama3, phi3's `rope_factors_*`), F32. */
async function readRopeFactors(source: ModelFileSource, file: string, h: GgufHeader, name: string): Promise<number[]> {
  const t = h.tensors.get(name);
  if (!t) throw new ModelFormatError('missing tensor', { file: h.file, field: name, expected: 'a 1-D F32 tensor of RoPE factors' });
  if (t.typeName !== 'F32' || t.dims.length !== 1 || t.end === null) {
    throw new UnsupportedModelError('RoPE factors must be a 1-D F32 tensor', { file: h.file, field: name, got: `${t.typeName}[${t.dims.join(', ')}]` });
  }
  const out = new Float32Array(t.dims[0]);
  decodeRows('F32', await source.readRange(file, t.begin, t.end), out);
  return [...out];
}
