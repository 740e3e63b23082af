import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../../cache/cache-config';
import { checkKeep } from '../../test-support/keep-check';
import { sharedModel } from '../../test-support/shared-models';
import { ReferenceBackend } from '../backend';

describe('keeping the first n tokens (reference)', () => {
  it.each(['f32', 'fp16', 'kivi-4', 'xquant-4', 'xquant-cl-2', 'xquant-gqa-4', 'xquant-4:residual=16'])(
    '%s: the kept prefix equals a session that ran only those tokens; the rule says how many are kept',
    async (mode) => {
      const backend = new ReferenceBackend(await sharedModel('stories260K'));
      // Inside the last decode steps, inside the second call, inside the first (a kivi block boundary is at 128).
      const kept = [];
      for (const n of [156, 152, 140, 60]) kept.push(await checkKeep(backend, mode, n, 0));
      const config = parseCacheMode(mode);
      if (config.residual)
        expect(kept).toEqual([0, 0, 0, 0]); // only keeping every token is exact with a ring
      else if (mode.startsWith('kivi') || mode.startsWith('xquant-gqa')) expect(kept).toEqual([156, 128, 128, 0]);
      else expect(kept).toEqual([156, 152, 140, 60]);
    },
  );
});
