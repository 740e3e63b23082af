// Hostile and broken model files: thousands of seeded mutations of a real model's safetensors header,
// config.json and tokenizer.json, and of llama.cpp's GGUF file of the same model (header, metadata,
// tensor infos), go through the whole loader (loadModel). Every case must end in a
// loaded model or a typed EngineError — never another exception, a hang or an allocation the file
// cannot back. The seed is fixed, so a failure reproduces.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { seededRandom } from '../engine/sampling';
import { sharedPath } from '../test-support/shared-models';
import { MemoryFileSource } from './file-source';
import { readGgufHeader } from './gguf';
import { GgufModelSource } from './gguf-model';
import { loadModel } from './load-model';

const dir = sharedPath('models/stories260K');
const CONFIG = readFileSync(`${dir}/config.json`, 'utf8');
const TOKENIZER = readFileSync(`${dir}/tokenizer.json`, 'utf8');
const TOKENIZER_CONFIG = readFileSync(`${dir}/tokenizer_config.json`, 'utf8');
const WEIGHTS = new Uint8Array(readFileSync(`${dir}/model.safetensors`));
const HEADER_LEN = Number(new DataView(WEIGHTS.buffer, WEIGHTS.byteOffset).getBigUint64(0, true));
const HEADER = new TextDecoder().decode(WEIGHTS.subarray(8, 8 + HEADER_LEN));

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, n: number) => Math.floor(r() * n);

/** Values that break loaders: huge, negative, fractional, wrong types, deep nesting. */
function hostileValue(r: Rand): unknown {
  const deep = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;
  return pick(r, [-1, 0, 2 ** 53, 1e308, -1e308, 0.5, NaN, '', 'x'.repeat(int(r, 1000)), null, true, {}, [], [-1, 2 ** 40], [2 ** 62, 2 ** 62], deep(50)]);
}

/** Mutate a JSON text: change, delete or nest values, or damage the text itself. */
function mutateJson(text: string, r: Rand): string {
  const kind = int(r, 6);
  if (kind === 0) {
    const b = new TextEncoder().encode(text);
    for (let i = 0, n = 1 + int(r, 8); i < n; i++) b[int(r, b.length)] = int(r, 256);
    return new TextDecoder().decode(b);
  }
  if (kind === 1) return text.slice(0, int(r, text.length));
  if (kind === 2) return '['.repeat(20_000 + int(r, 100_000)) + ']'.repeat(int(r, 3) === 0 ? 0 : 120_000);
  const obj = JSON.parse(text) as Record<string, unknown>;
  // Walk to a random nested object and change one of its fields.
  let target: Record<string, unknown> = obj;
  for (let depth = 0; depth < 3; depth++) {
    const inner = Object.values(target).filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v));
    if (!inner.length || r() < 0.4) break;
    target = pick(r, inner);
  }
  const keys = Object.keys(target);
  const key = keys.length ? pick(r, keys) : 'x';
  if (kind === 3) delete target[key];
  else if (kind === 4) target[key] = hostileValue(r);
  else {
    const v = target[key];
    if (Array.isArray(v) && v.length) v[int(r, v.length)] = hostileValue(r);
    else target[key] = hostileValue(r);
  }
  return JSON.stringify(obj);
}

/** A safetensors file with a mutated header, length field, or body. */
function mutateSafetensors(r: Rand): ArrayBuffer {
  const kind = int(r, 5);
  if (kind === 0) return WEIGHTS.slice(0, int(r, WEIGHTS.length)).buffer; // truncated
  if (kind === 1) {
    const b = WEIGHTS.slice();
    new DataView(b.buffer).setBigUint64(0, pick(r, [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(HEADER_LEN + 1 + int(r, 100)), BigInt(int(r, 2 ** 31))]), true);
    return b.buffer;
  }
  if (kind === 2) return Uint8Array.from({ length: int(r, 4096) }, () => int(r, 256)).buffer; // random bytes
  // A new header (mutated JSON, or an entry with hostile offsets / shapes), then the original data.
  let header: string;
  if (kind === 3) header = mutateJson(HEADER, r);
  else {
    const h = JSON.parse(HEADER) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    const names = Object.keys(h).filter((k) => k !== '__metadata__');
    const e = h[pick(r, names)];
    const other = h[pick(r, names)];
    switch (int(r, 5)) {
      case 0:
        e.data_offsets = [other.data_offsets[0], other.data_offsets[0] + (e.data_offsets[1] - e.data_offsets[0])];
        break; // overlap
      case 1:
        e.data_offsets = [-8, e.data_offsets[1]];
        break;
      case 2:
        e.shape = [2 ** 26, 2 ** 26];
        e.data_offsets = [0, 2 ** 54];
        break; // huge declared size
      case 3:
        e.shape = e.shape.map((n) => n * 2);
        break;
      default:
        e.dtype = pick(r, ['F64', 'I8', 'Q4_K', '', 'F32 ']);
    }
    header = JSON.stringify(h);
  }
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + hb.length + (WEIGHTS.length - 8 - HEADER_LEN));
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(WEIGHTS.subarray(8 + HEADER_LEN), 8 + hb.length);
  return out.buffer;
}

const GGUF = new Uint8Array(readFileSync(sharedPath('models/stories260K/original/stories260K.gguf')));
const GGUF_DATA = (await readGgufHeader(new MemoryFileSource('g', new Map([['m.gguf', GGUF.slice().buffer]])), 'm.gguf')).dataOffset;

/** A GGUF file with damaged header bytes: flipped bytes, hostile u64 / u32 fields, truncation, random bytes. */
function mutateGguf(r: Rand): ArrayBuffer {
  const kind = int(r, 5);
  if (kind === 0) return GGUF.slice(0, int(r, GGUF.length)).buffer;
  if (kind === 1) return Uint8Array.from({ length: int(r, 4096) }, () => int(r, 256)).buffer;
  const b = GGUF.slice();
  const v = new DataView(b.buffer);
  for (let i = 0, n = 1 + int(r, 4); i < n; i++) {
    const at = int(r, GGUF_DATA - 8);
    if (kind === 2) b[at] = int(r, 256);
    else if (kind === 3) v.setBigUint64(at, pick(r, [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(int(r, 2 ** 31)), BigInt(GGUF.length)]), true);
    else v.setUint32(at, pick(r, [0, 1, 9, 12, 13, 99, 2 ** 31, 2 ** 32 - 1, int(r, 64)]), true);
  }
  return b.buffer;
}

async function tryGguf(bytes: ArrayBuffer): Promise<string> {
  try {
    await loadModel(new GgufModelSource(new MemoryFileSource('fuzz', new Map([['m.gguf', bytes]])), 'm.gguf'));
    return 'loaded';
  } catch (e) {
    if (e instanceof EngineError) return e.code;
    throw new Error(`not a typed error: ${(e as Error)?.name}: ${String((e as Error)?.message).slice(0, 200)}`);
  }
}

async function tryLoad(files: { config: string; tokenizer: string; weights: ArrayBuffer }): Promise<string> {
  const source = new MemoryFileSource(
    'fuzz',
    new Map<string, ArrayBuffer | string>([
      ['config.json', files.config],
      ['tokenizer.json', files.tokenizer],
      ['tokenizer_config.json', TOKENIZER_CONFIG],
      ['model.safetensors', files.weights],
    ]),
  );
  try {
    await loadModel(source);
    return 'loaded';
  } catch (e) {
    if (e instanceof EngineError) return e.code;
    throw new Error(`not a typed error: ${(e as Error)?.name}: ${String((e as Error)?.message).slice(0, 200)}`);
  }
}

describe('loaders under hostile input', () => {
  for (const [what, cases] of [
    ['model.safetensors', 1200],
    ['config.json', 1200],
    ['tokenizer.json', 300],
  ] as const) {
    it(`${cases} mutated ${what} files each load or fail with a typed error`, async () => {
      const r = seededRandom(what.length * 7919);
      const outcomes = new Map<string, number>();
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < cases; i++) {
        const files = { config: CONFIG, tokenizer: TOKENIZER, weights: WEIGHTS.slice().buffer };
        if (what === 'model.safetensors') files.weights = mutateSafetensors(r);
        else if (what === 'config.json') files.config = mutateJson(CONFIG, r);
        else files.tokenizer = mutateJson(TOKENIZER, r);
        const outcome = await tryLoad(files).catch((e: Error) => `case ${i}: ${e.message}`);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      const untyped = [...outcomes.keys()].filter((k) => k.startsWith('case '));
      expect(untyped).toEqual([]);
      expect(outcomes.get('MODEL_FORMAT') ?? 0).toBeGreaterThan(cases / 4); // the mutations do break things
      // Nothing the files declared was allocated: retained ArrayBuffer memory stays within a few copies of the model.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
    });
  }

  it('1500 mutated stories260K.gguf files each load or fail with a typed error', async () => {
    const r = seededRandom(2718);
    const outcomes = new Map<string, number>();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1500; i++) {
      const outcome = await tryGguf(mutateGguf(r)).catch((e: Error) => `case ${i}: ${e.message}`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].filter((k) => k.startsWith('case '))).toEqual([]);
    expect(outcomes.get('MODEL_FORMAT') ?? 0).toBeGreaterThan(1500 / 4);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });
});
