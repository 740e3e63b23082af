// The weight cache's store in a browser: one IndexedDB database through idb-keyval.

import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import { LocalLocks, type ChunkStore, type StoredValue } from './chunk-store';

export class IdbChunkStore implements ChunkStore {
  private readonly db: UseStore;
  /** Where the platform has no Web Locks (Safari before 15.4): this realm's users only. */
  private readonly local = new LocalLocks();

  constructor(dbName = 'xquant-web', storeName = 'weights') {
    this.db = createStore(dbName, storeName);
  }

  get(key: string): Promise<StoredValue | undefined> {
    return get<StoredValue>(key, this.db);
  }

  set(key: string, value: StoredValue): Promise<void> {
    return set(key, value, this.db);
  }

  delete(key: string): Promise<void> {
    return del(key, this.db);
  }

  async keys(): Promise<string[]> {
    return (await keys(this.db)).map(String);
  }

  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const locks = globalThis.navigator?.locks;
    return locks ? (locks.request(name, fn) as Promise<T>) : this.local.run(name, fn);
  }

  async available(): Promise<number | null> {
    const e = await globalThis.navigator?.storage?.estimate?.();
    return e?.quota !== undefined && e.usage !== undefined ? e.quota - e.usage : null;
  }
}
