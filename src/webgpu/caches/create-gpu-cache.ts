// The GPU cache for a cache mode (the GPU side of create-cache.ts).

import type { WebGpuBackend } from '../backend';
import { InvalidArgumentError } from '../../errors';
import { checkModeFits, type CacheConfig } from '../../cache/cache-config';
import type { GpuCache } from './gpu-cache';
import { GpuKvCache } from './kv-cache';
import { GpuQuantCache } from './quant-cache';

export function createGpuCache(backend: WebGpuBackend, config: CacheConfig): GpuCache {
  checkModeFits(backend.spec, config);
  if (config.exact) throw new InvalidArgumentError('the exact test hook exists only in the reference caches', { field: 'exact' });
  switch (config.mode) {
    case 'f32':
    case 'fp16':
      return new GpuKvCache(backend.memory, backend.spec, config, backend.gpu.maxStorageBindingBytes);
    default:
      return new GpuQuantCache(backend, config);
  }
}
