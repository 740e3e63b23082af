import { describe, expect, it } from 'vitest';
import { AbortedError } from '../errors';
import { RequestQueue } from './request-queue';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('RequestQueue', () => {
  it('runs requests one at a time in arrival order; an aborted waiting request never starts', async () => {
    const q = new RequestQueue();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };
    const a = q.run('a', task('a'));
    const b = q.run('b', task('b'));
    const c = q.run('c', task('c'));
    expect(q.abort('b')).toBe(true);
    expect(await a).toBe('a');
    await expect(b).rejects.toBeInstanceOf(AbortedError);
    expect(await c).toBe('c');
    expect(log).toEqual(['start a', 'end a', 'start c', 'end c']);
    expect(q.pending).toBe(0);
    expect(q.abort('a')).toBe(false);
  });

  it('fires the signal of the running request; the queue goes on after a failure', async () => {
    const q = new RequestQueue();
    const running = q.run('x', (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new AbortedError('decode')))));
    await tick();
    q.abort('x');
    await expect(running).rejects.toThrow('aborted during decode');
    expect(await q.run('y', async () => 42)).toBe(42);
  });
});
