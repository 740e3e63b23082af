import { describe, expect, it } from 'vitest';
import { AbortedError, MissingFileError, NetworkError } from '../errors';
import { UrlFolderSource } from './url-file-source';

const bytes = (n: number) => new Uint8Array(Array.from({ length: n }, (_, i) => i & 255));

/** A fetch that answers from a table, streaming bodies in 1 KiB parts. */
function fakeFetch(table: Record<string, () => Response | Promise<Response>>): typeof fetch {
  return async (input) => {
    const url = String(input);
    const answer = table[url.split('/').pop()!];
    if (!answer) return new Response('no', { status: 404 });
    return answer();
  };
}

function streamed(data: Uint8Array, length = data.length): Response {
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= data.length) return c.close();
      c.enqueue(data.subarray(at, at + 1024));
      at += 1024;
    },
  });
  return new Response(body, { headers: { 'content-length': String(length) } });
}

describe('UrlFolderSource', () => {
  it('reads a file with per-file progress up to its Content-Length', async () => {
    const events: [string, number, number | null][] = [];
    const src = new UrlFolderSource('https://hub.test/m', {
      fetch: fakeFetch({ 'a.bin': () => streamed(bytes(5000)) }),
      onProgress: (f, l, t) => events.push([f, l, t]),
    });
    expect(new Uint8Array(await src.read('a.bin'))).toEqual(bytes(5000));
    expect(events.at(-1)).toEqual(['a.bin', 5000, 5000]);
    expect(events.length).toBe(5);
  });

  it('turns 404 into MissingFileError, other HTTP errors and failed requests into NetworkError with the URL', async () => {
    const src = new UrlFolderSource('https://hub.test/m', {
      fetch: fakeFetch({
        'e.json': () => new Response('boom', { status: 500, statusText: 'Server Error' }),
        'x.json': () => Promise.reject(new TypeError('Failed to fetch')),
      }),
    });
    await expect(src.read('missing.json')).rejects.toBeInstanceOf(MissingFileError);
    await expect(src.read('e.json')).rejects.toMatchObject({
      code: 'NETWORK',
      file: 'https://hub.test/m/e.json',
      message: expect.stringContaining('HTTP 500 Server Error'),
    });
    await expect(src.read('x.json')).rejects.toBeInstanceOf(NetworkError);
  });

  it('rejects a body shorter than its Content-Length (a cut connection)', async () => {
    const src = new UrlFolderSource('https://hub.test/m', { fetch: fakeFetch({ 'c.bin': () => streamed(bytes(3000), 9000) }) });
    await expect(src.read('c.bin')).rejects.toMatchObject({
      code: 'NETWORK',
      message: expect.stringContaining('received 3000 bytes, Content-Length said 9000'),
    });
  });

  it('stops a download when its signal fires', async () => {
    const controller = new AbortController();
    const src = new UrlFolderSource('https://hub.test/m', {
      fetch: fakeFetch({ 'big.bin': () => streamed(bytes(100_000)) }),
      signal: controller.signal,
      onProgress: (_, loaded) => loaded >= 4096 && controller.abort(),
    });
    // The fake fetch ignores the signal once the body streams; the reader sees the abort between parts.
    await expect(src.read('big.bin')).rejects.toBeInstanceOf(AbortedError);
  });
});
