// The package as a user installs it: `npm pack` of this repository, installed into an empty project, an
// import of `createEngine` type-checked there with TypeScript, and the installed files run in Chromium (an
// import map points 'xquant-web' at node_modules, as a bundler's resolution would) against the bundled model.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
let project = '';
let server: Server;
let base = '';

const CONSUMER_TS = `import { createEngine, InvalidArgumentError, type ChatCompletion, type XQuantEngine } from 'xquant-web';

const engine: XQuantEngine = createEngine();

export async function reply(): Promise<string> {
  await engine.load('/models/austen-3m', { weights: 'q8' });
  const r: ChatCompletion = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 });
  return r.choices[0].message.content ?? '';
}

export const typed: boolean = new InvalidArgumentError('x', { field: 'f' }).field === 'f';

// The types are real (not any): a wrong field type is an error.
// @ts-expect-error max_tokens is a number
void engine.chat.completions.create({ messages: [], max_tokens: 'eight' });
`;

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>consumer</title>
<script type="importmap">{ "imports": { "xquant-web": "/node_modules/xquant-web/dist/lib/xquant-web.js" } }</script></head>
<body><pre id="out">running</pre><script type="module">
import { createEngine } from 'xquant-web';
const out = document.getElementById('out');
try {
  const engine = createEngine();
  await engine.load('/models/austen-3m', { weights: 'q8' });
  const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'It was a fine morning' }], max_tokens: 12, temperature: 0 });
  out.textContent = JSON.stringify({ content: r.choices[0].message.content, usage: r.usage });
} catch (e) {
  out.textContent = 'error: ' + e.message;
}
</script></body></html>`;

test.beforeAll(async () => {
  test.setTimeout(240_000);
  execFileSync('npm', ['run', '-s', 'build:lib'], { cwd: ROOT, stdio: 'pipe' });
  project = mkdtempSync(join(tmpdir(), 'xquant-consumer-'));
  const packed = execFileSync('npm', ['pack', '--pack-destination', project, '--silent'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Offline: the dependency (WebGPU's types) comes from this repository's node_modules, packed too.
  const types = execFileSync('npm', ['pack', join(ROOT, 'node_modules/@webgpu/types'), '--pack-destination', project, '--silent'], {
    cwd: project,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', join(project, packed), join(project, types)], { cwd: project, stdio: 'pipe' });
  writeFileSync(join(project, 'main.ts'), CONSUMER_TS);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'bundler',
        lib: ['ES2022', 'DOM'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
      },
      files: ['main.ts'],
    }),
  );
  writeFileSync(join(project, 'index.html'), PAGE);
  cpSync(join(ROOT, 'public/models/austen-3m'), join(project, 'models/austen-3m'), { recursive: true });
  server = createServer((req, res) => {
    const file = resolve(project, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1) || 'index.html');
    if (!file.startsWith(`${project}/`) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = file.endsWith('.js')
      ? 'text/javascript'
      : file.endsWith('.html')
        ? 'text/html'
        : file.endsWith('.json')
          ? 'application/json'
          : 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(() => {
  server?.closeAllConnections();
  server?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

test("npm pack installs into an empty project (its one dependency: WebGPU's types), and the import of createEngine type-checks with its declarations", () => {
  const installed = join(project, 'node_modules');
  expect(readdirSync(installed).filter((d) => !d.startsWith('.'))).toEqual(['@webgpu', 'xquant-web']);
  expect(readdirSync(join(installed, 'xquant-web/dist/lib')).sort()).toEqual(['types', 'xquant-web-worker.js', 'xquant-web.js']);
  // Throws with tsc's messages if the consumer does not type-check (skipLibCheck off: the package's own declarations too).
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
});

test('the installed package runs in Chromium against the bundled model', async ({ page }) => {
  await page.goto(`${base}/`);
  await expect(page.locator('#out')).not.toHaveText('running', { timeout: 180_000 });
  const text = (await page.locator('#out').textContent()) ?? '';
  expect(text).not.toMatch(/^error/);
  const r = JSON.parse(text) as { content: string; usage: { completion_tokens: number; prompt_tokens: number } };
  expect(r.content.length).toBeGreaterThan(0);
  expect(r.usage.completion_tokens).toBeGreaterThan(0);
});
