// npm run build (third part): the installable library in dist/lib/: `xquant-web.js` (ESM, what
// `import { createEngine } from 'xquant-web'` loads), its module worker `xquant-web-worker.js` beside it
// (found through `new URL(..., import.meta.url)`, so it works from node_modules, a CDN or any bundler that
// keeps that pattern), and the type declarations in dist/lib/types/. Both files are self-contained: every
// dependency (comlink, idb-keyval, the tokenizer and template cores) and every WGSL kernel is bundled in, so
// the package installs with no dependencies of its own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const OUT = 'dist/lib';
await build({
  configFile: false,
  logLevel: 'warn',
  // Relative asset URLs: the worker is looked up beside the library file, wherever that is served from.
  base: './',
  worker: { format: 'es', rollupOptions: { output: { entryFileNames: 'xquant-web-worker.js' } } },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    copyPublicDir: false,
    assetsDir: '',
    lib: { entry: 'src/client/index.ts', formats: ['es'], fileName: () => 'xquant-web.js' },
  },
});
execFileSync('npx', ['tsc', '-p', 'tsconfig.lib.json'], { stdio: 'inherit' });
for (const file of ['xquant-web.js', 'xquant-web-worker.js']) {
  const bytes = readFileSync(`${OUT}/${file}`);
  process.stdout.write(`${OUT}/${file}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gzip\n`);
}
