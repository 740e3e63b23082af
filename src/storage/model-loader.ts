// Load a model for the engine: from the weight cache when it holds a verified entry, otherwise download
// (with progress, abortable), pack the weights, compute the SVD factors, and store the result for the
// next visit. A storage failure does not fail the load: the model runs and the report says why it was
// not stored (a StorageQuotaError with the bytes needed).

import { EngineError, throwIfAborted } from '../errors';
import { prepareModel, type PreparedModel } from '../engine/prepared-model';
import { loadModel } from '../model/load-model';
import type { ResolvedModel } from '../model/model-ref';
import type { WeightFormat } from '../quant/weight-format';
import type { CacheLookup, WeightCache } from './weight-cache';

export type LoadPhase = 'download' | 'cache' | 'quantize' | 'store' | 'upload' | 'compile';

export interface LoadProgress {
  phase: LoadPhase;
  /** Bytes so far and in total for download and cache (total null while unknown); 0/1 and 1/1 for the other phases. */
  loaded: number;
  total: number | null;
  /** Download: the file in flight and its own progress. */
  file?: string;
  fileLoaded?: number;
  fileTotal?: number | null;
}

export interface StorageReport {
  /** hit: read from the cache; stored: fetched and stored; not-stored: fetched, storing failed or was off. */
  state: 'hit' | 'stored' | 'not-stored';
  /** What the cache said before the download (miss, corrupt, stale) with its detail. */
  lookup?: Exclude<CacheLookup['status'], 'hit'>;
  detail?: string;
  bytes: number;
  /** Why storing failed: a StorageQuotaError (with `needed` and `available` bytes) as plain data. */
  error?: Record<string, unknown>;
}

export interface ModelLoadRequest {
  resolved: ResolvedModel;
  format: WeightFormat;
  /** null: no weight cache (Node, or the caller turned it off). */
  cache: WeightCache | null;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

/** Aggregates per-file byte counts into one download progress. */
export function downloadTracker(onProgress?: (p: LoadProgress) => void): (file: string, loaded: number, total: number | null) => void {
  const files = new Map<string, { loaded: number; total: number | null }>();
  return (file, loaded, total) => {
    files.set(file, { loaded, total });
    let sum = 0;
    let sumTotal: number | null = 0;
    for (const f of files.values()) {
      sum += f.loaded;
      sumTotal = sumTotal === null || f.total === null ? null : sumTotal + f.total;
    }
    onProgress?.({ phase: 'download', loaded: sum, total: sumTotal, file, fileLoaded: loaded, fileTotal: total });
  };
}

export async function loadPreparedModel(r: ModelLoadRequest): Promise<{ model: PreparedModel; storage: StorageReport }> {
  const { resolved, format, cache, signal, onProgress } = r;
  const key = { id: resolved.id, revision: resolved.revision, format };
  let lookup: CacheLookup | null = null;
  if (cache) {
    lookup = await cache.load(key, (loaded, total) => onProgress?.({ phase: 'cache', loaded, total }));
    if (lookup.status === 'hit') return { model: { ...lookup.model, name: resolved.name }, storage: { state: 'hit', bytes: lookup.bytes } };
  }
  throwIfAborted(signal, 'download');
  const loaded = await loadModel(resolved.source);
  throwIfAborted(signal, 'download');
  onProgress?.({ phase: 'quantize', loaded: 0, total: 1 });
  const model = { ...prepareModel(loaded, format), name: resolved.name };
  onProgress?.({ phase: 'quantize', loaded: 1, total: 1 });
  const before = lookup ? { lookup: lookup.status, detail: lookup.detail } : {};
  if (!cache) return { model, storage: { state: 'not-stored', bytes: 0, detail: 'no weight cache' } };
  onProgress?.({ phase: 'store', loaded: 0, total: 1 });
  try {
    const bytes = await cache.save(key, model);
    onProgress?.({ phase: 'store', loaded: 1, total: 1 });
    return { model, storage: { state: 'stored', bytes, ...before } };
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    return { model, storage: { state: 'not-stored', bytes: 0, ...before, error: e.toJSON() } };
  }
}
