// keep(n) checked the same way on both backends: a session that ran a history, kept its first n tokens and ran
// the rest again, against a fresh session that ran only the kept tokens the same way.

import { expect } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { exactPrefix } from '../cache/keep';
import type { Backend, DecodeSession } from '../engine/backend';

/** Calls of a session's history: prompt slices and single decode steps. */
const CALLS = [Array.from({ length: 150 }, (_, i) => 1 + ((i * 37) % 500)), [3, 44, 91, 7], [12], [300], [5]];
const TAIL = [17, 260, 41];

/** Run the calls up to token n (cutting the call that crosses it), as a session that had only those tokens would have. */
async function runUpTo(s: DecodeSession, n: number): Promise<void> {
  let at = 0;
  for (const c of CALLS) {
    if (at >= n) break;
    const part = c.slice(0, n - at);
    await s.forward(part, 'last');
    at += part.length;
  }
}

/** keep(n) then the rest again, against a fresh session that ran the kept tokens the same way: equal logits. */
export async function checkKeep(backend: Backend, mode: string, n: number, tolerance: number): Promise<number> {
  const config = parseCacheMode(mode);
  const all = CALLS.flat();
  const a = backend.createSession(config);
  for (const c of CALLS) await a.forward(c, 'last');
  const m = a.keep(n);
  expect(m).toBe(exactPrefix(config, all.length, n));
  expect(a.length).toBe(m);
  const rest = [...all.slice(m, n), ...TAIL];
  const got = await a.forward(rest, 'all');
  const b = backend.createSession(config);
  await runUpTo(b, m);
  const want = await b.forward(rest, 'all');
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(tolerance);
  a.close();
  b.close();
  return m;
}
