// The weight cache: a prepared model (packed weights, SVD factors, tokenizer files) stored as chunks of at
// most 64 MiB with a manifest of their sizes and SHA-256. Keys carry the cache-format version, the model
// id, its revision and the weight format. Chunks are written before the manifest, so a half-written entry
// has no manifest and is never read; every chunk is verified on load, and a damaged or outdated entry is
// deleted and reported so the caller fetches the model again.

import { StorageQuotaError } from '../errors';
import type { PreparedModel } from '../engine/prepared-model';
import type { WeightFormat } from '../quant/weight-format';
import { isQuotaError, type ChunkStore } from './chunk-store';
import { archiveModel, DEFAULT_CHUNK_BYTES, unarchiveModel, type ArchiveEntry, type ArchiveMeta } from './model-archive';
import { sha256Hex } from './sha256';

/** Bump when the archive layout or packing changes: older entries are then refetched, never misread. */
export const CACHE_FORMAT_VERSION = 1;

export interface CacheKey {
  id: string;
  revision: string;
  format: WeightFormat;
}

export interface CacheManifest extends CacheKey {
  version: number;
  name: string;
  createdAt: string;
  totalBytes: number;
  chunks: { key: string; bytes: number; sha256: string }[];
  entries: ArchiveEntry[];
  meta: ArchiveMeta;
}

export type CacheLookup =
  | { status: 'hit'; model: PreparedModel; bytes: number }
  /** miss: never stored; corrupt: a chunk was missing or altered; stale: stored by another cache-format version. */
  | { status: 'miss' | 'corrupt' | 'stale'; detail: string };

export interface CachedModelInfo extends CacheKey {
  name: string;
  bytes: number;
  createdAt: string;
  version: number;
}

const PREFIX = 'xq';

function entryPrefix(k: CacheKey, version = CACHE_FORMAT_VERSION): string {
  return `${PREFIX}/v${version}/${encodeURIComponent(k.id)}@${encodeURIComponent(k.revision)}/${k.format}/`;
}

/** Parse `xq/v{N}/{id}@{rev}/{format}/manifest`. */
function parseManifestKey(key: string): (CacheKey & { version: number }) | null {
  const m = /^xq\/v(\d+)\/([^@/]*)@([^/]*)\/([a-z0-9]+)\/manifest$/.exec(key);
  return m ? { version: Number(m[1]), id: decodeURIComponent(m[2]), revision: decodeURIComponent(m[3]), format: m[4] as WeightFormat } : null;
}

export class WeightCache {
  constructor(
    readonly store: ChunkStore,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  /** Read and verify an entry; `progress` gets bytes read so far and the total. */
  async load(key: CacheKey, progress?: (loaded: number, total: number) => void): Promise<CacheLookup> {
    const manifestKey = entryPrefix(key) + 'manifest';
    const raw = await this.store.get(manifestKey);
    if (raw === undefined) {
      const old = (await this.list(true)).filter((e) => e.version !== CACHE_FORMAT_VERSION && e.id === key.id && e.revision === key.revision && e.format === key.format);
      for (const e of old) await this.deleteEntry(e, e.version);
      return old.length
        ? { status: 'stale', detail: `stored by cache format v${old[0].version}, this engine reads v${CACHE_FORMAT_VERSION}` }
        : { status: 'miss', detail: 'not in the cache' };
    }
    const corrupt = async (detail: string): Promise<CacheLookup> => {
      await this.deleteEntry(key);
      return { status: 'corrupt', detail };
    };
    let manifest: CacheManifest;
    try {
      manifest = JSON.parse(String(raw)) as CacheManifest;
    } catch {
      return corrupt('manifest is not JSON');
    }
    if (manifest.version !== CACHE_FORMAT_VERSION || !Array.isArray(manifest.chunks)) return corrupt('manifest does not match its key');
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    let loaded = 0;
    for (const [i, c] of manifest.chunks.entries()) {
      const v = await this.store.get(c.key);
      if (!(v instanceof ArrayBuffer)) return corrupt(`chunk ${i} is missing`);
      const bytes = new Uint8Array(v);
      if (bytes.byteLength !== c.bytes) return corrupt(`chunk ${i} has ${bytes.byteLength} bytes, the manifest says ${c.bytes}`);
      if ((await sha256Hex(bytes)) !== c.sha256) return corrupt(`chunk ${i} fails its SHA-256 check`);
      chunks.push(bytes);
      loaded += bytes.byteLength;
      progress?.(loaded, manifest.totalBytes);
    }
    try {
      const model = unarchiveModel({ meta: manifest.meta, entries: manifest.entries, totalBytes: manifest.totalBytes, chunks }, `weight cache ${manifestKey}`);
      return { status: 'hit', model, bytes: manifest.totalBytes };
    } catch (e) {
      return corrupt(`entry does not rebuild a model (${(e as Error).message})`);
    }
  }

  /** Store a prepared model; returns the bytes stored. Throws StorageQuotaError (and leaves nothing behind) when the browser refuses. */
  async save(key: CacheKey, model: PreparedModel): Promise<number> {
    await this.deleteEntry(key);
    const a = archiveModel(model, this.chunkBytes);
    const prefix = entryPrefix(key);
    const chunks: CacheManifest['chunks'] = [];
    try {
      for (const [i, c] of a.chunks.entries()) {
        const chunkKey = `${prefix}chunk-${i}`;
        chunks.push({ key: chunkKey, bytes: c.byteLength, sha256: await sha256Hex(c) });
        await this.store.set(chunkKey, c.buffer);
      }
      const manifest: CacheManifest = { ...key, version: CACHE_FORMAT_VERSION, name: model.name, createdAt: new Date().toISOString(), totalBytes: a.totalBytes, chunks, entries: a.entries, meta: a.meta };
      await this.store.set(prefix + 'manifest', JSON.stringify(manifest));
    } catch (e) {
      await this.deleteEntry(key);
      if (isQuotaError(e)) throw new StorageQuotaError(a.totalBytes, await this.store.available());
      throw e;
    }
    return a.totalBytes;
  }

  /** Every stored entry (`all` includes other cache-format versions). */
  async list(all = false): Promise<CachedModelInfo[]> {
    const out: CachedModelInfo[] = [];
    for (const k of await this.store.keys()) {
      const parsed = parseManifestKey(k);
      if (!parsed || (!all && parsed.version !== CACHE_FORMAT_VERSION)) continue;
      let m: Partial<CacheManifest> = {};
      try {
        m = JSON.parse(String(await this.store.get(k))) as CacheManifest;
      } catch {
        // listed with what the key says; load() will find it corrupt
      }
      out.push({ ...parsed, name: m.name ?? parsed.id, bytes: m.totalBytes ?? 0, createdAt: m.createdAt ?? '' });
    }
    return out;
  }

  /** Delete every entry of model `id` (optionally one revision / format); returns the bytes freed. */
  async delete(id: string, revision?: string, format?: WeightFormat): Promise<number> {
    let freed = 0;
    for (const e of await this.list(true)) {
      if (e.id !== id || (revision !== undefined && e.revision !== revision) || (format !== undefined && e.format !== format)) continue;
      freed += e.bytes;
      await this.deleteEntry(e, e.version);
    }
    return freed;
  }

  /** Remove an entry's manifest first (so it is never half-read), then every chunk under its prefix. */
  private async deleteEntry(key: CacheKey, version = CACHE_FORMAT_VERSION): Promise<void> {
    const prefix = entryPrefix(key, version);
    await this.store.delete(prefix + 'manifest');
    for (const k of await this.store.keys()) if (k.startsWith(prefix)) await this.store.delete(k);
  }
}
