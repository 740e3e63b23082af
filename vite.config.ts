import { defineConfig } from 'vitest/config';

// One config for the app build, the unit tests and the Node GPU tests (*.gpu.test.ts, dawn.node);
// e2e tests run under Playwright (e2e/playwright.config.ts). `npm test` runs typecheck, lint, unit, gpu,
// e2e in that order.
export default defineConfig({
  // Several pages (the demo, e2e pages), and no SPA fallback: a missing model file must be a 404, not index.html.
  appType: 'mpa',
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'tools/**/*.test.ts'], exclude: ['**/*.gpu.test.ts'], testTimeout: 300_000 },
      },
      {
        // One fork, one file at a time: every GPU test shares the machine's two cores with SwiftShader.
        extends: true,
        test: { name: 'gpu', include: ['src/**/*.gpu.test.ts'], pool: 'forks', fileParallelism: false, testTimeout: 600_000 },
      },
    ],
  },
});
