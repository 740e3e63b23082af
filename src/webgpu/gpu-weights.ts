// A model's weights on the GPU, filled from a weight stream block by block: each block is written into
// its matrix's buffers and dropped, so the CPU never holds the model. Buffers are created on a matrix's
// first block; Dawn's staging memory is drained every UPLOAD_FLUSH_BYTES so it does not grow with the model.

import { layerKey, layerTensors, type LayerTensors } from '../model/tensors';
import type { MatrixBlock, WeightBlock, WeightSink } from '../quant/weight-stream';
import { allocateMatrix, writeMatrixRows, type GpuMatrix } from './gpu-matrix';
import type { GpuMemory } from './memory';

export type GpuLayer = LayerTensors<GpuMatrix, GPUBuffer>;

export interface GpuWeights {
  embed: GpuMatrix;
  /** The same object as `embed` when the embeddings are tied. */
  lmHead: GpuMatrix;
  layers: GpuLayer[];
  finalNorm: GPUBuffer;
}

const UPLOAD_FLUSH_BYTES = 64 * 2 ** 20;

export class GpuWeightUploader implements WeightSink {
  private readonly matrices = new Map<string, GpuMatrix>();
  private readonly vectors = new Map<string, GPUBuffer>();
  private unflushed = 0;
  /** Seconds spent in put (buffer creation, writes, staging drains). */
  seconds = 0;

  constructor(
    private readonly memory: GpuMemory,
    private readonly maxBindingBytes: number,
  ) {}

  async put(b: WeightBlock): Promise<void> {
    const t0 = performance.now();
    if (b.kind === 'vector') {
      this.vectors.set(b.key, this.memory.upload('weights', b.key, b.data));
      this.unflushed += b.data.byteLength;
    } else {
      this.writeBlock(b);
      this.unflushed += b.data.byteLength + (b.scales?.byteLength ?? 0);
    }
    if (this.unflushed >= UPLOAD_FLUSH_BYTES) {
      this.unflushed = 0;
      await this.memory.device.queue.onSubmittedWorkDone();
    }
    this.seconds += (performance.now() - t0) / 1000;
  }

  private writeBlock(b: MatrixBlock): void {
    let m = this.matrices.get(b.key);
    if (!m) this.matrices.set(b.key, (m = allocateMatrix(this.memory, b.key, b.shape, this.maxBindingBytes)));
    writeMatrixRows(this.memory.device.queue, m, b.row0, b.rows, b.data, b.scales);
  }

  /** The uploaded model; throws when the stream left a tensor out (a bug in the producer). */
  finish(layers: number): GpuWeights {
    const matrix = (key: string) => {
      const m = this.matrices.get(key);
      if (!m) throw new Error(`weight stream ended without ${key}`);
      return m;
    };
    const vector = (key: string) => this.vectors.get(key) ?? null;
    const embed = matrix('embed');
    return {
      embed,
      lmHead: this.matrices.get('lm_head') ?? embed,
      layers: Array.from({ length: layers }, (_, i) => {
        const l = layerTensors(
          (k) => matrix(layerKey(i, k)),
          (k) => vector(layerKey(i, k)),
        );
        if (!l.attnNorm || !l.mlpNorm) throw new Error(`weight stream ended without layer ${i}'s norms`);
        return l;
      }),
      finalNorm:
        vector('final_norm') ??
        (() => {
          throw new Error('weight stream ended without final_norm');
        })(),
    };
  }
}
