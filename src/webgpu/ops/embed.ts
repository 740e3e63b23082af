// Embedding gather (shaders/embed.wgsl) from a packed matrix of any weight format, one dispatch per row part.

import { weightPrefixes, type GpuMatrix } from '../gpu-matrix';
import { flatGrid, makeDispatch, type Dispatch, type OpContext } from './dispatch';

/** `scale`: what the rows are multiplied by (Gemma: √hidden; the tied LM head reads the table unscaled). */
export function embedOps(ctx: OpContext, table: GpuMatrix, ids: GPUBuffer, h: GPUBuffer, hStride: number, scale = 1): Dispatch[] {
  const d = table.cols;
  return table.parts.map((part) =>
    makeDispatch(
      ctx,
      {
        op: 'embed',
        prefixes: weightPrefixes(table.format),
        consts: { D: d, H_STRIDE: hStride, W_ROW_WORDS: table.rowWords, W_SCALE_WORDS: table.scaleWords, SCALE: { f32: scale } },
      },
      ['uniform', 'read', 'read', 'read', 'write'],
      [part.params, ids, part.data, part.scales ?? ctx.empty, h],
      (tokens) => flatGrid(tokens * Math.ceil(d / 8)),
    ),
  );
}
