// Random weights of any shape packed straight into a weight format, block by block (no f32 model, no
// file): for tests that need a real model's widths and vocabulary on the GPU, not its values.

import { BLOCK_FLOATS, tensorSlots } from '../model/checkpoint';
import type { ModelSpec } from '../model/model-spec';
import { matrixShape, packRows, type PackFormat } from '../quant/weight-format';
import type { WeightStream } from '../quant/weight-stream';

/** Uniform ±0.05 for matrices and biases, 1 ± 0.05 for norms: activations stay finite through the layers. */
export function randomPackedStream(spec: ModelSpec, format: PackFormat, seed: number): WeightStream {
  return {
    format,
    async run(sink) {
      let s = seed >>> 0 || 1;
      const fill = (out: Float32Array, base: number) => {
        for (let i = 0; i < out.length; i++) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          out[i] = base + ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
        }
      };
      for (const slot of tensorSlots(spec).filter((t) => t.required)) {
        const base = slot.key.endsWith('Norm') || slot.key === 'final_norm' ? 1 : 0;
        if (slot.shape.length === 1) {
          const v = new Float32Array(slot.shape[0]);
          fill(v, base);
          await sink.put({ kind: 'vector', key: slot.key, data: v });
          continue;
        }
        const [rows, cols] = slot.shape;
        const step = Math.max(1, Math.floor(BLOCK_FLOATS / cols));
        for (let row0 = 0; row0 < rows; row0 += step) {
          const n = Math.min(step, rows - row0);
          const values = new Float32Array(n * cols);
          fill(values, base);
          await sink.put({ kind: 'matrix', key: slot.key, shape: matrixShape(format, rows, cols), row0, rows: n, ...packRows(values, n, cols, format) });
        }
      }
    },
  };
}
