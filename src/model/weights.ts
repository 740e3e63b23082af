// Safetensors checkpoint (single file or sharded) -> f32 weights in the layout the decoders use.
// Linear weights keep Hugging Face's [out, in] row-major layout: y[o] = sum_i W[o*in + i] * x[i].

import { ModelFormatError, MissingFileError } from '../errors';
import type { ModelFileSource } from './file-source';
import { readText } from './file-source';
import { kvDim, type ModelSpec } from './model-spec';
import { parseSafetensors, parseShardIndex, readTensorF32, type SafetensorsFile, type TensorEntry } from './safetensors';

export interface LayerWeights {
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  bq: Float32Array | null;
  bk: Float32Array | null;
  bv: Float32Array | null;
  mlpNorm: Float32Array;
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
}

export interface ModelWeights {
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** The same array as `embed` when the embeddings are tied. */
  lmHead: Float32Array;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

/** Read every shard and return tensor name -> (file, entry). */
async function openCheckpoint(source: ModelFileSource): Promise<Map<string, { st: SafetensorsFile; entry: TensorEntry }>> {
  let shardNames: string[];
  if (await source.has(INDEX)) {
    const index = parseShardIndex(await readText(source, INDEX), `${source.name}/${INDEX}`);
    shardNames = [...new Set(index.values())];
  } else if (await source.has(SINGLE)) {
    shardNames = [SINGLE];
  } else {
    throw new MissingFileError(`${source.name}/${SINGLE}`, `neither ${SINGLE} nor ${INDEX} found`);
  }
  const out = new Map<string, { st: SafetensorsFile; entry: TensorEntry }>();
  for (const shard of shardNames) {
    const st = parseSafetensors(await source.read(shard), `${source.name}/${shard}`);
    for (const [name, entry] of st.tensors) out.set(name, { st, entry });
  }
  return out;
}

export async function loadModelWeights(spec: ModelSpec, source: ModelFileSource): Promise<ModelWeights> {
  const tensors = await openCheckpoint(source);
  const files = [...new Set([...tensors.values()].map((t) => t.st.file))].join(', ') || `${source.name}/${SINGLE}`;

  const get = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new ModelFormatError('missing tensor', { file: files, field: name, expected: `shape [${shape.join(', ')}]` });
    return checked(t, shape);
  };
  const checked = (t: { st: SafetensorsFile; entry: TensorEntry }, shape: number[]): Float32Array => {
    const s = t.entry.shape;
    if (s.length !== shape.length || s.some((n, i) => n !== shape[i])) {
      throw new ModelFormatError('shape disagrees with config.json', {
        file: t.st.file,
        field: t.entry.name,
        expected: `[${shape.join(', ')}]`,
        got: `[${s.join(', ')}]`,
      });
    }
    return readTensorF32(t.st, t.entry);
  };
  const optional = (name: string, shape: number[]): Float32Array | null => {
    const t = tensors.get(name);
    return t ? checked(t, shape) : null;
  };

  const { hiddenSize: d, numHeads, headDim, intermediateSize: f, vocabSize: V } = spec;
  const qDim = numHeads * headDim;
  const kv = kvDim(spec);

  // Tied embeddings: either name may be the one stored (tinystories-656k keeps only lm_head.weight).
  let embed = optional('model.embed_tokens.weight', [V, d]);
  let lmHead = optional('lm_head.weight', [V, d]);
  if (spec.tieWordEmbeddings) {
    embed ??= lmHead;
    lmHead ??= embed;
  }
  embed ??= get('model.embed_tokens.weight', [V, d]);
  lmHead ??= get('lm_head.weight', [V, d]);

  const layers: LayerWeights[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const bias = (name: string, n: number): Float32Array | null =>
      spec.attentionBias ? get(`${p}self_attn.${name}.bias`, [n]) : optional(`${p}self_attn.${name}.bias`, [n]);
    layers.push({
      attnNorm: get(`${p}input_layernorm.weight`, [d]),
      wq: get(`${p}self_attn.q_proj.weight`, [qDim, d]),
      wk: get(`${p}self_attn.k_proj.weight`, [kv, d]),
      wv: get(`${p}self_attn.v_proj.weight`, [kv, d]),
      wo: get(`${p}self_attn.o_proj.weight`, [d, qDim]),
      bq: bias('q_proj', qDim),
      bk: bias('k_proj', kv),
      bv: bias('v_proj', kv),
      mlpNorm: get(`${p}post_attention_layernorm.weight`, [d]),
      wGate: get(`${p}mlp.gate_proj.weight`, [f, d]),
      wUp: get(`${p}mlp.up_proj.weight`, [f, d]),
      wDown: get(`${p}mlp.down_proj.weight`, [d, f]),
    });
  }
  return { embed, layers, finalNorm: get('model.norm.weight', [d]), lmHead };
}
