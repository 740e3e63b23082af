// Where a model's files come from. A browser reads them from the network or a user's file picker; Node
// reads a folder. Loaders only see this interface: small text files whole, weight files by byte range,
// so no buffer ever holds a whole multi-gigabyte file.

import { MissingFileError, ModelFormatError } from '../errors';

export interface ModelFileSource {
  /** Folder path, URL or repo id, used in error messages. */
  readonly name: string;
  has(file: string): Promise<boolean>;
  /** A small file's bytes (config, tokenizer, shard index); throws MissingFileError when it does not exist. */
  read(file: string): Promise<ArrayBuffer>;
  /** The file's length in bytes. */
  size(file: string): Promise<number>;
  /**
   * Bytes [begin, end) of a file. Callers read a file's ranges in increasing order where they can (a
   * server that ignores Range requests is then read in one pass); a range past the end is an error.
   */
  readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * What identifies the current content of the model's weights at a remote source (ETag, Last-Modified and
   * size of its weight file, the Hub's commit), from the request a load makes first anyway; null when the
   * weight file is not there. Sources whose identity is in their cache key (picked files, folders) lack it.
   * Throws NetworkError when the source cannot be reached (offline).
   */
  version?(): Promise<string | null>;
}

export async function readText(source: ModelFileSource, file: string): Promise<string> {
  return new TextDecoder().decode(await source.read(file));
}

/** The typed error for a range a file does not have (a truncated download or file). */
export function shortRead(source: ModelFileSource, file: string, begin: number, end: number, got: number): ModelFormatError {
  return new ModelFormatError('file is shorter than its header says (truncated?)', {
    file: `${source.name}/${file}`,
    expected: `bytes [${begin}, ${end})`,
    got: `${got} bytes from ${begin}`,
  });
}

/** Files held in memory (tests, generated models). */
export class MemoryFileSource implements ModelFileSource {
  /** Every readRange call, for tests of the loader's access pattern. */
  readonly ranges: { file: string; begin: number; end: number }[] = [];

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

  async size(file: string): Promise<number> {
    return (await this.read(file)).byteLength;
  }

  async readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const all = await this.read(file);
    if (end > all.byteLength) throw shortRead(this, file, begin, end, Math.max(0, all.byteLength - begin));
    this.ranges.push({ file, begin, end });
    return new Uint8Array(all.slice(begin, end));
  }
}
