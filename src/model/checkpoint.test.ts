// The streaming reader: a checkpoint opened by its headers and read by byte range, through the HTTP
// source against a fake server that honours Range, one that ignores it, and files in memory.

import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../errors';
import { packModelWeights } from '../quant/packed-weights';
import { collectPacked } from '../quant/weight-stream';
import { checkpointStream } from '../quant/pack-checkpoint';
import { buildSafetensors, syntheticSource, syntheticTensors, TINY, type SyntheticShape } from '../test-support/synthetic-model';
import { BLOCK_FLOATS, openCheckpoint } from './checkpoint';
import type { MemoryFileSource } from './file-source';
import { loadModel } from './load-model';
import { PROBE_BYTES, UrlFolderSource } from './url-file-source';

/** A server over a MemoryFileSource's files; bodies stream in `part`-byte pieces. */
function server(files: MemoryFileSource, o: { ranges: boolean; part?: number; noLength?: boolean }) {
  const log: { file: string; range: string | null }[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const file = String(input).split('/').pop()!;
    const range = new Headers(init?.headers).get('range');
    log.push({ file, range });
    if (!(await files.has(file))) return new Response('no', { status: 404 });
    const all = new Uint8Array(await files.read(file));
    const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    const [begin, end] = o.ranges && m ? [Number(m[1]), Math.min(all.length, Number(m[2]) + 1)] : [0, all.length];
    const body = all.subarray(begin, end);
    const part = o.part ?? 1000;
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= body.length) return c.close();
        c.enqueue(body.slice(at, at + part));
        at += part;
      },
    });
    const headers: Record<string, string> = o.noLength ? {} : { 'content-length': String(body.length) };
    if (o.ranges && m) headers['content-range'] = `bytes ${begin}-${end - 1}/${all.length}`;
    return new Response(stream, { status: o.ranges && m ? 206 : 200, headers });
  };
  return { fetchFn, log };
}

const BIG: SyntheticShape = { ...TINY, hidden: 64, heads: 4, headDim: 16, vocab: 600 };

describe('streaming checkpoint reader', () => {
  for (const ranges of [true, false]) {
    it(`reads every tensor exactly (server ${ranges ? 'honours' : 'ignores'} Range), headers larger than one read, bodies in uneven parts`, async () => {
      // 100 KiB of metadata: the header is longer than the first read of a file.
      const tensors = syntheticTensors(BIG);
      const files = syntheticSource(BIG, { files: { 'model.safetensors': buildSafetensors(tensors, { metadata: { notes: 'x'.repeat(100_000) } }) } });
      const want = await loadModel(syntheticSource(BIG));
      const s = server(files, { ranges, part: 777 });
      const progress: number[] = [];
      const url = new UrlFolderSource('https://hub.test/m', {
        fetch: s.fetchFn,
        onProgress: (f, loaded) => f === 'model.safetensors' && progress.push(loaded),
      });
      const got = await loadModel(url);
      expect(got.weights).toEqual(want.weights);
      const weightRequests = s.log.filter((r) => r.file === 'model.safetensors');
      expect(weightRequests[0].range).toBe(`bytes=0-${PROBE_BYTES - 1}`);
      const size = (await files.read('model.safetensors')).byteLength;
      expect(progress.at(-1)).toBe(size);
      expect(progress.every((v, i) => i === 0 || v >= progress[i - 1])).toBe(true);
      // Ranged: the probe, the rest of the header, then one request per tensor. Ignored: one pass over one body.
      expect(weightRequests.length).toBe(ranges ? 2 + tensors.length : 1);
    });
  }

  it('reads a body of unknown length (no Content-Length, Range ignored) in one pass; a cut body is a typed error', async () => {
    const files = syntheticSource(TINY);
    const s = server(files, { ranges: false, noLength: true });
    const got = await loadModel(new UrlFolderSource('https://hub.test/m', { fetch: s.fetchFn }));
    expect(got.weights).toEqual((await loadModel(syntheticSource(TINY))).weights);
    const full = new Uint8Array(buildSafetensors(syntheticTensors(TINY)));
    const cut = syntheticSource(TINY, { files: { 'model.safetensors': full.slice(0, full.length - 700).buffer } });
    await expect(loadModel(new UrlFolderSource('https://hub.test/m', { fetch: server(cut, { ranges: false, noLength: true }).fetchFn }))).rejects.toMatchObject(
      {
        code: 'MODEL_FORMAT',
        message: expect.stringContaining('shorter than its header says'),
      },
    );
  });

  it('reads sharded checkpoints by range, shard by shard', async () => {
    const tensors = syntheticTensors(TINY);
    const half = Math.floor(tensors.length / 2);
    const shards = { 'model-00001-of-00002.safetensors': tensors.slice(0, half), 'model-00002-of-00002.safetensors': tensors.slice(half) };
    const weightMap = Object.fromEntries(Object.entries(shards).flatMap(([f, ts]) => ts.map((t) => [t.name, f])));
    const files = syntheticSource(TINY, {
      files: {
        'model.safetensors': undefined,
        'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
        ...Object.fromEntries(Object.entries(shards).map(([f, ts]) => [f, buildSafetensors(ts)])),
      },
    });
    const s = server(files, { ranges: true });
    const got = await loadModel(new UrlFolderSource('https://hub.test/m', { fetch: s.fetchFn }));
    expect(got.weights).toEqual((await loadModel(syntheticSource(TINY))).weights);
    expect(s.log.filter((r) => r.file.startsWith('model-0000')).every((r) => r.range !== null)).toBe(true);
  });

  it('a truncated file is a typed error naming the file and the first tensor it cuts', async () => {
    const full = new Uint8Array(buildSafetensors(syntheticTensors(TINY)));
    const files = syntheticSource(TINY, { files: { 'model.safetensors': full.slice(0, full.length - 700).buffer } });
    for (const source of [files, new UrlFolderSource('https://hub.test/m', { fetch: server(files, { ranges: true }).fetchFn })]) {
      const err = await loadModel(source).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as ModelFormatError).file).toMatch(/model\.safetensors$/);
      expect((err as Error).message).toMatch(/tensor \S+: data_offsets out of range/);
    }
  });

  it('a server that delivers fewer bytes than it promised fails with the URL, not a short tensor', async () => {
    const files = syntheticSource(TINY);
    const s = server(files, { ranges: true });
    const lying: typeof fetch = async (input, init) => {
      const r = await s.fetchFn(input, init);
      if (!String(input).endsWith('model.safetensors') || r.status !== 206 || new Headers(init?.headers).get('range')?.startsWith('bytes=0-')) return r;
      const body = new Uint8Array(await r.arrayBuffer()).slice(0, 10);
      return new Response(body, { status: 206, headers: { 'content-range': r.headers.get('content-range')!, 'content-length': String(body.length) } });
    };
    await expect(loadModel(new UrlFolderSource('https://hub.test/m', { fetch: lying }))).rejects.toMatchObject({
      code: expect.stringMatching(/NETWORK|MODEL_FORMAT/),
      message: expect.stringMatching(/model\.safetensors|shorter/),
    });
  });

  it('packs tensors in row blocks (a block boundary inside a group of rows), equal to packing them whole', async () => {
    const source = syntheticSource(TINY);
    const m = await loadModel(source);
    for (const format of ['q4', 'f16', 'f32'] as const) {
      const blocks = new Map<string, number>();
      // 7 rows of 32 columns per block: the 40-row embedding takes 6 blocks, the 48 × 32 MLP 7.
      const stream = checkpointStream(m.spec, await openCheckpoint(source), format, { blockFloats: 7 * 32 });
      const counting = {
        format,
        run: (sink: Parameters<typeof stream.run>[0]) => stream.run({ put: (b) => (blocks.set(b.key, (blocks.get(b.key) ?? 0) + 1), sink.put(b)) }),
      };
      const packed = await collectPacked(counting, m.spec.numLayers);
      expect([blocks.get('embed'), blocks.get('l0.wUp'), blocks.get('l0.attnNorm')]).toEqual([6, 7, 1]);
      const whole = packModelWeights(m.spec, m.weights, format);
      expect(packed).toEqual(whole);
    }
    expect(BLOCK_FLOATS).toBe(4 * 2 ** 20);
  });
});
