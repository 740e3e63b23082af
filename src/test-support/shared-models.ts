// Test access to the third-party models and texts in ../shared (never copied into this repository).
// A missing file fails the test with its path, instead of letting it pass silently.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, type LoadedModel } from '../model/load-model';
import { NodeFolderSource } from '../model/node-file-source';

export const SHARED = resolve(import.meta.dirname, '../../../shared');

export type SharedModel = 'stories260K' | 'aidreams260K' | 'tinystories-656k';

export function sharedPath(rel: string): string {
  const p = resolve(SHARED, rel);
  if (!existsSync(p)) throw new Error(`test data missing: ${p} (these tests need ../shared beside the project)`);
  return p;
}

const cache = new Map<SharedModel, Promise<LoadedModel>>();

export function sharedModel(name: SharedModel): Promise<LoadedModel> {
  let p = cache.get(name);
  if (!p) cache.set(name, (p = loadModel(new NodeFolderSource(sharedPath(`models/${name}`)))));
  return p;
}

export function sharedText(name: 'tinystories-valid-head.txt' | 'wikitext-2-raw-test.txt'): string {
  return readFileSync(sharedPath(`text/${name}`), 'utf8').replace(/\r\n/g, '\n');
}
