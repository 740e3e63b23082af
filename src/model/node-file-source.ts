// Node-only: a model folder on disk, read through file handles (files past 2 GiB included). Never
// imported by browser code.

import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MissingFileError } from '../errors';
import { shortRead, type ModelFileSource } from './file-source';
import { GgufModelSource, isGgufFileName } from './gguf-model';

/** A model on disk: a Hugging Face folder, or a .gguf file. */
export function nodeModelSource(path: string): ModelFileSource {
  return isGgufFileName(path) ? new GgufModelSource(new NodeFolderSource(dirname(path)), basename(path)) : new NodeFolderSource(path);
}

export class NodeFolderSource implements ModelFileSource {
  constructor(readonly name: string) {}

  async has(file: string): Promise<boolean> {
    try {
      return (await stat(join(this.name, file))).isFile();
    } catch {
      return false;
    }
  }

  async read(file: string): Promise<ArrayBuffer> {
    const b = await this.wrap(file, () => readFile(join(this.name, file)));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }

  async size(file: string): Promise<number> {
    return (await this.wrap(file, () => stat(join(this.name, file)))).size;
  }

  async readRange(file: string, begin: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const handle = await this.wrap(file, () => open(join(this.name, file), 'r'));
    try {
      const out = new Uint8Array(end - begin);
      let got = 0;
      while (got < out.length) {
        const { bytesRead } = await handle.read(out, got, out.length - got, begin + got);
        if (bytesRead === 0) throw shortRead(this, file, begin, end, got);
        got += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  private async wrap<T>(file: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingFileError(join(this.name, file));
      throw e;
    }
  }
}
