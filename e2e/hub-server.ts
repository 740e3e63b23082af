// A local server in the Hugging Face URL layout ({org}/{repo}/resolve/{revision}/{file}) over
// ../shared/models (or another folder of model folders), with CORS, so e2e tests load models through the
// engine's real download code. By default it ignores Range requests (the engine's in-order fallback);
// `ranges: true` answers them with 206 and Content-Range, as the Hub does. Repos under `slow-org/` send
// half of each safetensors file and then stall (to abort a download). Every request is logged with its
// range, the bytes sent and whether the response finished.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const MODELS = resolve(import.meta.dirname, '../../shared/models');

export interface HubRequest {
  path: string;
  /** [begin, end) asked for, or null for the whole file. */
  range: [number, number] | null;
  bytes: number;
  complete: boolean;
}

export interface HubServer {
  base: string;
  requests: string[];
  log: HubRequest[];
  close(): Promise<void>;
}

export async function startHubServer(o: { root?: string; ranges?: boolean } = {}): Promise<HubServer> {
  const root = o.root ?? MODELS;
  const requests: string[] = [];
  const log: HubRequest[] = [];
  const stalled = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const m = /^\/([\w.-]+)\/([\w.-]+)\/resolve\/([\w.-]+)\/([\w.-]+)$/.exec(path);
    const file = m ? resolve(root, m[2], m[4]) : '';
    if (!m || !file.startsWith(`${root}/`) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
      return;
    }
    const size = statSync(file).size;
    const asked = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (o.ranges && asked) {
      const begin = Number(asked[1]);
      const end = Math.min(size, asked[2] ? Number(asked[2]) + 1 : size);
      const entry: HubRequest = { path, range: [begin, end], bytes: 0, complete: false };
      log.push(entry);
      res.writeHead(206, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(end - begin),
        'Content-Range': `bytes ${begin}-${end - 1}/${size}`,
        'Accept-Ranges': 'bytes',
      });
      if (end > begin) {
        const stream = createReadStream(file, { start: begin, end: end - 1 });
        stream.on('data', (c) => (entry.bytes += c.length));
        stream.on('end', () => (entry.complete = true));
        stream.pipe(res);
      } else res.end();
      return;
    }
    const entry: HubRequest = { path, range: null, bytes: 0, complete: false };
    log.push(entry);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
    if (m[1] === 'slow-org' && file.endsWith('.safetensors')) {
      stalled.add(res);
      createReadStream(file, { start: 0, end: Math.floor(size / 2) }).on('data', (c) => res.write(c));
      return; // never ends until the client goes away
    }
    const stream = createReadStream(file);
    stream.on('data', (c) => (entry.bytes += c.length));
    stream.on('end', () => (entry.complete = true));
    stream.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    log,
    close: () => {
      for (const r of stalled) r.destroy();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // close() waits for every connection to end; Chromium can hold a kept-alive or preconnected one.
      server.closeAllConnections();
      return closed;
    },
  };
}
