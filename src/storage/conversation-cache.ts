// Saved conversations: a decode session's cache in its stored form (a SessionSnapshot: quantized X rows, KIVI
// groups, fp16 pages, as the mode keeps them), in a ChunkStore (IndexedDB in a browser), so a reloaded page
// continues a long conversation without prefilling it again.
//
// Keys: `xqc/v{version}/{model}/{mode}/{entry}/meta` (JSON, written last: only a meta makes an entry) and
// `xqc/v{version}/{model}/chunks/{sha-256}` (at most CHUNK_BYTES each), named by their content. `model` is the
// engine's model key (name, spec and a fingerprint of the weights as uploaded); `entry` a hash of the token ids.
// A conversation saved every turn grows at the end of each buffer, so its earlier chunks are the ones already
// stored: a save writes only the chunks no entry of the model holds yet, and a chunk is deleted with the last entry
// that names it. A save in progress names its chunks first in a record of its own,
// `xqc/v{version}/{model}/pending/{save}` (deleted once the meta is written), so another tab's worker clearing
// unnamed chunks meanwhile leaves them; a record not renewed for PENDING_MS is a save its tab never finished, and
// goes with its chunks. An entry is used only when its format version, model, mode and the session's layout match and
// every chunk's SHA-256 checks; a stale or damaged one is deleted and the reason said, never read into a cache.
// Saves, loads and deletes of all tabs run one at a time (LOCK).

import { SavedCacheError, StorageQuotaError } from '../errors';
import type { SessionSnapshot } from '../engine/backend';
import { bestSharedStart, continues, longestCommonPrefix } from '../engine/session-pool';
import { isQuotaError, type ChunkStore } from './chunk-store';
import { sha256Hex } from './sha256';

/** Bump when a snapshot's layout or this store's keys change: older entries are then deleted, never misread. */
export const CONVERSATION_FORMAT_VERSION = 3;
const PREFIX = 'xqc';
/**
 * Stored values stay at most this size: IndexedDB handles many small values better than one huge one, and a save
 * rewrites at most the chunk where each buffer's stored tokens end (with the fixed rings at a buffer's start).
 */
const CHUNK_BYTES = 2 ** 20;
/** A save's pending record not renewed for this long is one its tab never finished (closed, crashed). */
export const PENDING_MS = 10 * 60_000;
/** A save renews its pending record every this many chunks written. */
const RENEW_CHUNKS = 64;
/**
 * The lock (ChunkStore.exclusive: Web Locks in a browser) that a save, a load, a delete and open()'s clean-up hold,
 * so no tab clears chunks while another's save counts on them. The pending records stay for platforms without Web
 * Locks, where a tab that listed the keys just before a save's record was written may still delete its chunks
 * (the entry then fails its check on load, is deleted and said).
 */
const LOCK = 'xqc';

/** What the API lists per saved conversation. */
export interface SavedConversationInfo {
  /** Store key of the entry (pass it to deleteSavedConversations). */
  key: string;
  mode: string;
  tokens: number;
  /** Bytes of the stored cache (its snapshot's parts). */
  bytes: number;
  savedAt: string;
  /** save() only: bytes it wrote, the chunks the store did not already hold. */
  writtenBytes?: number;
}

interface PartRecord {
  bytes: number;
  /** SHA-256 of each chunk, in order. */
  chunks: string[];
}

/** A save in progress: the chunks it is about to write or count on (deleted once its meta is written). */
interface PendingRecord {
  startedAt: number;
  chunks: string[];
}

function parsePending(v: unknown): PendingRecord | null {
  try {
    const r = JSON.parse(String(v)) as Partial<PendingRecord> | null;
    return r && typeof r.startedAt === 'number' && Array.isArray(r.chunks) && r.chunks.every((c) => typeof c === 'string') ? (r as PendingRecord) : null;
  } catch {
    return null;
  }
}

interface EntryMeta extends SavedConversationInfo {
  version: number;
  model: string;
  ids: number[];
  layout: string;
  parts: PartRecord[];
  /** SessionSnapshot.held, where the cache has sliding-window rings. */
  held?: number;
}

/** A saved conversation found for a prompt: `common` leading tokens are shared. */
export interface SavedMatch {
  entry: EntryMeta;
  common: number;
}

function entryPrefix(model: string, mode: string, entry: string): string {
  return `${PREFIX}/v${CONVERSATION_FORMAT_VERSION}/${encodeURIComponent(model)}/${encodeURIComponent(mode)}/${entry}/`;
}

function pendingPrefix(model: string): string {
  return `${PREFIX}/v${CONVERSATION_FORMAT_VERSION}/${encodeURIComponent(model)}/pending/`;
}

function chunkPrefix(model: string): string {
  return `${PREFIX}/v${CONVERSATION_FORMAT_VERSION}/${encodeURIComponent(model)}/chunks/`;
}

function isMeta(x: unknown): x is EntryMeta {
  const m = x as EntryMeta | null;
  return (
    !!m &&
    m.version === CONVERSATION_FORMAT_VERSION &&
    typeof m.key === 'string' &&
    typeof m.model === 'string' &&
    typeof m.mode === 'string' &&
    typeof m.layout === 'string' &&
    Array.isArray(m.ids) &&
    m.ids.length === m.tokens &&
    Array.isArray(m.parts) &&
    m.parts.every((p) => !!p && Number.isInteger(p.bytes) && Array.isArray(p.chunks) && p.chunks.every((c) => typeof c === 'string')) &&
    (m.held === undefined || Number.isInteger(m.held))
  );
}

export class ConversationCache {
  /** Entries of the open model, read at open(). */
  private entries: EntryMeta[] = [];
  private model = '';
  /** Why entries were dropped since the last call to takeNotes(): said to the caller, never hidden. */
  private notes: string[] = [];

  constructor(readonly store: ChunkStore) {}

  /** Read the entries of `model`; entries of other format versions and damaged metas are deleted. */
  open(model: string): Promise<void> {
    return this.store.exclusive(LOCK, () => this.openNow(model));
  }

  private async openNow(model: string): Promise<void> {
    this.model = model;
    this.entries = [];
    const current = `${PREFIX}/v${CONVERSATION_FORMAT_VERSION}/`;
    for (const key of await this.store.keys()) {
      if (!key.startsWith(`${PREFIX}/`)) continue;
      // Another format's keys (its metas, its chunks, a save of it cut short) all go; each entry is said.
      if (!key.startsWith(current)) {
        await this.store.delete(key);
        if (key.endsWith('/meta')) this.notes.push(`a saved conversation of another format version was deleted (${key})`);
        continue;
      }
      if (!key.endsWith('/meta') || !key.startsWith(`${current}${encodeURIComponent(model)}/`)) continue;
      const dir = key.slice(0, -'meta'.length);
      let meta: unknown;
      try {
        meta = JSON.parse(String(await this.store.get(key)));
      } catch {
        meta = null;
      }
      if (isMeta(meta) && meta.key === dir) this.entries.push(meta);
      else {
        await this.deleteDir(dir);
        this.notes.push(`a damaged saved conversation was deleted (${key})`);
      }
    }
    await this.dropUnnamedChunks();
  }

  /** Token histories of the open model's saved conversations (newest first), for matching a chat prompt's text. */
  histories(): number[][] {
    return [...this.entries].sort((a, b) => b.savedAt.localeCompare(a.savedAt)).map((e) => e.ids);
  }

  list(): SavedConversationInfo[] {
    return [...this.entries]
      .sort((a, b) => b.savedAt.localeCompare(a.savedAt))
      .map(({ key, mode, tokens, bytes, savedAt }) => ({ key, mode, tokens, bytes, savedAt }));
  }

  /** The saved conversation of `mode` sharing the longest prefix with `ids` (at least half of its own tokens). */
  find(mode: string, ids: readonly number[]): SavedMatch | null {
    const best = bestSharedStart(this.entries, mode, ids);
    return best && { entry: best.item, common: best.common };
  }

  /**
   * Store a session's snapshot for `ids` (the tokens its cache holds). Entries of the same mode that this one
   * continues are deleted: a conversation saved every turn keeps one entry.
   */
  save(mode: string, ids: readonly number[], snap: SessionSnapshot): Promise<SavedConversationInfo> {
    return this.store.exclusive(LOCK, () => this.saveNow(mode, ids, snap));
  }

  private async saveNow(mode: string, ids: readonly number[], snap: SessionSnapshot): Promise<SavedConversationInfo> {
    if (ids.length !== snap.length)
      throw new SavedCacheError('a snapshot saved with the wrong token ids', { field: 'ids', expected: `${snap.length} ids`, got: `${ids.length}` });
    const hash = (await sha256Hex(new Uint8Array(Int32Array.from(ids).buffer))).slice(0, 32);
    const dir = entryPrefix(this.model, mode, hash);
    const written: string[] = [];
    let writtenBytes = 0;
    const total = snap.parts.reduce((a, x) => a + x.byteLength, 0);
    const pending = `${pendingPrefix(this.model)}${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    try {
      // Views, not copies: a chunk is copied only when it is written.
      const chunked = snap.parts.map((bytes) =>
        Array.from({ length: Math.max(1, Math.ceil(bytes.byteLength / CHUNK_BYTES)) }, (_, c) => bytes.subarray(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES)),
      );
      const parts: PartRecord[] = [];
      for (const [p, chunks] of chunked.entries()) {
        const shas: string[] = [];
        for (const chunk of chunks) shas.push(await sha256Hex(chunk));
        parts.push({ bytes: snap.parts[p].byteLength, chunks: shas });
      }
      // Named before written: another tab dropping unnamed chunks meanwhile keeps these.
      const record: PendingRecord = { startedAt: Date.now(), chunks: parts.flatMap((x) => x.chunks) };
      await this.store.set(pending, JSON.stringify(record));
      written.push(pending);
      // What the store holds, read once the pending record protects it: not what this instance believes stored,
      // which another tab may have deleted since open().
      const present = new Set(await this.store.keys());
      for (const [p, chunks] of chunked.entries()) {
        for (const [c, chunk] of chunks.entries()) {
          const sha = parts[p].chunks[c];
          if (present.has(this.chunkKey(sha))) continue;
          await this.store.set(this.chunkKey(sha), chunk.slice().buffer);
          present.add(this.chunkKey(sha));
          written.push(this.chunkKey(sha));
          writtenBytes += chunk.byteLength;
          if (written.length % RENEW_CHUNKS === 0) await this.store.set(pending, JSON.stringify({ ...record, startedAt: Date.now() }));
        }
      }
      const meta: EntryMeta = {
        key: dir,
        version: CONVERSATION_FORMAT_VERSION,
        model: this.model,
        mode,
        tokens: ids.length,
        bytes: total,
        savedAt: new Date().toISOString(),
        ids: [...ids],
        layout: snap.layout,
        parts,
        ...(snap.held === undefined ? {} : { held: snap.held }),
      };
      await this.store.set(`${dir}meta`, JSON.stringify(meta));
      written.length = 0;
      await this.store.delete(pending).catch(() => {}); // saved all the same; a record left behind expires
      const replaced = this.entries.filter((e) => e.mode === mode && e.key !== dir && continues(e.ids, longestCommonPrefix(e.ids, ids)));
      this.entries = [...this.entries.filter((e) => e.key !== dir), meta];
      // Saved: from here on the chunks are the new entry's. The same conversation saved earlier (it shares at least
      // half its tokens with this one, as find() asks) is replaced, and what only it (or an earlier save of these
      // same ids) named goes.
      for (const old of replaced) await this.deleteDir(old.key);
      this.entries = this.entries.filter((e) => !replaced.includes(e));
      await this.dropUnnamedChunks();
      const { key, tokens, bytes, savedAt } = meta;
      return { key, mode, tokens, bytes, savedAt, writtenBytes };
    } catch (e) {
      for (const k of written) await this.store.delete(k).catch(() => {});
      if (isQuotaError(e)) throw new StorageQuotaError(total, await this.store.available(), 'a saved conversation');
      throw e;
    }
  }

  /** The snapshot of an entry, every chunk checked; a damaged entry is deleted and refused with SavedCacheError. */
  load(entry: EntryMeta): Promise<SessionSnapshot> {
    return this.store.exclusive(LOCK, () => this.loadNow(entry));
  }

  private async loadNow(entry: EntryMeta): Promise<SessionSnapshot> {
    const parts: Uint8Array[] = [];
    for (const [p, rec] of entry.parts.entries()) {
      const out = new Uint8Array(rec.bytes);
      let at = 0;
      for (const [c, sha] of rec.chunks.entries()) {
        const v = await this.store.get(this.chunkKey(sha));
        const chunk = v instanceof ArrayBuffer ? new Uint8Array(v) : null;
        if (!chunk || at + chunk.byteLength > rec.bytes || (await sha256Hex(chunk)) !== sha) {
          // Every entry that names the chunk is damaged alike: all go, so no later save counts on the chunk.
          const sharing = this.entries.filter((e) => e.parts.some((x) => x.chunks.includes(sha)));
          for (const e of sharing) await this.deleteDir(e.key);
          this.entries = this.entries.filter((e) => !sharing.includes(e));
          await this.store.delete(this.chunkKey(sha));
          await this.dropUnnamedChunks();
          throw new SavedCacheError(
            `the saved conversation is damaged (a chunk is missing or fails its SHA-256); it was deleted${sharing.length > 1 ? `, with ${sharing.length - 1} more that shared the chunk` : ''}`,
            { field: `${entry.key}: part ${p}, chunk ${c}` },
          );
        }
        out.set(chunk, at);
        at += chunk.byteLength;
      }
      if (at !== rec.bytes) {
        await this.deleteNow(entry.key);
        throw new SavedCacheError('the saved conversation is truncated; it was deleted', {
          field: `${entry.key}${p}`,
          expected: `${rec.bytes} bytes`,
          got: `${at}`,
        });
      }
      parts.push(out);
    }
    return { length: entry.tokens, layout: entry.layout, parts, ...(entry.held === undefined ? {} : { held: entry.held }) };
  }

  /** Delete one entry (by key), or every entry of the open model, and the chunks no other entry names. */
  delete(key?: string): Promise<void> {
    return this.store.exclusive(LOCK, () => this.deleteNow(key));
  }

  private async deleteNow(key?: string): Promise<void> {
    for (const e of this.entries.filter((x) => key === undefined || x.key === key)) await this.deleteDir(e.key);
    this.entries = this.entries.filter((x) => key !== undefined && x.key !== key);
    await this.dropUnnamedChunks();
  }

  private chunkKey(sha: string): string {
    return `${chunkPrefix(this.model)}${sha}`;
  }

  /** Chunks the open model's entries name. */
  private namedChunks(): Set<string> {
    return new Set(this.entries.flatMap((e) => e.parts.flatMap((p) => p.chunks)));
  }

  /**
   * Chunks of the open model that no entry names (replaced or deleted entries, a save cut short). What is named is
   * read from the store's metas, not this instance's: another tab's worker may have saved since open().
   */
  private async dropUnnamedChunks(): Promise<void> {
    const keys = await this.store.keys();
    const named = this.namedChunks();
    const metas = `${PREFIX}/v${CONVERSATION_FORMAT_VERSION}/${encodeURIComponent(this.model)}/`;
    for (const k of keys) {
      if (!k.startsWith(metas) || !k.endsWith('/meta')) continue;
      try {
        const m: unknown = JSON.parse(String(await this.store.get(k)));
        if (isMeta(m)) for (const p of m.parts) for (const c of p.chunks) named.add(c);
      } catch {
        // A damaged meta names nothing; open() deletes it.
      }
    }
    // Saves in progress, listed again: one that began while the metas were read counts too.
    const pendings = pendingPrefix(this.model);
    for (const k of await this.store.keys()) {
      if (!k.startsWith(pendings)) continue;
      const r = parsePending(await this.store.get(k));
      if (r && Date.now() - r.startedAt < PENDING_MS) for (const c of r.chunks) named.add(c);
      else await this.store.delete(k); // a save its tab never finished (or a damaged record): its chunks go below
    }
    const prefix = chunkPrefix(this.model);
    for (const k of keys) if (k.startsWith(prefix) && !named.has(k.slice(prefix.length))) await this.store.delete(k);
  }

  /** Say why entries were dropped (and forget it). */
  takeNotes(): string[] {
    const n = this.notes;
    this.notes = [];
    return n;
  }

  /** Note a reason an entry was not used (the engine's restore refusals). */
  note(text: string): void {
    this.notes.push(text);
  }

  private async deleteDir(dir: string): Promise<void> {
    // The meta first: a crash halfway leaves chunks no meta points to, never a meta with missing chunks.
    await this.store.delete(`${dir}meta`);
    for (const k of await this.store.keys()) if (k.startsWith(dir)) await this.store.delete(k);
  }
}
