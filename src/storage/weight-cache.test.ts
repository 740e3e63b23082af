import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StorageQuotaError } from '../errors';
import { prepareModel, type PreparedModel } from '../engine/prepared-model';
import type { ModelFileSource } from '../model/file-source';
import { NodeFolderSource } from '../model/node-file-source';
import { sharedModel, sharedPath } from '../test-support/shared-models';
import { MemoryChunkStore } from './chunk-store';
import { archiveModel, unarchiveModel } from './model-archive';
import { loadPreparedModel } from './model-loader';
import { sha256 } from './sha256';
import { CACHE_FORMAT_VERSION, WeightCache } from './weight-cache';

const KEY = { id: 'hub:https://huggingface.co/test/stories260K', revision: 'main', format: 'q8' as const };
const CHUNK = 64 * 1024; // small chunks so tensors straddle chunk boundaries

async function prepared(format: 'q8' | 'q4' | 'f32' = 'q8'): Promise<PreparedModel> {
  return prepareModel(await sharedModel('stories260K'), format);
}

function expectSameModel(a: PreparedModel, b: PreparedModel): void {
  expect(b.spec).toEqual(a.spec);
  expect(b.texts).toEqual(a.texts);
  expect(b.packed.embed.data).toEqual(a.packed.embed.data);
  expect(b.packed.lmHead === b.packed.embed).toBe(a.packed.lmHead === a.packed.embed);
  a.packed.layers.forEach((l, i) => {
    const m = b.packed.layers[i];
    for (const k of ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const) {
      expect(m[k].data).toEqual(l[k].data);
      expect(m[k].scales).toEqual(l[k].scales);
      expect(m[k].rows).toBe(l[k].rows);
    }
    expect(m.attnNorm).toEqual(l.attnNorm);
    expect(m.bq).toEqual(l.bq);
  });
  expect(b.latents).not.toBeNull();
  expect(b.latents![1].v.up).toEqual(a.latents![1].v.up);
  expect(b.tokenizer.encode('Once upon a time')).toEqual(a.tokenizer.encode('Once upon a time'));
}

describe('sha256', () => {
  it('matches node:crypto on lengths around the padding boundaries', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 70_001]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255);
      expect(Buffer.from(sha256(bytes)).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});

describe('model archive', () => {
  it('round-trips a prepared GQA model (q8 weights, SVD factors, tokenizer) through chunks', async () => {
    const m = await prepared();
    const a = archiveModel(m, CHUNK);
    expect(a.chunks.length).toBe(Math.ceil(a.totalBytes / CHUNK));
    expect(a.chunks.every((c, i) => c.byteLength === (i < a.chunks.length - 1 ? CHUNK : a.totalBytes - i * CHUNK))).toBe(true);
    expectSameModel(m, unarchiveModel(a, 'test'));
  });
});

describe('weight cache', () => {
  it('stores, verifies and reloads an entry; lists and deletes it', async () => {
    const m = await prepared();
    const cache = new WeightCache(new MemoryChunkStore(), CHUNK);
    expect((await cache.load(KEY)).status).toBe('miss');
    const bytes = await cache.save(KEY, m);
    const hit = await cache.load(KEY);
    expect(hit.status).toBe('hit');
    if (hit.status === 'hit') expectSameModel(m, hit.model);
    const listed = await cache.list();
    expect(listed).toEqual([expect.objectContaining({ ...KEY, bytes, version: CACHE_FORMAT_VERSION })]);
    expect(await cache.delete(KEY.id)).toBe(bytes);
    expect(await cache.store.keys()).toEqual([]);
  });

  it('finds a corrupted or missing chunk, deletes the entry and reports it', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store, CHUNK);
    await cache.save(KEY, await prepared());
    const chunkKey = (await store.keys()).find((k) => k.endsWith('chunk-3'))!;
    const damaged = new Uint8Array((store.values.get(chunkKey) as ArrayBuffer).slice(0));
    damaged[100] ^= 1;
    store.values.set(chunkKey, damaged.buffer);
    expect(await cache.load(KEY)).toEqual({ status: 'corrupt', detail: 'chunk 3 fails its SHA-256 check' });
    expect(await store.keys()).toEqual([]);

    await cache.save(KEY, await prepared());
    store.values.delete(chunkKey);
    expect(await cache.load(KEY)).toEqual({ status: 'corrupt', detail: 'chunk 3 is missing' });
    expect((await cache.load(KEY)).status).toBe('miss');
  });

  it('treats an entry of another cache-format version as stale and removes it', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store, CHUNK);
    await cache.save(KEY, await prepared());
    for (const k of await store.keys()) {
      store.values.set(k.replace(`xq/v${CACHE_FORMAT_VERSION}/`, 'xq/v0/'), store.values.get(k)!);
      store.values.delete(k);
    }
    const r = await cache.load(KEY);
    expect(r).toEqual({ status: 'stale', detail: `stored by cache format v0, this engine reads v${CACHE_FORMAT_VERSION}` });
    expect(await store.keys()).toEqual([]);
  });

  it('turns a quota refusal into StorageQuotaError with the bytes needed, and leaves nothing behind', async () => {
    const m = await prepared();
    const total = archiveModel(m, CHUNK).totalBytes;
    const store = new MemoryChunkStore(total / 2);
    const err = await new WeightCache(store, CHUNK).save(KEY, m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as StorageQuotaError).needed).toBe(total);
    expect((err as StorageQuotaError).available).toBe(total / 2);
    expect(await store.keys()).toEqual([]);
  });
});

/** A folder source that counts reads per file. */
function countingSource(): ModelFileSource & { reads: string[] } {
  const inner = new NodeFolderSource(sharedPath('models/stories260K'));
  const reads: string[] = [];
  return {
    name: inner.name,
    reads,
    has: (f) => inner.has(f),
    read: (f) => (reads.push(f), inner.read(f)),
  };
}

describe('loadPreparedModel', () => {
  it('downloads once; the second load reads nothing from the source; a damaged entry is fetched again', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store, CHUNK);
    const load = async () => {
      const source = countingSource();
      const r = await loadPreparedModel({ resolved: { id: 'test:stories', revision: 'r1', name: 'stories260K', source }, format: 'q4', cache });
      return { ...r, reads: source.reads };
    };
    const first = await load();
    expect(first.storage.state).toBe('stored');
    expect(first.reads).toContain('model.safetensors');
    const second = await load();
    expect(second.storage).toEqual({ state: 'hit', bytes: first.storage.bytes });
    expect(second.reads).toEqual([]);
    expectSameModel(first.model, second.model);

    const chunkKey = (await store.keys()).find((k) => k.endsWith('chunk-0'))!;
    store.values.set(chunkKey, new ArrayBuffer(8));
    const third = await load();
    expect(third.storage).toMatchObject({ state: 'stored', lookup: 'corrupt' });
    expect(third.reads).toContain('model.safetensors');
  });

  it('still loads when storing fails, and says why', async () => {
    const cache = new WeightCache(new MemoryChunkStore(1000), CHUNK);
    const r = await loadPreparedModel({ resolved: { id: 'test:stories', revision: 'r1', name: 'stories260K', source: countingSource() }, format: 'q8', cache });
    expect(r.storage.state).toBe('not-stored');
    expect(r.storage.error).toMatchObject({ code: 'STORAGE_QUOTA', name: 'StorageQuotaError', needed: expect.any(Number), available: expect.any(Number) });
    expect(r.model.spec.numLayers).toBe(5);
  });
});
