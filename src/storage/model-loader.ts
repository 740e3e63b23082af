// Load a model for the engine as a stream: the text files first (spec, tokenizer), then the weights
// tensor by tensor while the engine uploads them. Each tensor comes from the weight cache when a verified
// copy is there (a complete entry, or the tensors an interrupted load stored), otherwise from the source
// by byte range, packed, and stored on its way to the GPU. A storage failure does not fail the load: the
// model runs and the report says why it was not stored (a StorageQuotaError with the bytes needed).

import { EngineError, NetworkError, throwIfAborted } from '../errors';
import type { PreparedModel } from '../engine/prepared-model';
import { isSingleFileModel, modelTensors, openCheckpoint, type Checkpoint, type ModelTensor } from '../model/checkpoint';
import { parseModelTexts, readModelTexts, type ModelTexts } from '../model/load-model';
import type { ModelFileSource } from '../model/file-source';
import type { ResolvedModel } from '../model/model-ref';
import { checkpointStream } from '../quant/pack-checkpoint';
import { matrixFormatFor, packedBytes, type WeightFormat } from '../quant/weight-format';
import type { WeightBlock, WeightSink, WeightStream } from '../quant/weight-stream';
import type { CacheKey, CacheLookup, CacheManifest, CacheWriter, WeightCache } from './weight-cache';

/** download and cache carry bytes; packing and storing run inside them, tensor by tensor (see LoadTimings). */
export type LoadPhase = 'download' | 'cache' | 'upload' | 'compile';

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

/** Seconds per part of a load (the parts interleave, tensor by tensor). */
export interface LoadTimings {
  /** Reading bytes from the source (network or disk) and widening them to f32. */
  read: number;
  /** Packing into the weight format. */
  pack: number;
  /** Hashing and writing the weight cache. */
  store: number;
  /** Reading and verifying the weight cache. */
  cacheRead: number;
  /** Creating GPU buffers and writing the weights into them. */
  upload: number;
}

export interface StorageReport {
  /** hit: read from the cache; stored: fetched and stored; not-stored: fetched, storing failed or was off. */
  state: 'hit' | 'stored' | 'not-stored';
  /** What the cache said before the load (miss, partial, corrupt, stale) with its detail. */
  lookup?: 'miss' | 'partial' | 'corrupt' | 'stale';
  detail?: string;
  /** Bytes of the entry. */
  bytes: number;
  /** Bytes taken from an interrupted earlier load instead of the source. */
  reused?: number;
  /** Why storing failed: a StorageQuotaError (with `needed` and `available` bytes) as plain data. */
  error?: Record<string, unknown>;
  /**
   * A stored copy checked against a remote source before use: unchanged (used), changed (fetched again),
   * offline (used unchecked), not-checked (the source has no version to compare).
   */
  source?: { state: 'unchanged' | 'changed' | 'offline' | 'not-checked'; detail?: string };
}

type SourceCheck = NonNullable<StorageReport['source']>;

/** Compare a stored entry with its source: one small request (the probe a load makes first anyway). */
async function checkSource(source: ModelFileSource, manifest: CacheManifest): Promise<SourceCheck> {
  let now: string | null;
  try {
    now = await source.version!();
  } catch (e) {
    if (e instanceof NetworkError) return { state: 'offline', detail: `the source could not be reached (${e.message}); the stored copy is used unchecked` };
    throw e;
  }
  if (now === null) return { state: 'not-checked', detail: 'the source no longer has the weight file; the stored copy is used' };
  // Stored before versions were recorded: refetching gigabytes on a guess would be worse than saying so.
  if (manifest.sourceVersion === undefined) return { state: 'not-checked', detail: "stored without the source's version; delete it to fetch the source again" };
  if (now === manifest.sourceVersion) return { state: 'unchanged' };
  return { state: 'changed', detail: `the source changed (stored ${manifest.sourceVersion}, now ${now})` };
}

export interface ModelLoadRequest {
  resolved: ResolvedModel;
  format: WeightFormat;
  /** null: no weight cache (Node, or the caller turned it off). */
  cache: WeightCache | null;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadingModel {
  model: PreparedModel;
  /** How the weights were found and stored: final once the model's weight stream has run. */
  storage(): StorageReport;
  timings: LoadTimings;
}

/**
 * The weight format a load gets when it names none: a GGUF file runs as its file stores it (a Q4_K_M file's
 * own Q4_K and Q6_K blocks, no second rounding); a folder's f32 / f16 / bf16 weights are packed into q8.
 */
export function defaultWeightFormat(source: ModelFileSource): WeightFormat {
  return isSingleFileModel(source) ? 'native' : 'q8';
}

/** Bytes a model's tensors take in the weight cache (packed matrices, f32 vectors). */
function entryBytes(tensors: ModelTensor[], format: WeightFormat): number {
  return tensors.reduce((a, t) => a + (t.kind === 'matrix' ? packedBytes(matrixFormatFor(format, t.tensor.dtype), t.rows, t.cols) : t.rows * 4), 0);
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

/**
 * How the loader makes a model's texts from its source. Bump when that changes for some source (a GGUF's config.json
 * and tokenizer files are derived from its header: 2 = Phi-3's rstrip tokens): stored copies then read them again.
 */
export const MODEL_TEXTS_VERSION = 2;

export async function loadPreparedModel(r: ModelLoadRequest): Promise<LoadingModel> {
  const { resolved, format, cache, signal, onProgress } = r;
  const key: CacheKey = { id: resolved.id, revision: resolved.revision, format };
  const timings: LoadTimings = { read: 0, pack: 0, store: 0, cacheRead: 0, upload: 0 };
  let lookup: CacheLookup | null = cache ? await cache.lookup(key) : null;
  // A stored copy of a remote model is checked against the source first (offline: used as it is).
  const checked: SourceCheck | undefined =
    lookup?.status === 'hit' && resolved.source.version ? await checkSource(resolved.source, lookup.manifest) : undefined;
  if (lookup && checked?.state === 'changed') {
    await cache!.delete(key.id, key.revision, key.format);
    lookup = { status: 'stale', detail: checked.detail!, tensors: new Set() };
  }
  throwIfAborted(signal, 'download');
  let texts: ModelTexts;
  let textsNote: string | undefined;
  if (lookup?.status === 'hit') {
    texts = lookup.manifest.texts;
    if ((lookup.manifest.textsVersion ?? 1) !== MODEL_TEXTS_VERSION) {
      // Stored by an engine that made them otherwise (a GGUF's tokenizer.json is derived): read again, or said.
      try {
        texts = await readModelTexts(resolved.source);
        lookup = { status: 'hit', manifest: await cache!.replaceTexts(lookup.manifest, texts, MODEL_TEXTS_VERSION) };
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        textsNote = `the stored config and tokenizer files are from an older engine and could not be read again from the source (${e.message}); they are used as stored`;
      }
    }
  } else texts = await readModelTexts(resolved.source);
  const { spec, tokenizer } = parseModelTexts(texts, lookup?.status === 'hit' ? `weight cache ${resolved.name}` : resolved.source.name);
  // The source's headers are read before any GPU work, so a bad checkpoint fails here (not on a cache hit).
  let checkpoint: Checkpoint | null = lookup?.status === 'hit' ? null : await openCheckpoint(resolved.source);
  const tensors = checkpoint ? modelTensors(spec, checkpoint) : null;

  let report: StorageReport = cache
    ? { state: 'not-stored', bytes: 0, detail: 'the weights have not been read yet' }
    : { state: 'not-stored', bytes: 0, detail: 'no weight cache' };
  const before = lookup && lookup.status !== 'hit' ? { lookup: lookup.status, detail: lookup.detail } : {};

  const weights: WeightStream = {
    format,
    async run(sink) {
      let reused = 0;
      let cacheBytes = 0;
      const fromCache = async (name: string): Promise<boolean> => {
        throwIfAborted(signal, 'reading the weight cache');
        const t0 = performance.now();
        const ok = await cache!.readTensor(key, name, sink, (n) => {
          cacheBytes += n;
          if (lookup?.status === 'hit') onProgress?.({ phase: 'cache', loaded: cacheBytes, total: lookup.manifest.totalBytes });
        });
        timings.cacheRead += (performance.now() - t0) / 1000;
        return ok;
      };
      if (lookup?.status === 'hit') {
        const missing = new Set<string>();
        for (const name of lookup.manifest.tensors) if (!(await fromCache(name))) missing.add(name);
        if (missing.size === 0) {
          report = { state: 'hit', bytes: lookup.manifest.totalBytes, ...(checked ? { source: checked } : {}), ...(textsNote ? { detail: textsNote } : {}) };
          return;
        }
        // A damaged entry: fetch the damaged tensors and store the entry again.
        checkpoint = await openCheckpoint(resolved.source);
        await fetchAndStore(checkpoint, (k) => !missing.has(k), { lookup: 'corrupt', detail: `damaged tensors fetched again: ${[...missing].join(', ')}` });
        return;
      }
      const stored = lookup?.tensors ?? new Set<string>();
      const have = new Set<string>();
      for (const t of tensors!) {
        if (!stored.has(t.key)) continue;
        const before = cacheBytes;
        if (await fromCache(t.key)) {
          have.add(t.key);
          reused += cacheBytes - before;
        }
      }
      await fetchAndStore(checkpoint!, (k) => have.has(k), before, reused);

      async function fetchAndStore(cp: Checkpoint, skip: (k: string) => boolean, why: Partial<StorageReport>, reusedBytes = 0): Promise<void> {
        const all = modelTensors(spec, cp);
        const expectedBytes = entryBytes(all, format);
        let writer: CacheWriter | null = cache ? cache.writer(key, expectedBytes) : null;
        let failure: EngineError | null = null;
        const tee: WeightSink = {
          async put(b: WeightBlock) {
            await sink.put(b);
            if (!writer) return;
            try {
              await writer.put(b);
            } catch (e) {
              if (!(e instanceof EngineError)) throw e;
              failure = e;
              timings.store += writer.seconds;
              writer = null;
            }
          },
        };
        await checkpointStream(spec, cp, format, { skip, timings, signal }).run(tee);
        if (!cache) return;
        if (writer) {
          timings.store += writer.seconds;
          try {
            // The version of what was just read: its probe is done, so this asks nothing new of the source.
            const sourceVersion = (await resolved.source.version?.().catch(() => null)) ?? undefined;
            await cache.finish(key, {
              name: resolved.name,
              totalBytes: expectedBytes,
              texts,
              tensors: all.map((t) => t.key),
              sourceVersion,
              textsVersion: MODEL_TEXTS_VERSION,
            });
          } catch (e) {
            if (!(e instanceof EngineError)) throw e;
            failure = e;
          }
        }
        report = failure
          ? { state: 'not-stored', bytes: 0, ...why, error: (failure as EngineError).toJSON() }
          : { state: 'stored', bytes: expectedBytes, ...why, ...(reusedBytes ? { reused: reusedBytes } : {}), ...(checked ? { source: checked } : {}) };
      }
    },
  };
  return {
    model: { name: resolved.name, spec, tokenizer, texts, weights, latents: cache ? cache.latents(key, spec.numLayers) : {} },
    storage: () => report,
    timings,
  };
}
