// Where the weight cache keeps its values: IndexedDB in a browser (idb-chunk-store.ts), memory in Node
// tests. Values are ArrayBuffers (chunks) or strings (manifests).

export type StoredValue = ArrayBuffer | string;

export interface ChunkStore {
  get(key: string): Promise<StoredValue | undefined>;
  set(key: string, value: StoredValue): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  /** Free bytes the store may still use, when the platform says (navigator.storage.estimate). */
  available(): Promise<number | null>;
  /**
   * Run `fn` while no other holder of the lock `name` runs: across the origin's tabs and workers where the platform
   * has Web Locks (IdbChunkStore), across the users of this store otherwise.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Promise-chained locks by name, for one JavaScript realm. */
export class LocalLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(name) ?? Promise.resolve();
    const result = before.then(fn, fn);
    const tail = result.catch(() => {});
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return result;
  }
}

export class MemoryChunkStore implements ChunkStore {
  readonly values = new Map<string, StoredValue>();
  private readonly locks = new LocalLocks();

  constructor(private readonly quotaBytes = Infinity) {}

  private used(): number {
    let n = 0;
    for (const v of this.values.values()) n += typeof v === 'string' ? v.length * 2 : v.byteLength;
    return n;
  }

  async get(key: string): Promise<StoredValue | undefined> {
    return this.values.get(key);
  }

  async set(key: string, value: StoredValue): Promise<void> {
    const size = typeof value === 'string' ? value.length * 2 : value.byteLength;
    if (this.used() + size > this.quotaBytes) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.values.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.values.keys()];
  }

  async available(): Promise<number | null> {
    return Number.isFinite(this.quotaBytes) ? this.quotaBytes - this.used() : null;
  }

  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(name, fn);
  }
}

/** True for the errors browsers raise when storage is full. */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
