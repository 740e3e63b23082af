// Where a model's files come from. A browser reads them from the network, IndexedDB or a user's file
// picker; Node reads a folder. Loaders only see this interface.

import { MissingFileError } from '../errors';

export interface ModelFileSource {
  /** Folder path, URL or repo id, used in error messages. */
  readonly name: string;
  has(file: string): Promise<boolean>;
  /** The file's bytes; throws MissingFileError when it does not exist. */
  read(file: string): Promise<ArrayBuffer>;
}

export async function readText(source: ModelFileSource, file: string): Promise<string> {
  return new TextDecoder().decode(await source.read(file));
}

/** Files held in memory (tests, files the user picked). */
export class MemoryFileSource implements ModelFileSource {
  constructor(
    readonly name: string,
    private readonly files: Map<string, ArrayBuffer | string>,
  ) {}

  async has(file: string): Promise<boolean> {
    return this.files.has(file);
  }

  async read(file: string): Promise<ArrayBuffer> {
    const f = this.files.get(file);
    if (f === undefined) throw new MissingFileError(`${this.name}/${file}`);
    return typeof f === 'string' ? (new TextEncoder().encode(f).buffer as ArrayBuffer) : f;
  }
}
