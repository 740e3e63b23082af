// A packed weight matrix (src/quant/weight-format.ts) on the GPU, cut into row parts so that no binding
// exceeds the device's storage-binding limit (128 MiB on some adapters; a large vocabulary's LM head
// needs several parts).

import { isBlockFormat } from '../quant/block-format';
import type { MatrixFormat, MatrixShape, PackedMatrix } from '../quant/weight-format';
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
  format: MatrixFormat;
  rows: number;
  cols: number;
  rowWords: number;
  scaleWords: number;
  parts: GpuMatrixPart[];
}

/** GPU buffers for a matrix of `shape`, cut into parts that each fit one binding; filled by writeMatrixRows. */
export function allocateMatrix(memory: GpuMemory, label: string, shape: MatrixShape, maxBindingBytes: number): GpuMatrix {
  const rowBytes = Math.max(shape.rowWords, shape.scaleWords) * 4;
  const rowsPerPart = Math.max(1, Math.floor(maxBindingBytes / rowBytes));
  const parts: GpuMatrixPart[] = [];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  for (let r = 0; r < shape.rows; r += rowsPerPart) {
    const rows = Math.min(rowsPerPart, shape.rows - r);
    const params = memory.create('activations', `${label}.part[${r}]`, 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    memory.device.queue.writeBuffer(params, 0, new Uint32Array([rows, r, 0, 0]));
    parts.push({
      params,
      rowOffset: r,
      rows,
      data: memory.create('weights', `${label}[${r}]`, rows * shape.rowWords * 4, usage),
      scales: shape.scaleWords ? memory.create('weights', `${label}.scales[${r}]`, rows * shape.scaleWords * 4, usage) : null,
    });
  }
  return { format: shape.format, rows: shape.rows, cols: shape.cols, rowWords: shape.rowWords, scaleWords: shape.scaleWords, parts };
}

/** Write rows [row0, row0 + rows) (packed data and scales of just those rows) into the matrix's parts. */
export function writeMatrixRows(queue: GPUQueue, m: GpuMatrix, row0: number, rows: number, data: Uint32Array, scales: Uint32Array | null): void {
  for (const part of m.parts) {
    const from = Math.max(row0, part.rowOffset);
    const to = Math.min(row0 + rows, part.rowOffset + part.rows);
    if (from >= to) continue;
    const write = (buffer: GPUBuffer, src: Uint32Array, words: number) =>
      queue.writeBuffer(buffer, (from - part.rowOffset) * words * 4, src.buffer, src.byteOffset + (from - row0) * words * 4, (to - from) * words * 4);
    write(part.data, data, m.rowWords);
    if (part.scales && scales) write(part.scales, scales, m.scaleWords);
  }
}

export function uploadMatrix(memory: GpuMemory, label: string, m: PackedMatrix, maxBindingBytes: number): GpuMatrix {
  const g = allocateMatrix(memory, label, m, maxBindingBytes);
  writeMatrixRows(memory.device.queue, g, 0, m.rows, m.data, m.scales);
  return g;
}

/** Copy a matrix back from the GPU (for work done once per model on the CPU, such as xquant-gqa's factors). */
export async function readMatrix(device: GPUDevice, m: GpuMatrix): Promise<PackedMatrix> {
  const data = new Uint32Array(m.rows * m.rowWords);
  const scales = m.scaleWords ? new Uint32Array(m.rows * m.scaleWords) : null;
  for (const part of m.parts) {
    data.set(await readBuffer(device, part.data, part.rows * m.rowWords * 4), part.rowOffset * m.rowWords);
    if (scales && part.scales) scales.set(await readBuffer(device, part.scales, part.rows * m.scaleWords * 4), part.rowOffset * m.scaleWords);
  }
  return { format: m.format, rows: m.rows, cols: m.cols, rowWords: m.rowWords, scaleWords: m.scaleWords, data, scales };
}

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Uint32Array> {
  const staging = device.createBuffer({ label: 'readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return new Uint32Array(staging.getMappedRange().slice(0));
  } finally {
    staging.destroy();
  }
}

/**
 * The shader fragments that read a matrix of `format` (shaders/include/weights-*.wgsl): w8 for the rowwise
 * kernels, GEMM tiles and xquant; `vec4` adds the tiled GEMV's w_dot. `suffix` renames them for a second
 * matrix in one kernel (`up`: w8_up, w_up, W_ROW_WORDS_up, ...; src/webgpu/shader-library.ts).
 */
export function weightPrefixes(format: MatrixFormat, o: { vec4?: boolean; suffix?: string } = {}): string[] {
  const names = isBlockFormat(format)
    ? ['ggml-bytes', `weights-${format}`, ...(o.vec4 ? ['weights-block-dot'] : [])]
    : [o.vec4 ? `weights-${format}-vec4` : `weights-${format}`];
  return o.suffix ? names.map((n) => `${n}@${o.suffix}`) : names;
}
