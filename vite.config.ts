import { defineConfig } from 'vitest/config';

// One config for the app build and the unit tests. GPU tests (*.gpu.test.ts) run under node:test
// (`npm run test:gpu`) and e2e tests under Playwright (e2e/playwright.config.ts); `npm test` runs
// typecheck, unit, gpu, e2e in that order.
export default defineConfig({
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts', 'tools/**/*.test.ts'], exclude: ['**/*.gpu.test.ts'], testTimeout: 300_000 },
      },
    ],
  },
});
