// The weight cache: a model's packed weights as they streamed in, one stored value per block of rows
// (at most 16 MiB of f32 source, so IndexedDB values stay small), a record per tensor written after its
// blocks, and a manifest written last. Keys carry the cache-format version, the model id, its revision and
// the weight format.
//
// - A tensor's record is its proof of completeness: an interrupted first load leaves whole tensors
//   behind, and the next load reads those from here and fetches only the rest (resume).
// - Only a manifest makes an entry a hit; every block is checked against its SHA-256 as it is read, and a
//   bad block drops its tensor (the loader fetches that tensor again).
// - xquant-gqa's SVD factors are stored beside the entry when first computed (`latents`).

import { StorageQuotaError } from '../errors';
import type { LayerLatents } from '../cache/latents';
import type { ModelTexts } from '../model/load-model';
import type { WeightFormat } from '../quant/weight-format';
import type { MatrixBlock, WeightBlock, WeightSink } from '../quant/weight-stream';
import { isLastBlock } from '../quant/weight-stream';
import { isQuotaError, type ChunkStore } from './chunk-store';
import { sha256Hex } from './sha256';

/** Bump when the stored layout or packing changes: older entries are then refetched, never misread. */
export const CACHE_FORMAT_VERSION = 2;

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
  texts: ModelTexts;
  /** Every tensor of the model, in the order they are read back. */
  tensors: string[];
  /** The source's version of the weights when they were stored (ModelFileSource.version): a load compares it. */
  sourceVersion?: string;
  /** MODEL_TEXTS_VERSION when `texts` were read (absent: 1): older texts are read from the source again. */
  textsVersion?: number;
}

interface StoredBlock {
  row0: number;
  rows: number;
  dataBytes: number;
  scaleBytes: number;
  sha256: string;
}

interface TensorRecord {
  kind: 'matrix' | 'vector';
  shape?: MatrixBlock['shape'];
  blocks: StoredBlock[];
}

export type CacheLookup =
  | { status: 'hit'; manifest: CacheManifest }
  /** miss: nothing stored; partial: some tensors stored by an interrupted load; stale: another cache-format version (deleted). */
  | { status: 'miss' | 'partial' | 'stale'; detail: string; tensors: Set<string> };

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

const tensorKey = (prefix: string, name: string) => `${prefix}t/${name}`;

export class WeightCache {
  constructor(readonly store: ChunkStore) {}

  /** What the cache holds for `key`: a complete entry, the tensors of an interrupted one, or nothing. */
  async lookup(key: CacheKey): Promise<CacheLookup> {
    const prefix = entryPrefix(key);
    const raw = await this.store.get(`${prefix}manifest`);
    if (raw !== undefined) {
      try {
        const manifest = JSON.parse(String(raw)) as CacheManifest;
        if (manifest.version === CACHE_FORMAT_VERSION && Array.isArray(manifest.tensors)) return { status: 'hit', manifest };
      } catch {
        // fall through: a damaged manifest is dropped, the tensors it listed may still be reused
      }
      await this.store.delete(`${prefix}manifest`);
    }
    const keys = await this.store.keys();
    const tensors = new Set<string>();
    for (const k of keys) if (k.startsWith(`${prefix}t/`) && !k.slice(prefix.length + 2).includes('/')) tensors.add(k.slice(prefix.length + 2));
    if (tensors.size) return { status: 'partial', detail: `${tensors.size} tensors stored by an earlier, interrupted load`, tensors };
    const old = (await this.list(true)).filter(
      (e) => e.version !== CACHE_FORMAT_VERSION && e.id === key.id && e.revision === key.revision && e.format === key.format,
    );
    for (const e of old) await this.deleteEntry(e, e.version);
    return old.length
      ? { status: 'stale', detail: `stored by cache format v${old[0].version}, this engine reads v${CACHE_FORMAT_VERSION}`, tensors }
      : { status: 'miss', detail: 'not in the cache', tensors };
  }

  /**
   * Push a stored tensor's blocks to `sink`, each checked against its SHA-256. false when the tensor is
   * missing or damaged: its record and blocks are deleted (blocks already pushed are overwritten by the
   * caller's refetch). `progress` gets the bytes read.
   */
  async readTensor(key: CacheKey, name: string, sink: WeightSink, progress?: (bytes: number) => void): Promise<boolean> {
    const prefix = entryPrefix(key);
    const raw = await this.store.get(tensorKey(prefix, name));
    let record: TensorRecord;
    try {
      record = JSON.parse(String(raw)) as TensorRecord;
      if (raw === undefined || !Array.isArray(record.blocks)) throw new Error('no record');
    } catch {
      await this.deleteTensor(prefix, name);
      return false;
    }
    for (const [i, b] of record.blocks.entries()) {
      const v = await this.store.get(`${tensorKey(prefix, name)}/${i}`);
      if (!(v instanceof ArrayBuffer) || v.byteLength !== b.dataBytes + b.scaleBytes || (await sha256Hex(new Uint8Array(v))) !== b.sha256) {
        await this.deleteTensor(prefix, name);
        return false;
      }
      progress?.(v.byteLength);
      if (record.kind === 'vector') {
        await sink.put({ kind: 'vector', key: name, data: new Float32Array(v) });
      } else {
        const data = new Uint32Array(v, 0, b.dataBytes / 4);
        const scales = b.scaleBytes ? new Uint32Array(v, b.dataBytes, b.scaleBytes / 4) : null;
        await sink.put({ kind: 'matrix', key: name, shape: record.shape!, row0: b.row0, rows: b.rows, data, scales });
      }
    }
    return true;
  }

  /** A sink that stores blocks as they pass; `expectedBytes` is what a quota error reports as needed. */
  writer(key: CacheKey, expectedBytes: number): CacheWriter {
    return new CacheWriter(this.store, entryPrefix(key), expectedBytes, () => this.deleteEntry(key));
  }

  /** Make an entry complete: written after all its tensors. */
  async finish(key: CacheKey, m: Omit<CacheManifest, keyof CacheKey | 'version' | 'createdAt'>): Promise<void> {
    const manifest: CacheManifest = { ...key, version: CACHE_FORMAT_VERSION, createdAt: new Date().toISOString(), ...m };
    try {
      await this.store.set(`${entryPrefix(key)}manifest`, JSON.stringify(manifest));
    } catch (e) {
      await this.deleteEntry(key);
      if (isQuotaError(e)) throw new StorageQuotaError(m.totalBytes, await this.store.available());
      throw e;
    }
  }

  /** The entry's texts read again from the source (`textsVersion` says how they were made); returns the new manifest. */
  async replaceTexts(manifest: CacheManifest, texts: ModelTexts, textsVersion: number): Promise<CacheManifest> {
    const next: CacheManifest = { ...manifest, texts, textsVersion };
    await this.store.set(`${entryPrefix(manifest)}manifest`, JSON.stringify(next));
    return next;
  }

  /** xquant-gqa's factors for an entry: read (null when not stored or damaged) and store. */
  latents(key: CacheKey, layers: number): { load(): Promise<LayerLatents[] | null>; save(l: LayerLatents[]): Promise<void> } {
    const names = (i: number) => (['k', 'v'] as const).flatMap((kv) => [`svd.l${i}.${kv}.down`, `svd.l${i}.${kv}.up`]);
    return {
      load: async () => {
        const got = new Map<string, Float32Array>();
        const sink: WeightSink = { put: (b) => void (b.kind === 'vector' && got.set(b.key, b.data)) };
        for (let i = 0; i < layers; i++) for (const n of names(i)) if (!(await this.readTensor(key, n, sink))) return null;
        return Array.from({ length: layers }, (_, i) => ({
          k: { down: got.get(`svd.l${i}.k.down`)!, up: got.get(`svd.l${i}.k.up`)! },
          v: { down: got.get(`svd.l${i}.v.down`)!, up: got.get(`svd.l${i}.v.up`)! },
        }));
      },
      save: async (latents) => {
        const w = new CacheWriter(this.store, entryPrefix(key), 0, async () => {});
        try {
          for (const [i, l] of latents.entries()) {
            for (const kv of ['k', 'v'] as const) {
              await w.put({ kind: 'vector', key: `svd.l${i}.${kv}.down`, data: l[kv].down as Float32Array<ArrayBuffer> });
              await w.put({ kind: 'vector', key: `svd.l${i}.${kv}.up`, data: l[kv].up as Float32Array<ArrayBuffer> });
            }
          }
        } catch {
          // the factors are recomputed next time: a full store must not fail the request
        }
      },
    };
  }

  /** Every complete entry (`all` includes other cache-format versions). */
  async list(all = false): Promise<CachedModelInfo[]> {
    const out: CachedModelInfo[] = [];
    for (const k of await this.store.keys()) {
      const parsed = parseManifestKey(k);
      if (!parsed || (!all && parsed.version !== CACHE_FORMAT_VERSION)) continue;
      let m: Partial<CacheManifest> = {};
      try {
        m = JSON.parse(String(await this.store.get(k))) as CacheManifest;
      } catch {
        // listed with what the key says; lookup() will drop it
      }
      out.push({ ...parsed, name: m.name ?? parsed.id, bytes: m.totalBytes ?? 0, createdAt: m.createdAt ?? '' });
    }
    return out;
  }

  /** Delete everything stored for model `id` (optionally one revision / format), interrupted loads included; returns the bytes freed. */
  async delete(id: string, revision?: string, format?: WeightFormat): Promise<number> {
    let freed = 0;
    const idPart = `${encodeURIComponent(id)}@`;
    for (const k of await this.store.keys()) {
      const m = /^xq\/v\d+\/([^/]*)\/([a-z0-9]+)\//.exec(k);
      if (!m?.[1].startsWith(idPart)) continue;
      if (revision !== undefined && m[1] !== idPart + encodeURIComponent(revision)) continue;
      if (format !== undefined && m[2] !== format) continue;
      const v = await this.store.get(k);
      if (v instanceof ArrayBuffer) freed += v.byteLength;
      await this.store.delete(k);
    }
    return freed;
  }

  /** Remove an entry's manifest first (so it is never half-read), then every value under its prefix. */
  private async deleteEntry(key: CacheKey, version = CACHE_FORMAT_VERSION): Promise<void> {
    const prefix = entryPrefix(key, version);
    await this.store.delete(`${prefix}manifest`);
    for (const k of await this.store.keys()) if (k.startsWith(prefix)) await this.store.delete(k);
  }

  private async deleteTensor(prefix: string, name: string): Promise<void> {
    const t = tensorKey(prefix, name);
    await this.store.delete(t);
    for (const k of await this.store.keys()) if (k.startsWith(`${t}/`)) await this.store.delete(k);
  }
}

/** Stores the blocks of each tensor, then its record. A quota refusal deletes the entry and throws StorageQuotaError. */
export class CacheWriter implements WeightSink {
  private readonly pending = new Map<string, StoredBlock[]>();
  bytes = 0;
  /** Seconds spent hashing and storing. */
  seconds = 0;

  constructor(
    private readonly store: ChunkStore,
    private readonly prefix: string,
    private readonly expectedBytes: number,
    private readonly dropEntry: () => Promise<void>,
  ) {}

  async put(b: WeightBlock): Promise<void> {
    const t0 = performance.now();
    const name = tensorKey(this.prefix, b.key);
    const blocks = this.pending.get(b.key) ?? [];
    this.pending.set(b.key, blocks);
    const scales = b.kind === 'matrix' ? b.scales : null;
    const value = new Uint8Array(b.data.byteLength + (scales?.byteLength ?? 0));
    value.set(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength));
    if (scales) value.set(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength), b.data.byteLength);
    const stored: StoredBlock = {
      row0: b.kind === 'matrix' ? b.row0 : 0,
      rows: b.kind === 'matrix' ? b.rows : b.data.length,
      dataBytes: b.data.byteLength,
      scaleBytes: scales?.byteLength ?? 0,
      sha256: await sha256Hex(value),
    };
    try {
      if (blocks.length === 0) await this.store.delete(name); // a tensor stored again: its old record is void first
      await this.store.set(`${name}/${blocks.length}`, value.buffer);
      blocks.push(stored);
      if (b.kind === 'vector' || isLastBlock(b)) {
        const record: TensorRecord = { kind: b.kind, shape: b.kind === 'matrix' ? b.shape : undefined, blocks };
        await this.store.set(name, JSON.stringify(record));
        this.pending.delete(b.key);
      }
    } catch (e) {
      if (!isQuotaError(e)) throw e;
      await this.dropEntry();
      throw new StorageQuotaError(this.expectedBytes, await this.store.available());
    }
    this.bytes += value.byteLength;
    this.seconds += (performance.now() - t0) / 1000;
  }
}
