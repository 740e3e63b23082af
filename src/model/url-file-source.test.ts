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
    // The commit is left out where the file has a tag: it changes with any file of the repository.
    expect(await hub.version()).toBe('etag="sha-abc";size=100000');
    // The load's own probe: reading the header afterwards asks nothing more.
    expect(await hub.readRange('model.safetensors', 0, 1000)).toEqual(file.slice(0, 1000));
    expect(requests).toEqual(['https://hub.test/m/model.safetensors bytes=0-65535']);

    const plain = new UrlFolderSource('https://srv.test/m', {
      fetch: fakeFetch({ 'model.safetensors': ranged({ 'last-modified': 'Sun, 06 Dec 2026 01:00:00 GMT' }) }),
    });
    expect(await plain.version()).toBe('modified=Sun, 06 Dec 2026 01:00:00 GMT;size=100000');
    const bare = new UrlFolderSource('https://srv.test/m', { fetch: fakeFetch({ 'model.safetensors': ranged({ 'x-repo-commit': 'c0ffee' }) }) });
    expect(await bare.version()).toBe('commit=c0ffee;size=100000');

    // Sharded: every shard's version, by the index.
    const index = JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } });
    const sharded = new UrlFolderSource('https://srv.test/s', {
      fetch: fakeFetch({
        'model.safetensors.index.json': () => new Response(index),
        'model-00001-of-00002.safetensors': ranged({ etag: '"s1"' }),
        'model-00002-of-00002.safetensors': ranged({ etag: '"s2"' }),
      }),
    });
    expect(await sharded.version()).toBe('model-00001-of-00002.safetensors:etag="s1";size=100000|model-00002-of-00002.safetensors:etag="s2";size=100000');

    // A server that ignores Range sends the whole file: checking its version does not leave that download running.
    let cancelled = false;
    const whole = new UrlFolderSource('https://srv.test/w', {
      fetch: fakeFetch({
        'model.safetensors': () =>
          new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(65536)), cancel: () => void (cancelled = true) }), {
            headers: { etag: '"w"' },
          }),
      }),
    });
    expect(await whole.version()).toBe(`etag="w";size=${Number.MAX_SAFE_INTEGER}`);
    expect(cancelled).toBe(true);
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
