import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { latentBasesComputed } from '../cache/latents';
import { AbortedError, NetworkError } from '../errors';
import type { ModelFileSource } from '../model/file-source';
import { NodeFolderSource } from '../model/node-file-source';
import { packModelWeights, type PackedWeights } from '../quant/packed-weights';
import type { WeightFormat } from '../quant/weight-format';
import { collectPacked } from '../quant/weight-stream';
import { sharedModel, sharedPath } from '../test-support/shared-models';
import { hfToGguf, kQuantMix } from '../test-support/gguf-writer';
import { MemoryFileSource } from '../model/file-source';
import { GgufModelSource } from '../model/gguf-model';
import { MemoryChunkStore } from './chunk-store';
import { loadPreparedModel, MODEL_TEXTS_VERSION } from './model-loader';
import { sha256 } from './sha256';
import { CACHE_FORMAT_VERSION, WeightCache } from './weight-cache';

describe('sha256', () => {
  it('matches node:crypto on lengths around the padding boundaries', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 70_001]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255);
      expect(Buffer.from(sha256(bytes)).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});

/** stories260K's folder, counting reads; `failAfter` ranges, it throws (a cut connection). */
class CountingSource implements ModelFileSource {
  readonly inner = new NodeFolderSource(sharedPath('models/stories260K'));
  readonly name = this.inner.name;
  readonly ranges: [string, number, number][] = [];
  readonly reads: string[] = [];
  constructor(private failAfter = Infinity) {}
  has = (f: string) => this.inner.has(f);
  size = (f: string) => this.inner.size(f);
  read = (f: string) => (this.reads.push(f), this.inner.read(f));
  readRange = async (f: string, b: number, e: number) => {
    if (this.ranges.length >= this.failAfter) throw new AbortedError('download of model.safetensors');
    this.ranges.push([f, b, e]);
    return this.inner.readRange(f, b, e);
  };
  /** Bytes of model.safetensors read past its header. */
  tensorBytes(): number {
    return this.ranges.filter(([, b]) => b > 0).reduce((a, [, b, e]) => a + e - b, 0);
  }
}

/** A remote source: it says which version of the weights it serves (or throws, offline). */
class VersionedSource extends CountingSource {
  constructor(public current: string | null | Error) {
    super();
  }
  version = async () => {
    if (this.current instanceof Error) throw this.current;
    return this.current;
  };
}

const resolved = (source: ModelFileSource) => ({ id: 'test:stories', revision: 'r1', name: 'stories260K', source });

/** Run a load's weight stream to the end and collect what it produced. */
async function load(cache: WeightCache | null, source: ModelFileSource, format: WeightFormat = 'q4') {
  const r = await loadPreparedModel({ resolved: resolved(source), format, cache });
  const packed = await collectPacked(r.model.weights, r.model.spec.numLayers);
  return { ...r, packed, storage: r.storage() };
}

function expectSamePacked(a: PackedWeights, b: PackedWeights): void {
  expect(b.format).toBe(a.format);
  expect(b.embed.data).toEqual(a.embed.data);
  expect(b.embed.scales).toEqual(a.embed.scales);
  expect(b.lmHead === b.embed).toBe(a.lmHead === a.embed);
  a.layers.forEach((l, i) => {
    for (const k of ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const) {
      expect(b.layers[i][k].data).toEqual(l[k].data);
      expect(b.layers[i][k].scales).toEqual(l[k].scales);
    }
    expect(b.layers[i].attnNorm).toEqual(l.attnNorm);
    expect(b.layers[i].bq).toEqual(l.bq);
  });
  expect(b.finalNorm).toEqual(a.finalNorm);
}

describe('streaming load through the weight cache', () => {
  it('packs exactly what packing the f32 model in memory gives, and computes no SVD factors', async () => {
    const m = await sharedModel('stories260K');
    for (const format of ['f32', 'f16', 'q8', 'q4'] as const) {
      const before = latentBasesComputed();
      const r = await load(null, new CountingSource(), format);
      expectSamePacked(packModelWeights(m.spec, m.weights, format), r.packed);
      expect(latentBasesComputed()).toBe(before);
      expect(r.storage).toEqual({ state: 'not-stored', bytes: 0, detail: 'no weight cache' });
    }
  });

  it('stores on the first load; the second reads nothing from the source; a damaged block refetches only its tensor', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store);
    const first = await load(cache, new CountingSource());
    expect(first.storage).toMatchObject({ state: 'stored', lookup: 'miss' });
    expect(first.storage.bytes).toBeGreaterThan(0);

    const source = new CountingSource();
    const second = await load(cache, source);
    expect(second.storage).toEqual({ state: 'hit', bytes: first.storage.bytes });
    expect([source.reads, source.ranges]).toEqual([[], []]);
    expectSamePacked(first.packed, second.packed);
    expect(second.model.tokenizer.encode('Once upon a time')).toEqual(first.model.tokenizer.encode('Once upon a time'));
    expect(await cache.list()).toEqual([
      expect.objectContaining({ id: 'test:stories', revision: 'r1', format: 'q4', bytes: first.storage.bytes, version: CACHE_FORMAT_VERSION }),
    ]);

    const blockKey = (await store.keys()).find((k) => k.endsWith('/t/l2.wUp/0'))!;
    const damaged = new Uint8Array((store.values.get(blockKey) as ArrayBuffer).slice(0));
    damaged[10] ^= 1;
    store.values.set(blockKey, damaged.buffer);
    const again = new CountingSource();
    const third = await load(cache, again);
    expect(third.storage).toMatchObject({ state: 'stored', lookup: 'corrupt', detail: 'damaged tensors fetched again: l2.wUp' });
    expectSamePacked(first.packed, third.packed);
    const wUp = (await openTensors()).get('model.layers.2.mlp.up_proj.weight')!;
    expect(again.tensorBytes()).toBe(wUp.end - wUp.begin);
    expect((await load(cache, new CountingSource())).storage.state).toBe('hit');
  });

  it('a stored copy of a remote model is checked against its source: unchanged is used, changed is fetched again, offline is used unchecked', async () => {
    const cache = new WeightCache(new MemoryChunkStore());
    const first = await load(cache, new VersionedSource('etag=A'));
    expect(first.storage).toMatchObject({ state: 'stored', lookup: 'miss' });

    const same = new VersionedSource('etag=A');
    expect((await load(cache, same)).storage).toEqual({ state: 'hit', bytes: first.storage.bytes, source: { state: 'unchanged' } });
    expect(same.ranges).toEqual([]);

    // The files behind the URL were replaced: the entry is dropped and every tensor fetched again (it used to be served stale).
    const changed = new VersionedSource('etag=B');
    const third = await load(cache, changed);
    expect(third.storage).toMatchObject({
      state: 'stored',
      lookup: 'stale',
      detail: 'the source changed (stored etag=A, now etag=B)',
      source: { state: 'changed' },
    });
    expect(changed.tensorBytes()).toBeGreaterThan(0);
    expect(await cache.list()).toHaveLength(1);
    expect((await load(cache, new VersionedSource('etag=B'))).storage).toMatchObject({ state: 'hit', source: { state: 'unchanged' } });

    const offline = new VersionedSource(new NetworkError('request failed (fetch failed)', { file: 'x/model.safetensors' }));
    expect((await load(cache, offline)).storage).toMatchObject({ state: 'hit', source: { state: 'offline' } });
    expect(offline.ranges).toEqual([]);
    expect((await load(cache, new VersionedSource(null))).storage).toMatchObject({ state: 'hit', source: { state: 'not-checked' } });

    // An entry stored before versions were recorded is used and said to be unchecked, not refetched whole.
    const older = new WeightCache(new MemoryChunkStore());
    await load(older, new CountingSource());
    const unversioned = new VersionedSource('etag=A');
    expect((await load(older, unversioned)).storage).toMatchObject({
      state: 'hit',
      source: { state: 'not-checked', detail: "stored without the source's version; delete it to fetch the source again" },
    });
    expect(unversioned.ranges).toEqual([]);
  });

  it('an interrupted first load resumes: the second load reads only the tensors the first did not store', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store);
    const cut = new CountingSource(12); // header + 11 tensors, then the connection fails
    await expect(load(cache, cut)).rejects.toBeInstanceOf(AbortedError);
    const doneBefore = cut.ranges.filter(([, b]) => b > 0);
    expect(doneBefore.length).toBe(11);
    const lookup = await cache.lookup({ id: 'test:stories', revision: 'r1', format: 'q4' });
    expect(lookup).toMatchObject({ status: 'partial' });

    const source = new CountingSource();
    const resumed = await load(cache, source);
    expect(resumed.storage).toMatchObject({ state: 'stored', lookup: 'partial', reused: expect.any(Number) });
    // Not one byte range of the first 11 tensors is requested again.
    for (const [, b, e] of source.ranges.filter(([, b]) => b > 0)) for (const [, b0, e0] of doneBefore) expect(e <= b0 || b >= e0).toBe(true);
    expect(source.tensorBytes() + doneBefore.reduce((a, [, b, e]) => a + e - b, 0)).toBe((await openTensors()).total);
    expectSamePacked((await load(null, new CountingSource())).packed, resumed.packed);
    expect((await load(cache, new CountingSource())).storage.state).toBe('hit');
  });

  it('still loads when storing fails, says why, and leaves nothing behind', async () => {
    const store = new MemoryChunkStore(20_000);
    const r = await load(new WeightCache(store), new CountingSource(), 'q8');
    expect(r.storage.state).toBe('not-stored');
    expect(r.storage.error).toMatchObject({ code: 'STORAGE_QUOTA', name: 'StorageQuotaError', needed: expect.any(Number), available: expect.any(Number) });
    expect((r.storage.error as { needed: number }).needed).toBeGreaterThan(20_000);
    expect(await store.keys()).toEqual([]);
    expectSamePacked((await load(null, new CountingSource(), 'q8')).packed, r.packed);
  });

  it("keeps a GGUF file's own block types (weights: 'native'): the second load returns the same bytes from IndexedDB", async () => {
    // austen-3m as a Q4_K_M-style file: Q4_K, Q6_K, Q5_0 and Q8_0 (as q8) matrices.
    const folder = new NodeFolderSource(new URL('../../public/models/austen-3m', import.meta.url).pathname);
    const bytes = await hfToGguf(folder, { encoding: 'Q4_K', perTensor: kQuantMix('Q4_K', 6) });
    const gguf = () => new GgufModelSource(new MemoryFileSource('written', new Map([['m.gguf', bytes.buffer as ArrayBuffer]])), 'm.gguf');
    const cache = new WeightCache(new MemoryChunkStore());
    const first = await load(cache, gguf(), 'native');
    const second = await load(cache, gguf(), 'native');
    expect(second.storage).toEqual({ state: 'hit', bytes: first.storage.bytes });
    expectSamePacked(first.packed, second.packed);
    const formats = new Set(first.packed.layers.flatMap((l) => [l.wq.format, l.wv.format, l.wDown.format]));
    expect([...formats].sort()).toEqual(['q4_k', 'q5_0', 'q6_k', 'q8']);
  });

  it('texts stored by an older engine (no textsVersion) are read again from the source; unreadable, they are used and said', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store);
    await load(cache, new CountingSource());
    const manifestKey = (await store.keys()).find((k) => k.endsWith('/manifest'))!;
    const stored = JSON.parse(String(store.values.get(manifestKey)));
    expect(stored.textsVersion).toBe(MODEL_TEXTS_VERSION);
    const old = { ...stored, textsVersion: undefined, texts: { ...stored.texts, tokenizerConfig: '{"chat_template": "old"}' } };
    store.values.set(manifestKey, JSON.stringify(old));

    // The source cannot be read: the stored texts are used, and the report says so.
    const offline = new CountingSource();
    offline.read = async (f: string) => {
      throw new NetworkError(`${f}: offline`);
    };
    const used = await load(cache, offline);
    expect(used.storage).toMatchObject({ state: 'hit', detail: expect.stringMatching(/from an older engine and could not be read again.*offline/) });
    expect(used.model.tokenizer.templateSource).toBe('old');

    // Readable: read again (only the texts, no weights), and the manifest now says how they were made.
    const online = new CountingSource();
    const again = await load(cache, online);
    expect(again.storage).toEqual({ state: 'hit', bytes: used.storage.bytes });
    expect(again.model.tokenizer.templateSource).not.toBe('old');
    expect(online.ranges).toEqual([]);
    expect(JSON.parse(String(store.values.get(manifestKey)))).toMatchObject({ textsVersion: MODEL_TEXTS_VERSION, texts: stored.texts });
  });

  it('treats an entry of another cache-format version as stale and removes it', async () => {
    const store = new MemoryChunkStore();
    store.values.set('xq/v1/test%3Astories@r1/q4/manifest', '{}');
    store.values.set('xq/v1/test%3Astories@r1/q4/chunk-0', new ArrayBuffer(8));
    const r = await load(new WeightCache(store), new CountingSource());
    expect(r.storage).toMatchObject({ state: 'stored', lookup: 'stale', detail: `stored by cache format v1, this engine reads v${CACHE_FORMAT_VERSION}` });
    expect((await store.keys()).some((k) => k.startsWith('xq/v1/'))).toBe(false);
  });

  it('stores xquant-gqa factors beside the entry; a damaged one reads as absent; delete frees everything', async () => {
    const store = new MemoryChunkStore();
    const cache = new WeightCache(store);
    const r = await load(cache, new CountingSource());
    const key = { id: 'test:stories', revision: 'r1', format: 'q4' as const };
    const latents = cache.latents(key, r.model.spec.numLayers);
    expect(await latents.load()).toBeNull();
    const made = Array.from({ length: r.model.spec.numLayers }, (_, i) => ({
      k: { down: Float32Array.from([i, 1, 2]), up: Float32Array.from([3]) },
      v: { down: Float32Array.from([4, 5]), up: Float32Array.from([6, i]) },
    }));
    await latents.save(made);
    expect(await latents.load()).toEqual(made);
    const k = (await store.keys()).find((x) => x.endsWith('/t/svd.l1.v.up/0'))!;
    store.values.set(k, new ArrayBuffer(8));
    expect(await latents.load()).toBeNull();
    expect(await cache.delete('test:stories')).toBeGreaterThan(r.storage.bytes - 1);
    expect(await store.keys()).toEqual([]);
  });
});

/** stories260K's tensors with their byte ranges, and the bytes of all the tensors the engine reads. */
async function openTensors() {
  const { openCheckpoint, modelTensors } = await import('../model/checkpoint');
  const m = await sharedModel('stories260K');
  const cp = await openCheckpoint(new NodeFolderSource(sharedPath('models/stories260K')));
  const map = new Map([...cp.tensors].map(([n, t]) => [n, t]));
  const total = modelTensors(m.spec, cp).reduce((a, t) => a + t.tensor.end - t.tensor.begin, 0);
  return Object.assign(map, { total });
}
