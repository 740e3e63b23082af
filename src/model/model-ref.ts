// What a caller may name as a model, and how each becomes a file source plus the identity the weight
// cache stores it under:
//   'owner/name'                      a Hugging Face repo id: {hubBase}/{repo}/resolve/{revision}/{file}
//   { hub, revision?, hubBase?, file? } the same, spelled out; `file` names a .gguf file in the repo
//   '/models/x', './x', 'https://…'   any URL prefix of a model folder (a mirror, a local server), or
//                                     the URL of a .gguf file
//   { files: File[] }                 files the user picked (file input or directory picker): a model
//                                     folder's files, or one .gguf file

import { InvalidArgumentError, MissingFileError } from '../errors';
import { shortRead, type ModelFileSource } from './file-source';
import { GgufModelSource, isGgufFileName } from './gguf-model';
import { UrlFolderSource, type UrlSourceOptions } from './url-file-source';

export type ModelRef = string | { hub: string; revision?: string; hubBase?: string; file?: string } | { url: string } | { files: File[]; name?: string };

export const DEFAULT_HUB_BASE = 'https://huggingface.co';

export interface ResolvedModel {
  /** Identity in the weight cache: the same id and revision mean the same files. */
  id: string;
  revision: string;
  /** Short name for display. */
  name: string;
  source: ModelFileSource;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
/** An absolute URL (a scheme) or a path: '/x', './x', '../x'. */
const URL_LIKE = /^(?:[a-z][a-z\d+.-]*:|\.{0,2}\/)/i;
const MODEL_EXPECTED = "a Hugging Face repo id (owner/name), a URL (https://…), or a path starting with '/', './' or '../'";

/** Whether a string names a URL (with a scheme) or a path ('/x', './x', '../x'), rather than other text. */
export function isUrlLike(s: string): boolean {
  return URL_LIKE.test(s.trim());
}

export function isHubRepoId(s: string): boolean {
  return REPO_ID.test(s) && !s.includes('..');
}

/**
 * Resolve a reference. `base` resolves relative URLs (the page's or the worker's location); `hubBase`
 * is the default Hub address (configurable, so mirrors and local servers work).
 */
export function resolveModelRef(ref: ModelRef, base: string, o: UrlSourceOptions & { hubBase?: string } = {}): ResolvedModel {
  if (typeof ref === 'string') {
    if (ref.trim() === '') throw new InvalidArgumentError('empty model reference', { field: 'model', expected: MODEL_EXPECTED });
    if (isHubRepoId(ref)) return resolveModelRef({ hub: ref }, base, o);
    // Anything else must look like a URL: text such as "SmolLM2" would otherwise resolve against the page's address.
    if (!isUrlLike(ref)) {
      throw new InvalidArgumentError('neither a Hugging Face repo id nor a URL', { field: 'model', expected: MODEL_EXPECTED, got: ref });
    }
    return resolveModelRef({ url: ref.trim() }, base, o);
  }
  if ('hub' in ref) {
    if (!isHubRepoId(ref.hub)) throw new InvalidArgumentError('not a Hugging Face repo id', { field: 'model.hub', expected: 'owner/name', got: ref.hub });
    const revision = ref.revision ?? 'main';
    const hubBase = (ref.hubBase ?? o.hubBase ?? DEFAULT_HUB_BASE).replace(/\/+$/, '');
    const url = `${hubBase}/${ref.hub}/resolve/${encodeURIComponent(revision)}`;
    const folder = new UrlFolderSource(new URL(url, base).href, o);
    if (ref.file === undefined) return { id: `hub:${hubBase}/${ref.hub}`, revision, name: ref.hub, source: folder };
    if (!isGgufFileName(ref.file) || ref.file.startsWith('/') || ref.file.includes('..')) {
      throw new InvalidArgumentError('not a .gguf file in the repo', { field: 'model.file', expected: 'a path such as model-Q4_0.gguf', got: ref.file });
    }
    return { id: `hub:${hubBase}/${ref.hub}/${ref.file}`, revision, name: `${ref.hub}/${ref.file}`, source: new GgufModelSource(folder, ref.file) };
  }
  if ('url' in ref) {
    let href: string;
    try {
      href = new URL(ref.url, base).href.replace(/\/+$/, '');
    } catch {
      throw new InvalidArgumentError('not a URL', { field: 'model.url', got: ref.url });
    }
    const name = href.split('/').pop() || href;
    if (isGgufFileName(new URL(href).pathname)) {
      const cut = href.lastIndexOf('/');
      return {
        id: `url:${href}`,
        revision: '',
        name,
        source: new GgufModelSource(new UrlFolderSource(href.slice(0, cut), o), decodeURIComponent(href.slice(cut + 1))),
      };
    }
    return { id: `url:${href}`, revision: '', name, source: new UrlFolderSource(href, o) };
  }
  if ('files' in ref) {
    const files = new Map<string, File>();
    for (const f of ref.files) files.set(f.name, f);
    if (files.size === 0) throw new InvalidArgumentError('no files picked', { field: 'model.files', expected: 'config.json, tokenizer.json and safetensors' });
    const folder = ref.name ?? ((ref.files[0].webkitRelativePath ?? '').split('/')[0] || 'local model');
    // Picked files have no revision: their sizes and dates stand in for one.
    const stamp = [...files.values()]
      .map((f) => `${f.name}:${f.size}:${f.lastModified}`)
      .sort()
      .join(',');
    const ggufs = [...files.keys()].filter(isGgufFileName);
    if (ggufs.length > 1)
      throw new InvalidArgumentError('more than one .gguf file picked', { field: 'model.files', expected: 'one .gguf file', got: ggufs.join(', ') });
    if (ggufs.length === 1) {
      const g = files.get(ggufs[0])!;
      return {
        id: `files:${ggufs[0]}`,
        revision: `${g.size}:${g.lastModified}`,
        name: ggufs[0],
        source: new GgufModelSource(new PickedFilesSource(folder, files), ggufs[0]),
      };
    }
    return { id: `files:${folder}`, revision: stamp, name: folder, source: new PickedFilesSource(folder, files) };
  }
  throw new InvalidArgumentError('unknown model reference', { field: 'model', expected: 'a repo id, { hub }, { url } or { files }' });
}

/** Files the user picked; `webkitRelativePath` folders are ignored (a model folder is flat). */
export class PickedFilesSource implements ModelFileSource {
  constructor(
    readonly name: string,
    private readonly files: Map<string, File>,
  ) {}

  async has(file: string): Promise<boolean> {
    return this.files.has(file);
  }

  async read(file: string): Promise<ArrayBuffer> {
    return this.file(file).arrayBuffer();
  }

  async size(file: string): Promise<number> {
    return this.file(file).size;
  }

  /** File.slice reads only the range: a picked multi-gigabyte file is never held whole. */
  async readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const f = this.file(file);
    if (end > f.size) throw shortRead(this, file, begin, end, Math.max(0, f.size - begin));
    return new Uint8Array(await f.slice(begin, end).arrayBuffer());
  }

  private file(file: string): File {
    const f = this.files.get(file);
    if (!f) throw new MissingFileError(`${this.name}/${file}`, 'not among the picked files');
    return f;
  }
}
