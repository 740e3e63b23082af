// The GPU cache for a cache mode (the GPU side of src/reference/caches/create-cache.ts).

import { checkModeFits, MODE_TRAITS, type CacheConfig } from '../../cache/cache-config';
import { InvalidArgumentError } from '../../errors';
import type { CacheHost } from './cache-host';
import type { GpuCache } from './gpu-cache';
import { GpuKvCache } from './kv-cache';
import { GpuQuantCache } from './quant-cache';

export function createGpuCache(host: CacheHost, config: CacheConfig): GpuCache {
  checkModeFits(host.spec, config);
  if (config.exact) throw new InvalidArgumentError('the exact test hook exists only in the reference caches', { field: 'exact' });
  return MODE_TRAITS[config.mode].quantized
    ? new GpuQuantCache(host, config)
    : new GpuKvCache(host.memory, host.spec, config, host.maxBindingBytes, host.maxBatch);
}
