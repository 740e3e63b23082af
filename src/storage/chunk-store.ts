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
}

export class MemoryChunkStore implements ChunkStore {
  readonly values = new Map<string, StoredValue>();

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
}

/** True for the errors browsers raise when storage is full. */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
