// A packed weight matrix (src/quant/weight-format.ts) on the GPU, cut into row parts so that no binding
// exceeds the device's storage-binding limit (128 MiB on some adapters; a large vocabulary's LM head
// needs several parts).

import type { PackedMatrix, WeightFormat } from '../quant/weight-format';
import type { GpuMemory } from './memory';

export interface GpuMatrixPart {
  rowOffset: number;
  rows: number;
  data: GPUBuffer;
  scales: GPUBuffer | null;
  /** Uniform {rows, rowOffset} that linear.wgsl reads (counted as activations, not weights). */
  params: GPUBuffer;
}

export interface GpuMatrix {
  format: WeightFormat;
  rows: number;
  cols: number;
  rowWords: number;
  scaleWords: number;
  parts: GpuMatrixPart[];
}

export function uploadMatrix(memory: GpuMemory, label: string, m: PackedMatrix, maxBindingBytes: number): GpuMatrix {
  const rowBytes = Math.max(m.rowWords, m.scaleWords) * 4;
  const rowsPerPart = Math.max(1, Math.floor(maxBindingBytes / rowBytes));
  const parts: GpuMatrixPart[] = [];
  for (let r = 0; r < m.rows; r += rowsPerPart) {
    const rows = Math.min(rowsPerPart, m.rows - r);
    const params = memory.create('activations', `${label}.part[${r}]`, 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    memory.device.queue.writeBuffer(params, 0, new Uint32Array([rows, r, 0, 0]));
    parts.push({
      params,
      rowOffset: r,
      rows,
      data: memory.upload('weights', `${label}[${r}]`, m.data.subarray(r * m.rowWords, (r + rows) * m.rowWords)),
      scales: m.scales ? memory.upload('weights', `${label}.scales[${r}]`, m.scales.subarray(r * m.scaleWords, (r + rows) * m.scaleWords)) : null,
    });
  }
  return { format: m.format, rows: m.rows, cols: m.cols, rowWords: m.rowWords, scaleWords: m.scaleWords, parts };
}

export function weightPrefix(format: WeightFormat): string {
  return `weights-${format}`;
}
