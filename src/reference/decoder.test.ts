// The reference decoder against the oracles of shared/models/README.md (float64 reference values).

import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { createReferenceCache } from './caches/create-cache';
import { ReferenceBackend } from './backend';
import { generateIds } from '../engine/generate';
import { GREEDY } from '../engine/sampling';
import { evaluatePerplexity } from '../eval/perplexity';
import { sharedModel, sharedText, type SharedModel } from '../test-support/shared-models';
import { ReferenceDecoder } from './decoder';

const F32 = parseCacheMode('f32');

async function greedy(name: SharedModel, n: number): Promise<number[]> {
  const m = await sharedModel(name);
  return generateIds(new ReferenceBackend(m), [1], { maxTokens: n, cache: F32, sampling: GREEDY, stopIds: [] });
}

async function ppl(name: SharedModel, ctx: number, windows: number): Promise<number> {
  const m = await sharedModel(name);
  const ids = m.tokenizer.encode(sharedText('tinystories-valid-head.txt'));
  return (await evaluatePerplexity(new ReferenceBackend(m), ids, { ctx, windows, bos: 1, cache: F32 })).ppl;
}

describe('reference decoder oracles', () => {
  it('stories260K: greedy ids from BOS', async () => {
    expect((await greedy('stories260K', 32)).join(' ')).toBe(
      '403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385',
    );
  });

  it('stories260K: top logits for the oracle prompt', async () => {
    const m = await sharedModel('stories260K');
    const prompt = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426];
    const logits = new ReferenceDecoder(m).forward(prompt, createReferenceCache(m, F32));
    const top = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    expect(top.slice(0, 3)).toEqual([338, 385, 317]);
    expect(logits[338]).toBeCloseTo(17.4565, 2);
    expect(logits[385]).toBeCloseTo(14.7381, 2);
    expect(logits[317]).toBeCloseTo(13.8856, 2);
  });

  it('stories260K: the tokenizer encodes the text as the oracle says', async () => {
    const m = await sharedModel('stories260K');
    expect(m.tokenizer.encode(sharedText('tinystories-valid-head.txt').slice(0, 400)).slice(0, 16).join(' ')).toBe(
      '301 427 309 426 301 427 309 394 265 262 415 271 422 280 295 269',
    );
    expect(m.tokenizer.decode([403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426])).toBe(
      'Once upon a time, there was a little girl named Lily.',
    );
  });

  it('tinystories-656k (only lm_head.weight stored) and aidreams260K: greedy ids from BOS', async () => {
    expect((await greedy('tinystories-656k', 12)).join(' ')).toBe('147 201 282 215 286 598 1662 356 499 826 1363 1145');
    expect((await greedy('aidreams260K', 8)).join(' ')).toBe('319 459 355 260 275 429 339 315');
  });

  it('prefill then decode equals one batched prefill', async () => {
    const m = await sharedModel('stories260K');
    const dec = new ReferenceDecoder(m);
    const ids = [1, 403, 407, 261, 378, 432, 383, 286];
    const batched = dec.forward(ids, createReferenceCache(m, F32));
    const cache = createReferenceCache(m, F32);
    dec.forward(ids.slice(0, 5), cache);
    let last: Float32Array = new Float32Array();
    for (const id of ids.slice(5)) last = dec.forward([id], cache);
    for (let i = 0; i < last.length; i++) expect(last[i]).toBeCloseTo(batched[i], 4);
  });
});

describe('reference perplexity (protocol of shared/models/README.md)', () => {
  it('stories260K ctx 512, 32 windows: 4.2762 ± 0.3%', async () => {
    expect(Math.abs((await ppl('stories260K', 512, 32)) / 4.2762 - 1)).toBeLessThan(0.003);
  });

  it('tinystories-656k ctx 512, 32 windows: 34.991 ± 0.3%', async () => {
    expect(Math.abs((await ppl('tinystories-656k', 512, 32)) / 34.991 - 1)).toBeLessThan(0.003);
  });

  it('aidreams260K ctx 128, 64 windows: 232.57 ± 0.3%', async () => {
    expect(Math.abs((await ppl('aidreams260K', 128, 64)) / 232.57 - 1)).toBeLessThan(0.003);
  });
});
