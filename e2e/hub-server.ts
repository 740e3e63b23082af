// A local server in the Hugging Face URL layout ({org}/{repo}/resolve/{revision}/{file}) over
// ../shared/models, with CORS, so e2e tests load models through the engine's real download code.
// Repos under `slow-org/` send half of each safetensors file and then stall (to abort a download).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const MODELS = resolve(import.meta.dirname, '../../shared/models');

export interface HubServer {
  base: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startHubServer(): Promise<HubServer> {
  const requests: string[] = [];
  const stalled = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    res.setHeader('Access-Control-Allow-Origin', '*');
    const m = /^\/([\w.-]+)\/([\w.-]+)\/resolve\/([\w.-]+)\/([\w.-]+)$/.exec(path);
    const file = m ? resolve(MODELS, m[2], m[4]) : '';
    if (!m || !file.startsWith(MODELS + '/') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
      return;
    }
    const size = statSync(file).size;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
    if (m[1] === 'slow-org' && file.endsWith('.safetensors')) {
      stalled.add(res);
      createReadStream(file, { start: 0, end: Math.floor(size / 2) }).on('data', (c) => res.write(c));
      return; // never ends until the client goes away
    }
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      for (const r of stalled) r.destroy();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // close() waits for every connection to end; Chromium can hold a kept-alive or preconnected one.
      server.closeAllConnections();
      return closed;
    },
  };
}
