// The streaming load: each tensor of a checkpoint read by byte range in blocks of rows, widened to f32
// for that block only, packed into the chosen weight format and handed on. The peak is one block
// (16 MiB of f32) plus its packed form, whatever the model's size.

import { throwIfAborted } from '../errors';
import { modelTensors, openCheckpoint, readRowBytes, readRows, rowsPerBlock, type Checkpoint, type ModelTensor } from '../model/checkpoint';
import type { ModelFileSource } from '../model/file-source';
import { loadModel, type LoadedModel } from '../model/load-model';
import { repackRows, repackTarget } from './gguf-repack';
import type { ModelSpec } from '../model/model-spec';
import { matrixFormatFor, matrixShape, packRows, type WeightFormat } from './weight-format';
import { blockRows, isBlockFormat } from './block-format';
import { unpackModelWeights } from './packed-weights';
import { collectPacked, type WeightSink, type WeightStream } from './weight-stream';

export interface PackTimings {
  /** Seconds reading bytes (network or disk) and widening them, and seconds packing. */
  read: number;
  pack: number;
}

/**
 * A stream over a checkpoint. `skip(key)` true: the tensor is not read (the weight cache already holds it,
 * and the caller supplies it another way).
 */
export function checkpointStream(
  spec: ModelSpec,
  cp: Checkpoint,
  format: WeightFormat,
  o: { skip?: (key: string) => boolean; timings?: PackTimings; blockFloats?: number; signal?: AbortSignal } = {},
): WeightStream {
  const tensors = modelTensors(spec, cp);
  return {
    format,
    async run(sink) {
      for (const t of tensors) if (!o.skip?.(t.key)) await packTensor(cp, t, format, sink, rowsPerBlock(t, o.blockFloats), o.timings, o.signal);
    },
  };
}

async function packTensor(
  cp: Checkpoint,
  t: ModelTensor,
  format: WeightFormat,
  sink: WeightSink,
  step: number,
  timings?: PackTimings,
  signal?: AbortSignal,
): Promise<void> {
  const enc = t.tensor.dtype;
  const matrixFormat = matrixFormatFor(format, enc);
  const shape = matrixShape(matrixFormat, t.rows, t.cols);
  for (let row0 = 0; row0 < t.rows; row0 += step) {
    const rows = Math.min(step, t.rows - row0);
    throwIfAborted(signal, `download of ${t.tensor.file}`);
    const t0 = performance.now();
    if (t.kind === 'vector') {
      const data = await readRows(cp.source, t, row0, rows);
      if (timings) timings.read += (performance.now() - t0) / 1000;
      await sink.put({ kind: 'vector', key: t.key, data: data as Float32Array<ArrayBuffer> });
      continue;
    }
    if (isBlockFormat(matrixFormat)) {
      // A GGUF block type kept as stored: the row bytes themselves (src/quant/block-format.ts).
      const data = blockRows(matrixFormat, await readRowBytes(cp.source, t, row0, rows), rows, t.cols);
      if (timings) timings.read += (performance.now() - t0) / 1000;
      await sink.put({ kind: 'matrix', key: t.key, shape, row0, rows, data, scales: null });
      continue;
    }
    if ((enc === 'Q8_0' || enc === 'Q4_0') && repackTarget(enc) === matrixFormat) {
      // GGUF Q8_0 / Q4_0 into q8 / q4: the same values, rearranged (src/quant/gguf-repack.ts).
      const bytes = await readRowBytes(cp.source, t, row0, rows);
      const t1 = performance.now();
      const { data, scales } = repackRows(enc, bytes, rows, t.cols);
      if (timings) {
        timings.read += (t1 - t0) / 1000;
        timings.pack += (performance.now() - t1) / 1000;
      }
      await sink.put({ kind: 'matrix', key: t.key, shape, row0, rows, data, scales });
      continue;
    }
    const values = await readRows(cp.source, t, row0, rows);
    const t1 = performance.now();
    if (timings) timings.read += (t1 - t0) / 1000;
    const { data, scales } = packRows(values, rows, t.cols, matrixFormat);
    if (timings) timings.pack += (performance.now() - t1) / 1000;
    await sink.put({ kind: 'matrix', key: t.key, shape, row0, rows, data, scales });
  }
}

/**
 * A model with the weights the GPU path uploads for `format`, for the reference decoder: the checkpoint
 * streamed and packed block by block as the engine loads it (a GGUF Q4_0 file into q4 without rounding
 * again), then unpacked. f32 returns the checkpoint's own values.
 */
export async function loadModelAs(source: ModelFileSource, format: WeightFormat): Promise<LoadedModel> {
  const m = await loadModel(source);
  if (format === 'f32') return m;
  const packed = await collectPacked(checkpointStream(m.spec, await openCheckpoint(source), format), m.spec.numLayers);
  return { ...m, weights: unpackModelWeights(packed) };
}
