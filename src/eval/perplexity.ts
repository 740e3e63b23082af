// Perplexity by the protocol of shared/models/README.md ("whole text"): encode the text once without BOS,
// cut it into consecutive windows of ctx-1 ids, prefix each with BOS, score every next-token prediction.
//
// With the `f32` cache a window runs as one batched prefill. With any other mode every token is a decode
// step, so each prediction attends to the cache's stored (quantized) form of all earlier tokens and only
// its own K/V is exact: the same as generation, and the only way quantization can show in a perplexity.

import { InvalidArgumentError, throwIfAborted } from '../errors';
import { MODE_TRAITS, type CacheConfig } from '../cache/cache-config';
import type { Backend } from '../engine/backend';
import { logSumExp } from '../reference/ops';

/** Decode steps per forwardEach call in quantized modes. */
const DECODE_SLICE = 128;

export interface PerplexityOptions {
  ctx: number;
  windows: number;
  bos: number;
  cache: CacheConfig;
  signal?: AbortSignal;
}

export interface PerplexityResult {
  ppl: number;
  meanNll: number;
  scoredTokens: number;
  windows: number;
}

/** Cut ids into the first `windows` windows of ctx-1 ids, each prefixed with BOS. */
export function perplexityWindows(ids: readonly number[], ctx: number, windows: number, bos: number): number[][] {
  if (!Number.isInteger(ctx) || ctx < 2) throw new InvalidArgumentError('must be an integer >= 2', { field: 'ctx', got: String(ctx) });
  const available = Math.floor(ids.length / (ctx - 1));
  if (!Number.isInteger(windows) || windows < 1 || windows > available) {
    throw new InvalidArgumentError('not enough text for that many windows', {
      field: 'windows',
      expected: `1..${available} (the text has ${ids.length} tokens)`,
      got: String(windows),
    });
  }
  return Array.from({ length: windows }, (_, w) => [bos, ...ids.slice(w * (ctx - 1), (w + 1) * (ctx - 1))]);
}

export async function evaluatePerplexity(backend: Backend, ids: readonly number[], o: PerplexityOptions): Promise<PerplexityResult> {
  const V = backend.spec.vocabSize;
  let nll = 0;
  let scored = 0;
  for (const window of perplexityWindows(ids, o.ctx, o.windows, o.bos)) {
    throwIfAborted(o.signal, 'perplexity');
    await backend.prepare(o.cache);
    const session = backend.createSession(o.cache);
    try {
      const n = window.length - 1;
      if (MODE_TRAITS[o.cache.mode].lossless) {
        const logits = await session.forward(window.slice(0, n), 'all');
        for (let t = 0; t < n; t++) nll += logSumExp(logits, t * V, V) - logits[t * V + window[t + 1]];
      } else {
        // In slices, so an abort lands between them.
        for (let at = 0; at < n; at += DECODE_SLICE) {
          throwIfAborted(o.signal, 'perplexity');
          const ids = window.slice(at, Math.min(n, at + DECODE_SLICE));
          const logits = await session.forwardEach(ids);
          ids.forEach((_, r) => (nll += logSumExp(logits, r * V, V) - logits[r * V + window[at + r + 1]]));
        }
      }
      scored += n;
    } finally {
      session.close();
    }
  }
  const meanNll = nll / scored;
  return { ppl: Math.exp(meanNll), meanNll, scoredTokens: scored, windows: o.windows };
}
