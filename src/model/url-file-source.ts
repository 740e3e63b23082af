// A model folder behind a URL prefix (a Hugging Face resolve URL, a mirror, a local server): file F is
// fetched from `${base}/${F}`. A 404 means the file does not exist; other failures are errors.

import { MissingFileError, ModelFormatError } from '../errors';
import type { ModelFileSource } from './file-source';

export class UrlFolderSource implements ModelFileSource {
  readonly name: string;
  private readonly fetched = new Map<string, Promise<Response>>();

  constructor(
    base: string,
    private readonly fetchFn: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.name = base.replace(/\/+$/, '');
  }

  private get(file: string): Promise<Response> {
    let r = this.fetched.get(file);
    if (!r) this.fetched.set(file, (r = this.fetchFn(`${this.name}/${file}`)));
    return r;
  }

  async has(file: string): Promise<boolean> {
    const r = await this.get(file);
    if (r.status === 404) return false;
    if (!r.ok) throw new ModelFormatError(`HTTP ${r.status} ${r.statusText}`, { file: `${this.name}/${file}` });
    // Single-page-app servers answer every path with their index.html: that is not a model file.
    if (!file.endsWith('.html') && (r.headers.get('content-type') ?? '').includes('text/html')) return false;
    return true;
  }

  async read(file: string): Promise<ArrayBuffer> {
    if (!(await this.has(file))) throw new MissingFileError(`${this.name}/${file}`, 'not found (HTTP 404)');
    const body = await (await this.get(file)).clone().arrayBuffer();
    return body;
  }
}
