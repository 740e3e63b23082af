import { defineConfig } from 'vitest/config';

// One config for the app build and both Node test lanes. GPU tests (*.gpu.test.ts) run in their own
// project so `npm test` can order them: typecheck, unit, gpu, e2e (Playwright, e2e/playwright.config.ts).
export default defineConfig({
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'tools/**/*.test.ts'], exclude: ['**/*.gpu.test.ts'], testTimeout: 300_000 },
      },
      {
        extends: true,
        test: { name: 'gpu', include: ['src/**/*.gpu.test.ts'], testTimeout: 300_000, fileParallelism: false, pool: 'threads' },
      },
    ],
  },
});
