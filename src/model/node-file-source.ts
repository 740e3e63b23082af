// Node-only: a model folder on disk. Never imported by browser code.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingFileError } from '../errors';
import type { ModelFileSource } from './file-source';

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
    try {
      const b = await readFile(join(this.name, file));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingFileError(join(this.name, file));
      throw e;
    }
  }
}
