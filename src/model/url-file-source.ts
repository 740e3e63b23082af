// A model folder behind a URL prefix (a Hugging Face resolve URL, a mirror, a local server): file F is
// fetched from `${base}/${F}`. A 404 means the file does not exist; other failures are typed errors.
//
// Small files (config, tokenizer) are fetched whole. Weight files are read by byte range: a first request
// for their first 64 KiB (the header) tells the file's size (Content-Range); each tensor is then one
// `Range` request. A server that ignores Range answers 200 with the whole body: that body is then read
// once, in order, handing out the ranges asked for and dropping the bytes between them (asking for an
// earlier range starts a new request). Progress counts the bytes each file has delivered.

import { AbortedError, MissingFileError, NetworkError } from '../errors';
import { shortRead, type ModelFileSource } from './file-source';
import { parseShardIndex } from './safetensors';

/** Bytes of one file received so far; `total` is null when the server sends no length. */
export type FileProgress = (file: string, loaded: number, total: number | null) => void;

export interface UrlSourceOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: FileProgress;
}

/** Bytes asked for by the first request to a weight file (the safetensors / GGUF header). */
export const PROBE_BYTES = 64 * 1024;
const WEIGHT_FILE = /\.(safetensors|gguf)$/;

/** A weight file as the server serves it. */
interface RangedFile {
  size: number;
  /** The server honours Range requests. */
  ranged: boolean;
  /** The file's first bytes (from the probe). */
  head: Uint8Array<ArrayBuffer>;
  /** Without Range support: the whole body, read in order. */
  body: SequentialBody | null;
  delivered: number;
  /** What the server says identifies this version of the file (versionOf). */
  version: string;
}

/**
 * What changes when the file does: its ETag (the Hub's x-linked-etag where a redirect exposes it), else its
 * Last-Modified, and its size; the Hub's commit only when the server gives neither (a commit changes with any
 * file of the repository, so it would refetch weights a README edit did not touch).
 */
function versionOf(r: Response, size: number): string {
  const h = (name: string) => r.headers.get(name) ?? '';
  const tag = h('x-linked-etag') || h('etag');
  const stamp = tag ? `etag=${tag}` : h('last-modified') ? `modified=${h('last-modified')}` : `commit=${h('x-repo-commit')}`;
  return `${stamp};size=${size}`;
}

export class UrlFolderSource implements ModelFileSource {
  readonly name: string;
  private readonly fetched = new Map<string, Promise<Response>>();
  private readonly weightFiles = new Map<string, Promise<RangedFile | null>>();
  private readonly fetchFn: typeof fetch;

  constructor(
    base: string,
    private readonly o: UrlSourceOptions = {},
  ) {
    this.name = base.replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? ((input, init) => fetch(input, init));
  }

  private request(file: string, range?: [number, number]): Promise<Response> {
    const url = `${this.name}/${file}`;
    const headers: Record<string, string> = range ? { range: `bytes=${range[0]}-${range[1] - 1}` } : {};
    return this.fetchFn(url, { signal: this.o.signal, headers }).catch((e: unknown) => {
      if (this.o.signal?.aborted) throw new AbortedError(`download of ${file}`);
      throw new NetworkError(`request failed (${(e as Error).message})`, { file: url });
    });
  }

  private get(file: string): Promise<Response> {
    let r = this.fetched.get(file);
    if (!r) this.fetched.set(file, (r = this.request(file)));
    return r;
  }

  /** false when the file does not exist (404, or a single-page app's index.html); a NetworkError for other failures. */
  private exists(file: string, r: Response): boolean {
    if (r.status === 404) return false;
    if (!r.ok) throw new NetworkError(`HTTP ${r.status} ${r.statusText}`, { file: `${this.name}/${file}` });
    // Single-page-app servers answer every path with their index.html: that is not a model file.
    if (!file.endsWith('.html') && (r.headers.get('content-type') ?? '').includes('text/html')) return false;
    return true;
  }

  async has(file: string): Promise<boolean> {
    if (WEIGHT_FILE.test(file)) return (await this.weightFile(file)) !== null;
    return this.exists(file, await this.get(file));
  }

  async read(file: string): Promise<ArrayBuffer> {
    if (WEIGHT_FILE.test(file)) {
      const size = await this.size(file);
      return (await this.readRange(file, 0, size)).buffer;
    }
    if (!(await this.has(file))) throw new MissingFileError(`${this.name}/${file}`, 'not found (HTTP 404)');
    const response = await this.get(file);
    this.fetched.delete(file); // a body is read once; the bytes go to the caller
    const total = contentLength(response);
    const bytes = await this.body(file, response, total, (loaded) => this.o.onProgress?.(file, loaded, total));
    return bytes.buffer;
  }

  async size(file: string): Promise<number> {
    return (await this.mustHave(file)).size;
  }

  async readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const f = await this.mustHave(file);
    if (this.o.signal?.aborted) throw new AbortedError(`download of ${file}`);
    if (end > f.size) throw shortRead(this, file, begin, end, Math.max(0, f.size - begin));
    if (end <= f.head.byteLength) return f.head.slice(begin, end);
    if (begin < f.head.byteLength) {
      // The start is in the probe's bytes: fetch only the rest.
      const out = new Uint8Array(end - begin);
      out.set(f.head.subarray(begin));
      out.set(await this.readRange(file, f.head.byteLength, end), f.head.byteLength - begin);
      return out;
    }
    let out: Uint8Array<ArrayBuffer>;
    if (f.ranged) {
      const r = await this.request(file, [begin, end]);
      if (r.status !== 206) {
        throw new NetworkError(`a range request was answered with HTTP ${r.status}, not 206`, { file: `${this.name}/${file}` });
      }
      out = await this.body(file, r, end - begin, (n) => this.o.onProgress?.(file, f.delivered + n, f.size));
    } else {
      if (!f.body || begin < f.body.position) f.body = new SequentialBody(await this.request(file));
      out = await this.guard(file, () => f.body!.take(begin, end, this.o.signal));
    }
    if (out.byteLength !== end - begin) throw shortRead(this, file, begin, end, out.byteLength);
    f.delivered += out.byteLength;
    this.o.onProgress?.(file, f.delivered, f.size === Number.MAX_SAFE_INTEGER ? null : f.size);
    return out;
  }

  private async mustHave(file: string): Promise<RangedFile> {
    const f = await this.weightFile(file);
    if (!f) throw new MissingFileError(`${this.name}/${file}`, 'not found (HTTP 404)');
    return f;
  }

  /** The version of the model's weights: the single file's, else every shard's (named by the shard index). */
  async version(): Promise<string | null> {
    const single = await this.fileVersion('model.safetensors');
    if (single !== null) return single;
    const index = 'model.safetensors.index.json';
    if (!(await this.has(index))) return null;
    const shards = [...new Set(parseShardIndex(new TextDecoder().decode(await this.read(index)), `${this.name}/${index}`).values())];
    const versions = await Promise.all(shards.sort().map(async (f) => `${f}:${(await this.fileVersion(f)) ?? 'missing'}`));
    return versions.join('|');
  }

  /**
   * One weight file's version, from the probe a load makes first (no extra request when the load goes on).
   * A server that ignores Range answered with the whole file: that download is cancelled here, so checking a
   * stored copy never leaves it running; a load that goes on asks again.
   */
  async fileVersion(file: string): Promise<string | null> {
    const f = await this.weightFile(file);
    if (f && !f.ranged) {
      await f.body?.cancel();
      this.weightFiles.delete(file);
    }
    return f?.version ?? null;
  }

  private weightFile(file: string): Promise<RangedFile | null> {
    let p = this.weightFiles.get(file);
    if (!p) this.weightFiles.set(file, (p = this.probe(file)));
    return p;
  }

  /** The first request to a weight file: its size, its head, and whether Range works. */
  private async probe(file: string): Promise<RangedFile | null> {
    const r = await this.request(file, [0, PROBE_BYTES]);
    if (!this.exists(file, r)) {
      await r.body?.cancel().catch(() => {});
      return null;
    }
    let plain = r;
    if (r.status === 206) {
      const total = /\/(\d+)\s*$/.exec(r.headers.get('content-range') ?? '');
      if (total) {
        const size = Number(total[1]);
        const head = await this.body(file, r, Math.min(PROBE_BYTES, size), () => {});
        return { size, ranged: true, head, body: null, delivered: head.byteLength, version: versionOf(r, size) };
      }
      // A cross-origin server that does not expose Content-Range: its size is unknown, so read it whole, in order.
      await r.body?.cancel().catch(() => {});
      plain = await this.request(file);
      if (!this.exists(file, plain)) return null;
    }
    const length = contentLength(plain);
    const body = new SequentialBody(plain);
    const head = await this.guard(file, () => body.take(0, Math.min(PROBE_BYTES, length ?? PROBE_BYTES), this.o.signal));
    // Without a length (a chunked response) the size is known only if the whole file fit in the probe; else
    // it is taken as unbounded: a file shorter than its header says then fails at the first range it lacks.
    const size = length ?? (head.byteLength < PROBE_BYTES ? head.byteLength : Number.MAX_SAFE_INTEGER);
    return { size, ranged: false, head, body, delivered: head.byteLength, version: versionOf(plain, size) };
  }

  /** A whole response body, with its length checked (null: unknown). */
  private body(file: string, r: Response, expected: number | null, progress: (loaded: number) => void): Promise<Uint8Array<ArrayBuffer>> {
    return this.guard(file, async () => {
      const out = await readBody(r, progress, this.o.signal);
      if (expected !== null && out.byteLength !== expected && !r.headers.get('content-encoding')) {
        throw new Error(`received ${out.byteLength} bytes, Content-Length said ${expected}`);
      }
      return out;
    });
  }

  /** Failures while reading a body become AbortedError or NetworkError naming the URL. */
  private async guard<T>(file: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (this.o.signal?.aborted) throw new AbortedError(`download of ${file}`);
      if (e instanceof NetworkError || e instanceof MissingFileError) throw e;
      throw new NetworkError(`download failed (${(e as Error).message})`, { file: `${this.name}/${file}` });
    }
  }
}

function contentLength(r: Response): number | null {
  const n = Number(r.headers.get('content-length'));
  return r.headers.has('content-length') && Number.isFinite(n) && n >= 0 ? n : null;
}

async function readBody(response: Response, progress: (loaded: number) => void, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    // fetch cancels the body when its signal fires; checking here as well stops any stream promptly.
    if (signal?.aborted) {
      await reader.cancel().catch(() => {});
      throw new Error('aborted');
    }
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    progress(loaded);
  }
  return concat(parts, loaded);
}

function concat(parts: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A response body consumed front to back: `take` returns [begin, end), skipping what lies before. */
class SequentialBody {
  position = 0;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | null;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(response: Response) {
    this.reader = response.body?.getReader() ?? null;
  }

  /** Stop the download (what is unread is dropped). */
  async cancel(): Promise<void> {
    await this.reader?.cancel().catch(() => {});
  }

  async take(begin: number, end: number, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(end - begin);
    let filled = 0;
    while (this.position < end) {
      if (this.pending.byteLength === 0) {
        if (signal?.aborted) {
          await this.reader?.cancel().catch(() => {});
          throw new Error('aborted');
        }
        const next = this.reader ? await this.reader.read() : { done: true as const, value: undefined };
        if (next.done) break;
        this.pending = next.value;
      }
      const skip = Math.max(0, begin - this.position);
      if (skip >= this.pending.byteLength) {
        this.position += this.pending.byteLength;
        this.pending = new Uint8Array(0);
        continue;
      }
      const n = Math.min(this.pending.byteLength - skip, end - this.position - skip);
      out.set(this.pending.subarray(skip, skip + n), filled);
      filled += n;
      this.position += skip + n;
      this.pending = this.pending.subarray(skip + n);
    }
    return filled === out.byteLength ? out : out.slice(0, filled);
  }
}
