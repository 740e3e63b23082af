// `npm run test:soak`: the long-run test (e2e/*.soak.ts), apart from `npm test` because it runs for minutes.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({ ...base, testMatch: '**/*.soak.ts', timeout: 3_600_000 });
