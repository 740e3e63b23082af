// One factory for every reference cache mode.

import { checkModeFits, type CacheConfig } from '../../cache/cache-config';
import { F32Cache } from './f32-cache';
import { Fp16Cache } from './fp16-cache';
import { KiviCache } from './kivi-cache';
import type { CacheModel, ReferenceCache } from './reference-cache';
import { XQuantCache } from './xquant-cache';
import { XQuantClCache } from './xquant-cl-cache';
import { XQuantGqaCache } from './xquant-gqa-cache';

export function createReferenceCache(model: CacheModel, config: CacheConfig): ReferenceCache {
  checkModeFits(model.spec, config);
  switch (config.mode) {
    case 'f32':
      return new F32Cache(model, config);
    case 'fp16':
      return new Fp16Cache(model, config);
    case 'kivi':
      return new KiviCache(model, config);
    case 'xquant':
      return new XQuantCache(model, config);
    case 'xquant-cl':
      return new XQuantClCache(model, config);
    case 'xquant-gqa':
      return new XQuantGqaCache(model, config);
  }
}
