// xquant-gqa's SVD factors on the GPU (src/cache/latents.ts): held in q8, as the reference rounds them, and
// uploaded once per backend, whatever the number of sessions.

import { uploadMatrix, type GpuMatrix } from '../gpu-matrix';
import { kvDim } from '../../model/model-spec';
import { packMatrix } from '../../quant/weight-format';
import type { LayerLatents } from '../../cache/latents';
import type { CacheHost } from './cache-host';

/** SVD factors of xquant-gqa in q8, uploaded once per backend (its host). */
export interface GpuLatents {
  downK: GpuMatrix;
  upK: GpuMatrix;
  downV: GpuMatrix;
  upV: GpuMatrix;
}
const latentMemo = new WeakMap<CacheHost, GpuLatents[]>();

export function gpuLatents(host: CacheHost): GpuLatents[] {
  let l = latentMemo.get(host);
  if (!l) {
    const kv = kvDim(host.spec);
    const d = host.spec.hiddenSize;
    // q8, as the reference rounds them (src/cache/latents.ts storedLatents: packing the same values the same way).
    const up = (w: Float32Array, rows: number, cols: number, label: string) =>
      uploadMatrix(host.memory, label, packMatrix(w, rows, cols, 'q8'), host.maxBindingBytes);
    const factors: LayerLatents[] = host.latents;
    l = factors.map((x, i) => ({
      downK: up(x.k.down, kv, d, `svd.l${i}.down_k`),
      upK: up(x.k.up, kv, kv, `svd.l${i}.up_k`),
      downV: up(x.v.down, kv, d, `svd.l${i}.down_v`),
      upV: up(x.v.up, kv, kv, `svd.l${i}.up_v`),
    }));
    latentMemo.set(host, l);
  }
  return l;
}
