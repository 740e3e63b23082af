// A model's weights as a stream of blocks: each matrix a run of row blocks in its packed format, each
// norm or bias one f32 vector. Producers: a checkpoint read by range and packed block by block
// (pack-checkpoint.ts), a weight-cache entry (src/storage/weight-cache.ts), packed weights in memory.
// Consumers: the GPU upload (src/webgpu/gpu-weights.ts), the weight cache, `collectPacked` for the CPU.
// A block's arrays belong to the consumer only for the call: nothing keeps the whole model in memory.

import { LAYER_MATRICES, LAYER_VECTORS, layerKey, layerTensors } from '../model/tensors';
import type { PackedLayer, PackedWeights } from './packed-weights';
import type { MatrixShape, PackedMatrix, WeightFormat } from './weight-format';
import { sha256 } from '../storage/sha256';

export interface MatrixBlock {
  kind: 'matrix';
  key: string;
  shape: MatrixShape;
  /** Rows [row0, row0 + rows) of the matrix. */
  row0: number;
  rows: number;
  data: Uint32Array<ArrayBuffer>;
  scales: Uint32Array<ArrayBuffer> | null;
}

export interface VectorBlock {
  kind: 'vector';
  key: string;
  data: Float32Array<ArrayBuffer>;
}

export type WeightBlock = MatrixBlock | VectorBlock;

export interface WeightSink {
  put(block: WeightBlock): void | Promise<void>;
}

export interface WeightStream {
  format: WeightFormat;
  /** Push every block to `sink` (a matrix's blocks in row order), awaiting each put. */
  run(sink: WeightSink): Promise<void>;
}

/**
 * Every 32-bit word of a block folded into four lanes (word i into lane i mod 4: a multiply, a rotate), each lane
 * then mixed with the length: 16 bytes. Not a cryptographic hash: it tells checkpoints apart, which differ in many
 * words. About 5 GB/s on one core of the 2-core dev machine (Node 20), where SHA-256 over every byte runs at
 * 0.9 (WebCrypto) to 1.8 GB/s: under a second for an 8B model's 4.5 GB in q4, beside minutes of upload.
 */
export function wordDigest(w: Uint32Array): Uint8Array {
  let h0 = 0x9e3779b1;
  let h1 = 0x85ebca77;
  let h2 = 0xc2b2ae3d;
  let h3 = 0x27d4eb2f;
  const m = w.length & ~3;
  for (let i = 0; i < m; i += 4) {
    h0 = Math.imul(h0 ^ w[i], 0x85ebca77);
    h0 = (h0 << 13) | (h0 >>> 19);
    h1 = Math.imul(h1 ^ w[i + 1], 0x85ebca77);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ w[i + 2], 0x85ebca77);
    h2 = (h2 << 13) | (h2 >>> 19);
    h3 = Math.imul(h3 ^ w[i + 3], 0x85ebca77);
    h3 = (h3 << 13) | (h3 >>> 19);
  }
  for (let i = m; i < w.length; i++) h0 = Math.imul(h0 ^ w[i], 0xc2b2ae3d);
  const out = new Uint32Array(4);
  [h0, h1, h2, h3].forEach((h, k) => {
    let x = (h ^ w.length) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    out[k] = (x ^ (x >>> 16)) >>> 0;
  });
  return new Uint8Array(out.buffer);
}

/**
 * The stream as is, fingerprinting what passes: SHA-256 over every block's key, place and size and the wordDigest of
 * all its words (data and scales), so two checkpoints that differ anywhere get different fingerprints.
 */
export function fingerprinted(stream: WeightStream): { stream: WeightStream; fingerprint(): string } {
  const digests: Uint8Array[] = [];
  const text = new TextEncoder();
  const words = (a: ArrayBufferView | null): Uint8Array[] => (a ? [wordDigest(new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2))] : []);
  return {
    stream: {
      format: stream.format,
      run: (sink) =>
        stream.run({
          put(b) {
            const head =
              b.kind === 'matrix' ? `${b.key}|${b.row0}|${b.rows}|${b.data.byteLength}|${b.scales?.byteLength ?? 0}` : `${b.key}|${b.data.byteLength}`;
            const pieces = [text.encode(head), ...words(b.data), ...words(b.kind === 'matrix' ? b.scales : null)];
            digests.push(sha256(concat(pieces)));
            return sink.put(b);
          },
        }),
    },
    fingerprint: () => [...sha256(concat(digests))].map((x) => x.toString(16).padStart(2, '0')).join(''),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Whether a matrix block is its matrix's last. */
export function isLastBlock(b: MatrixBlock): boolean {
  return b.row0 + b.rows === b.shape.rows;
}

/** Packed weights already in memory, one block per matrix. */
export function packedStream(p: PackedWeights): WeightStream {
  return {
    format: p.format,
    async run(sink) {
      const matrix = (key: string, m: PackedMatrix) => sink.put({ kind: 'matrix', key, shape: m, row0: 0, rows: m.rows, data: m.data, scales: m.scales });
      const vector = (key: string, v: Float32Array | null) => v && sink.put({ kind: 'vector', key, data: v as Float32Array<ArrayBuffer> });
      await matrix('embed', p.embed);
      if (p.lmHead !== p.embed) await matrix('lm_head', p.lmHead);
      for (const [i, l] of p.layers.entries()) {
        for (const k of LAYER_MATRICES) await matrix(layerKey(i, k), l[k]);
        for (const k of LAYER_VECTORS) await vector(layerKey(i, k), l[k]);
      }
      await vector('final_norm', p.finalNorm);
    },
  };
}

/** Assemble a stream into PackedWeights (the CPU reference, tests). */
export async function collectPacked(stream: WeightStream, layers: number): Promise<PackedWeights> {
  const matrices = new Map<string, PackedMatrix>();
  const vectors = new Map<string, Float32Array>();
  await stream.run({
    put(b) {
      if (b.kind === 'vector') {
        vectors.set(b.key, b.data.slice());
        return;
      }
      let m = matrices.get(b.key);
      if (!m) {
        const s = b.shape;
        m = { ...s, data: new Uint32Array(s.rows * s.rowWords), scales: s.scaleWords ? new Uint32Array(s.rows * s.scaleWords) : null };
        matrices.set(b.key, m);
      }
      m.data.set(b.data, b.row0 * m.rowWords);
      if (m.scales && b.scales) m.scales.set(b.scales, b.row0 * m.scaleWords);
    },
  });
  const need = <T>(map: Map<string, T>, key: string): T => {
    const v = map.get(key);
    if (!v) throw new Error(`weight stream ended without ${key}`);
    return v;
  };
  const embed = need(matrices, 'embed');
  const packedLayers: PackedLayer[] = Array.from({ length: layers }, (_, i) =>
    layerTensors(
      (k) => need(matrices, layerKey(i, k)),
      (k) => vectors.get(layerKey(i, k)) ?? null,
    ),
  );
  return { format: stream.format, embed, lmHead: matrices.get('lm_head') ?? embed, layers: packedLayers, finalNorm: need(vectors, 'final_norm') };
}
