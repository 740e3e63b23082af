// Saved conversations through the Engine on the reference backend: a conversation saved, the engine replaced (a page
// reload: a new Engine, the same store), the next turn restored from the store equals the turn without the reload;
// stale and damaged entries are never used and are said.

import { describe, expect, it } from 'vitest';
import { Engine, type GenerationStats } from '../engine/engine';
import { generateRequest } from '../engine/openai';
import { nodeModelSource } from '../model/node-file-source';
import { referenceBackends } from '../reference/engine-backend';
import { sharedPath } from '../test-support/shared-models';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { MemoryChunkStore } from './chunk-store';
import { sha256Hex } from './sha256';
import { CONVERSATION_FORMAT_VERSION, ConversationCache, PENDING_MS } from './conversation-cache';
import { loadPreparedModel } from './model-loader';

/** A browser without Web Locks: the store's exclusive() runs at once, and only the pending records protect a save. */
class UnlockedStore extends MemoryChunkStore {
  exclusive<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

async function engineOn(store: MemoryChunkStore, model = 'stories260K'): Promise<Engine> {
  const dir = sharedPath(`models/${model}`);
  const { model: prepared } = await loadPreparedModel({
    resolved: { id: `file:${dir}`, revision: '', name: model, source: nodeModelSource(dir) },
    format: 'f32',
    cache: null,
  });
  const engine = new Engine(referenceBackends, { savedConversations: store });
  await engine.load(prepared);
  return engine;
}

async function turn(engine: Engine, messages: ChatMessage[], cache: string): Promise<GenerationStats> {
  const it = engine.stream(generateRequest(engine.chatPrompt(messages), { max_tokens: 12, temperature: 0, cache, stop: ['\nuser:'] }));
  let step = await it.next();
  while (!step.done) step = await it.next();
  return step.value;
}

const TURNS = ['Tell me about a cat.', 'What did the cat eat?', 'Where did it sleep?'];

/** Two turns, then a third: returns the messages before the third and the engine. */
async function twoTurns(engine: Engine, cache: string): Promise<ChatMessage[]> {
  // A system message longer than one 128-token block, so that KIVI's blocks have something to keep.
  const messages: ChatMessage[] = [{ role: 'system', content: `You tell stories. ${'Every story is about animals in a garden. '.repeat(8)}` }];
  for (const t of TURNS.slice(0, 2)) {
    messages.push({ role: 'user', content: t });
    messages.push({ role: 'assistant', content: (await turn(engine, messages, cache)).text });
  }
  return [...messages, { role: 'user', content: TURNS[2] }];
}

describe('saved conversations (reference backend)', () => {
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4'])(
    '%s: after a reload the next turn restores the saved cache (cached_tokens cover it) and replies as without the reload',
    async (mode) => {
      const store = new MemoryChunkStore();
      const engine = await engineOn(store);
      const messages = await twoTurns(engine, mode);
      const saved = await engine.saveConversation();
      expect(saved.mode).toBe(mode);
      expect(saved.bytes).toBeGreaterThan(0);
      // Chunks repeated within the snapshot (zero pages) are written once.
      const { writtenBytes, ...info } = saved;
      expect(writtenBytes).toBeGreaterThan(0);
      expect(writtenBytes).toBeLessThanOrEqual(saved.bytes);
      const uninterrupted = await turn(engine, messages, mode);

      const reloaded = await engineOn(store);
      expect(reloaded.savedConversations()).toEqual([info]);
      expect(reloaded.memory().saved).toEqual([info]);
      const after = await turn(reloaded, messages, mode);
      expect(after.restoredTokens).toBe(saved.tokens);
      // What the uninterrupted engine reused: all of the saved tokens where the prompt re-reads the replies as
      // generated; KIVI and xquant-gqa keep whole 128-token K blocks up to where the prompt differs.
      expect(after.cachedTokens).toBe(uninterrupted.cachedTokens);
      expect(after.cachedTokens).toBeGreaterThanOrEqual(mode.startsWith('kivi') || mode.includes('gqa') ? 128 : saved.tokens);
      expect(after.ids).toEqual(uninterrupted.ids);
      expect(after.savedCacheNotes).toEqual([]);
    },
  );

  it('saving each turn keeps one entry per conversation; delete removes it', async () => {
    const store = new MemoryChunkStore();
    const engine = await engineOn(store);
    const messages: ChatMessage[] = [];
    for (const t of TURNS) {
      messages.push({ role: 'user', content: t });
      messages.push({ role: 'assistant', content: (await turn(engine, messages, 'fp16')).text });
      await engine.saveConversation();
    }
    const list = engine.savedConversations();
    expect(list.length).toBe(1);
    expect(list[0].tokens).toBe(engine.memory().sessions[0].tokens);
    await engine.deleteSavedConversations();
    expect(engine.savedConversations()).toEqual([]);
    expect([...store.values.keys()].filter((k) => k.startsWith('xqc/'))).toEqual([]);
  });

  it('another model or another mode does not use the entry; a damaged chunk is deleted and said, and the turn is prefilled', async () => {
    const store = new MemoryChunkStore();
    const engine = await engineOn(store);
    const messages = await twoTurns(engine, 'fp16');
    await engine.saveConversation();
    const expected = await turn(engine, messages, 'fp16');

    // Another model: its engine lists nothing and reuses nothing.
    const other = await engineOn(store, 'aidreams260K');
    expect(other.savedConversations()).toEqual([]);
    // The same model in another mode: nothing restored.
    const sameModel = await engineOn(store);
    expect((await turn(sameModel, messages, 'f32')).restoredTokens).toBe(0);

    // Flip a byte of a chunk: the entry fails its SHA-256, is deleted, and the reply is the fresh one.
    const chunkKey = [...store.values.keys()].find((k) => k.startsWith('xqc/') && !k.endsWith('/meta'))!;
    const bytes = new Uint8Array((store.values.get(chunkKey) as ArrayBuffer).slice(0));
    bytes[0] ^= 0xff;
    store.values.set(chunkKey, bytes.buffer);
    const reloaded = await engineOn(store);
    const after = await turn(reloaded, messages, 'fp16');
    expect(after.restoredTokens).toBe(0);
    expect(after.cachedTokens).toBe(0);
    expect(after.savedCacheNotes?.join(' ')).toMatch(/damaged/);
    expect(after.ids).toEqual(expected.ids);
    expect(reloaded.savedConversations()).toEqual([]);
  });

  it('an entry of another format version or with a bad meta is deleted at load and said on the next request', async () => {
    const store = new MemoryChunkStore();
    const engine = await engineOn(store);
    const messages = await twoTurns(engine, 'fp16');
    await engine.saveConversation();
    const metaKey = [...store.values.keys()].find((k) => k.endsWith('/meta'))!;
    const stale = metaKey.replace(`xqc/v${CONVERSATION_FORMAT_VERSION}/`, `xqc/v${CONVERSATION_FORMAT_VERSION + 1000}/`);
    store.values.set(stale, store.values.get(metaKey)!);
    store.values.set(metaKey, '{"version": 1, "ids": "not ids"}');
    const reloaded = await engineOn(store);
    expect(reloaded.savedConversations()).toEqual([]);
    const after = await turn(reloaded, messages, 'fp16');
    expect(after.restoredTokens).toBe(0);
    expect(after.savedCacheNotes?.join('\n')).toMatch(
      /damaged saved conversation was deleted[\s\S]*another format version|another format version[\s\S]*damaged/,
    );
    expect([...store.values.keys()].filter((k) => k.endsWith('/meta'))).toEqual([]);
  });

  it('saving with nothing kept, or with no store, is a typed error', async () => {
    const engine = await engineOn(new MemoryChunkStore());
    await expect(engine.saveConversation()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'conversation' });
    const dir = sharedPath('models/stories260K');
    const { model } = await loadPreparedModel({
      resolved: { id: `file:${dir}`, revision: '', name: 'stories260K', source: nodeModelSource(dir) },
      format: 'f32',
      cache: null,
    });
    const bare = new Engine(referenceBackends);
    await bare.load(model);
    await expect(bare.saveConversation()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'savedConversations' });
  });

  it("keeps a snapshot's ring mark (held) through the store, and leaves it out where there is none", async () => {
    const store = new MemoryChunkStore();
    const cache = new ConversationCache(store);
    await cache.open('m');
    const snap = { length: 3, layout: 'gpu-kv/fp16/ring640', parts: [new Uint8Array([1, 2, 3])] };
    await cache.save('fp16', [5, 6, 7], { ...snap, held: 2 });
    await cache.save('kivi-4', [5, 6, 8], snap);
    const reopened = new ConversationCache(store);
    await reopened.open('m');
    expect((await reopened.load(reopened.find('fp16', [5, 6, 7, 9])!.entry)).held).toBe(2);
    expect('held' in (await reopened.load(reopened.find('kivi-4', [5, 6, 8])!.entry))).toBe(false);
  });

  it('a conversation saved again writes only the chunks that changed, and keeps only the chunks its entry names', async () => {
    const store = new MemoryChunkStore();
    const cache = new ConversationCache(store);
    await cache.open('m');
    const MiB = 2 ** 20;
    const random = (n: number, seed: number) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = (Math.imul(i, 2654435761) + seed * 97) >>> 24;
      return out;
    };
    // Two buffers of 3 MiB and 1 MiB + 5 (their used prefixes), then both grown at the end by a turn.
    const a = [random(3 * MiB, 1), random(MiB + 5, 2)];
    const b = [new Uint8Array(3 * MiB + 7), new Uint8Array(MiB + 40)];
    b[0].set(a[0]);
    b[1].set(a[1]);
    b[0].set(random(7, 3), 3 * MiB);
    b[1].set(random(35, 4), MiB + 5);
    const first = await cache.save('fp16', [1, 2, 3], { length: 3, layout: 'L', parts: a });
    expect(first.writtenBytes).toBe(4 * MiB + 5);
    const second = await cache.save('fp16', [1, 2, 3, 4], { length: 4, layout: 'L', parts: b });
    // Only the chunks past the old ends are new: 7 bytes of the first buffer, 40 of the second's second chunk.
    expect(second.writtenBytes).toBe(7 + 40);
    expect(cache.list().map((e) => e.tokens)).toEqual([4]);
    const chunks = [...store.values.keys()].filter((k) => k.includes('/chunks/'));
    expect(chunks.length).toBe(4 + 2);
    const loaded = await cache.load(cache.find('fp16', [1, 2, 3, 4])!.entry);
    expect(loaded.parts.map((x, i) => Buffer.compare(x, b[i]))).toEqual([0, 0]);
    await cache.delete();
    expect([...store.values.keys()].filter((k) => k.startsWith('xqc/'))).toEqual([]);
  });

  it('a damaged chunk takes every entry that names it, so a later save writes it again', async () => {
    const store = new MemoryChunkStore();
    const cache = new ConversationCache(store);
    await cache.open('m');
    const shared = new Uint8Array(1000).fill(7);
    await cache.save('fp16', [1, 2], { length: 2, layout: 'L', parts: [shared, new Uint8Array([1])] });
    await cache.save('kivi-4', [1, 2], { length: 2, layout: 'L', parts: [shared, new Uint8Array([2])] });
    const key = [...store.values.keys()].find((k) => k.includes('/chunks/') && (store.values.get(k) as ArrayBuffer).byteLength === 1000)!;
    store.values.set(key, new Uint8Array(1000).buffer);
    await expect(cache.load(cache.find('fp16', [1, 2])!.entry)).rejects.toThrow(/with 1 more that shared the chunk/);
    expect(cache.list()).toEqual([]);
    expect([...store.values.keys()].filter((k) => k.startsWith('xqc/'))).toEqual([]);
    const again = await cache.save('fp16', [1, 2], { length: 2, layout: 'L', parts: [shared, new Uint8Array([1])] });
    expect(again.writtenBytes).toBe(1001);
  });

  /** Two tabs' workers on one store, both opened on model 'm'. */
  async function twoTabs(store = new MemoryChunkStore()) {
    const a = new ConversationCache(store);
    const b = new ConversationCache(store);
    await a.open('m');
    await b.open('m');
    return { store, a, b };
  }

  it("another tab's entries keep their chunks when this one deletes its own", async () => {
    const { a, b } = await twoTabs();
    await b.save('fp16', [3, 4], { length: 2, layout: 'L', parts: [new Uint8Array([9, 9])] });
    await a.save('fp16', [5, 6], { length: 2, layout: 'L', parts: [new Uint8Array([8])] });
    await a.delete();
    expect((await b.load(b.find('fp16', [3, 4])!.entry)).parts).toEqual([new Uint8Array([9, 9])]);
  });

  it('without Web Locks, a save in progress keeps its chunks while another tab clears unnamed ones; one never finished goes after PENDING_MS', async () => {
    const { store, a, b } = await twoTabs(new UnlockedStore());
    // a's save stops after its first chunk: b deletes its own entry (clearing unnamed chunks) before a writes its meta.
    await b.save('fp16', [3, 4], { length: 2, layout: 'L', parts: [new Uint8Array([9, 9])] });
    const set = store.set.bind(store);
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atChunk = new Promise<void>((r) => (reached = r));
    store.set = async (key, value) => {
      await set(key, value);
      if (key.includes('/chunks/')) {
        reached();
        await paused;
      }
    };
    const big = new Uint8Array(2 ** 20 + 5).fill(3);
    const saving = a.save('fp16', [5, 6], { length: 2, layout: 'L', parts: [big] });
    await atChunk;
    store.set = set;
    await b.delete();
    release();
    const saved = await saving;
    expect(saved.writtenBytes).toBe(2 ** 20 + 5);
    expect([...store.values.keys()].filter((k) => k.includes('/pending/'))).toEqual([]);
    const c = new ConversationCache(store);
    await c.open('m');
    expect((await c.load(c.find('fp16', [5, 6])!.entry)).parts).toEqual([big]);

    // A pending record its tab never finished: kept while young, then it and its chunks go.
    const record = `xqc/v${CONVERSATION_FORMAT_VERSION}/m/pending/gone`;
    const orphan = `xqc/v${CONVERSATION_FORMAT_VERSION}/m/chunks/abc`;
    await store.set(record, JSON.stringify({ startedAt: Date.now(), chunks: ['abc'] }));
    await store.set(orphan, new Uint8Array([1]).buffer);
    await c.delete('nothing');
    expect(store.values.has(orphan)).toBe(true);
    await store.set(record, JSON.stringify({ startedAt: Date.now() - PENDING_MS - 1, chunks: ['abc'] }));
    await c.delete('nothing');
    expect(store.values.has(orphan)).toBe(false);
    expect(store.values.has(record)).toBe(false);
  });

  it.each([
    ['with Web Locks', true],
    ['without (the window the lock closes)', false],
  ] as const)("a tab's save that counts on a chunk another tab is clearing: %s", async (_, locked) => {
    const { store, a, b } = await twoTabs(locked ? new MemoryChunkStore() : new UnlockedStore());
    // A chunk no entry names (a save cut short), with the bytes a's save is about to store.
    const bytes = new Uint8Array([7, 7, 7]);
    const chunk = `xqc/v${CONVERSATION_FORMAT_VERSION}/m/chunks/${await sha256Hex(bytes)}`;
    await store.set(chunk, bytes.slice().buffer);
    // b's clean-up pauses just before it deletes the chunk; a saves meanwhile.
    const del = store.delete.bind(store);
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atDelete = new Promise<void>((r) => (reached = r));
    store.delete = async (key) => {
      if (key === chunk) {
        reached();
        await paused;
      }
      await del(key);
    };
    const clearing = b.delete('nothing');
    await atDelete;
    let saved = false;
    const saving = a.save('fp16', [1, 2], { length: 2, layout: 'L', parts: [bytes] }).then(() => (saved = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(saved).toBe(!locked); // with the lock the save waits for the clean-up
    release();
    await clearing;
    await saving;
    store.delete = del;
    const c = new ConversationCache(store);
    await c.open('m');
    const found = c.find('fp16', [1, 2])!.entry;
    if (locked) expect((await c.load(found)).parts).toEqual([bytes]);
    else await expect(c.load(found)).rejects.toThrow(/damaged/);
  });

  it('a chunk this instance counted on but another tab deleted is written again by the next save', async () => {
    const store = new MemoryChunkStore();
    const a = new ConversationCache(store);
    const b = new ConversationCache(store);
    await a.open('m');
    const first = new Uint8Array(2 ** 20).fill(1);
    await a.save('fp16', [1, 2], { length: 2, layout: 'L', parts: [first] });
    await b.open('m');
    await b.delete(); // a still believes the chunk of [1, 2] stored
    const next = await a.save('fp16', [1, 2, 3], { length: 3, layout: 'L', parts: [new Uint8Array([...first, 5])] });
    expect(next.writtenBytes).toBe(2 ** 20 + 1);
    const c = new ConversationCache(store);
    await c.open('m');
    expect((await c.load(c.find('fp16', [1, 2, 3])!.entry)).parts[0].byteLength).toBe(2 ** 20 + 1);
    expect([...store.values.keys()].filter((k) => k.includes('/pending/'))).toEqual([]);
  });
});
