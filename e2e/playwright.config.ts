// Playwright drives Debian's Chromium (never a downloaded browser), headless, with WebGPU on SwiftShader.
import { defineConfig } from '@playwright/test';

const PORT = 4317;

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  timeout: 300_000,
  workers: 1, // 2 cores: SwiftShader uses all of them
  retries: 0,
  reporter: [['list']],
  outputDir: '../test-results',
  webServer: {
    command: `npx vite --port ${PORT} --strictPort --host 127.0.0.1`,
    cwd: '..',
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        // SwiftShader zeroes workgroup memory (the Vulkan extension's path) with code that compiles in time
        // linear in its size (4 s for a 32 KiB tile); Tint's zeroing loop compiles in milliseconds.
        '--disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension',
        '--disable-gpu-sandbox',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
