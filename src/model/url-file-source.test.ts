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

  it("names the weights' version from the first range request: ETag (the Hub's x-linked-etag), Last-Modified, size, commit", async () => {
    const requests: string[] = [];
    const file = bytes(100_000);
    const ranged = (headers: Record<string, string>) => () =>
      new Response(file.slice(0, 65536), { status: 206, headers: { 'content-range': 'bytes 0-65535/100000', 'content-length': '65536', ...headers } });
    const hub = new UrlFolderSource('https://hub.test/m', {
      fetch: async (input, init) => {
        requests.push(`${String(input)} ${new Headers(init?.headers).get('range')}`);
        return fakeFetch({ 'model.safetensors': ranged({ etag: '"w1"', 'x-linked-etag': '"sha-abc"', 'x-repo-commit': 'c0ffee' }) })(input, init);
      },
    });
    expect(await hub.version()).toBe('etag="sha-abc";modified=;size=100000;commit=c0ffee');
    // The load's own probe: reading the header afterwards asks nothing more.
    expect(await hub.readRange('model.safetensors', 0, 1000)).toEqual(file.slice(0, 1000));
    expect(requests).toEqual(['https://hub.test/m/model.safetensors bytes=0-65535']);

    const plain = new UrlFolderSource('https://srv.test/m', {
      fetch: fakeFetch({ 'model.safetensors': ranged({ 'last-modified': 'Sun, 06 Dec 2026 01:00:00 GMT' }) }),
    });
    expect(await plain.version()).toBe('etag=;modified=Sun, 06 Dec 2026 01:00:00 GMT;size=100000;commit=');
    const gone = new UrlFolderSource('https://srv.test/none', { fetch: fakeFetch({}) });
    expect(await gone.version()).toBeNull();
    const offline = new UrlFolderSource('https://srv.test/m', { fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    await expect(offline.version()).rejects.toBeInstanceOf(NetworkError);
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
