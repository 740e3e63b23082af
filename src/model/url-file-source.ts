// A model folder behind a URL prefix (a Hugging Face resolve URL, a mirror, a local server): file F is
// fetched from `${base}/${F}`. A 404 means the file does not exist; other failures are typed errors.
// Bodies are read as streams so a download reports its progress and stops when the signal fires.

import { AbortedError, MissingFileError, NetworkError } from '../errors';
import type { ModelFileSource } from './file-source';

/** Bytes of one file received so far; `total` is null when the server sends no Content-Length. */
export type FileProgress = (file: string, loaded: number, total: number | null) => void;

export interface UrlSourceOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: FileProgress;
}

export class UrlFolderSource implements ModelFileSource {
  readonly name: string;
  private readonly fetched = new Map<string, Promise<Response>>();
  private readonly fetchFn: typeof fetch;

  constructor(
    base: string,
    private readonly o: UrlSourceOptions = {},
  ) {
    this.name = base.replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? ((input, init) => fetch(input, init));
  }

  private get(file: string): Promise<Response> {
    let r = this.fetched.get(file);
    if (!r) {
      const url = `${this.name}/${file}`;
      r = this.fetchFn(url, { signal: this.o.signal }).catch((e: unknown) => {
        if (this.o.signal?.aborted) throw new AbortedError(`download of ${file}`);
        throw new NetworkError(`request failed (${(e as Error).message})`, { file: url });
      });
      this.fetched.set(file, r);
    }
    return r;
  }

  async has(file: string): Promise<boolean> {
    const r = await this.get(file);
    if (r.status === 404) return false;
    if (!r.ok) throw new NetworkError(`HTTP ${r.status} ${r.statusText}`, { file: `${this.name}/${file}` });
    // Single-page-app servers answer every path with their index.html: that is not a model file.
    if (!file.endsWith('.html') && (r.headers.get('content-type') ?? '').includes('text/html')) return false;
    return true;
  }

  async read(file: string): Promise<ArrayBuffer> {
    if (!(await this.has(file))) throw new MissingFileError(`${this.name}/${file}`, 'not found (HTTP 404)');
    const response = await this.get(file);
    this.fetched.delete(file); // a body is read once; the bytes go to the caller
    const length = Number(response.headers.get('content-length'));
    const total = Number.isFinite(length) && length > 0 ? length : null;
    try {
      return await readBody(response, total, (loaded) => this.o.onProgress?.(file, loaded, total), this.o.signal);
    } catch (e) {
      if (this.o.signal?.aborted) throw new AbortedError(`download of ${file}`);
      throw new NetworkError(`download failed (${(e as Error).message})`, { file: `${this.name}/${file}` });
    }
  }
}

async function readBody(response: Response, total: number | null, progress: (loaded: number) => void, signal?: AbortSignal): Promise<ArrayBuffer> {
  if (!response.body) return response.arrayBuffer();
  const reader = response.body.getReader();
  // With a known length the bytes land in one buffer; otherwise parts are joined at the end.
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
  if (total !== null && loaded !== total && !response.headers.get('content-encoding')) {
    throw new Error(`received ${loaded} bytes, Content-Length said ${total}`);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}
