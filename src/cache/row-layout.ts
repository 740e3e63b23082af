// The word layout of a quantized row, as the reference stores (src/reference/caches/row-stores.ts) and the GPU
// pages (src/webgpu/caches/quant-cache.ts) hold it: groups of up to 128 elements along the row, each
// {u32 meta (f16 scale, f16 zero); u32 codes[ceil(n * b / 32)]}.

import { packedWords } from '../quant/quantize';
import { GROUP_SIZE } from './cache-config';

/** Split a row of `dim` elements into groups of GROUP_SIZE (the last may be shorter). */
export function rowGroups(dim: number): Array<[start: number, count: number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < dim; s += GROUP_SIZE) out.push([s, Math.min(GROUP_SIZE, dim - s)]);
  return out;
}

/** Words one quantized row takes (metas + codes). */
export function quantRowWords(dim: number, bits: number): number {
  return rowGroups(dim).reduce((a, [, n]) => a + 1 + packedWords(n, bits), 0);
}
