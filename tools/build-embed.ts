// npm run build (second half): the drop-in script and its worker as two classic scripts in dist/embed/,
// then their gzip sizes (the budget is 300 KB for both together).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const OUT = 'dist/embed';
const entries = [
  { entry: 'src/embed/xquant-chat.ts', file: 'xquant-chat.js', name: 'XQuantChatScript' },
  { entry: 'src/worker/engine-worker.ts', file: 'xquant-chat-worker.js', name: 'XQuantChatWorker' },
];
for (const e of entries) {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: OUT,
      emptyOutDir: false,
      copyPublicDir: false,
      lib: { entry: e.entry, formats: ['iife'], name: e.name, fileName: () => e.file },
    },
  });
}
let total = 0;
for (const e of entries) {
  const bytes = readFileSync(`${OUT}/${e.file}`);
  const gz = gzipSync(bytes, { level: 9 }).length;
  total += gz;
  process.stdout.write(`${OUT}/${e.file}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzip\n`);
}
process.stdout.write(`script + worker: ${(total / 1024).toFixed(1)} KB gzip (budget 300 KB)\n`);
if (total > 300 * 1024) process.exitCode = 1;
