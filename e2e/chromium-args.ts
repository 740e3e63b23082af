// How Playwright launches Debian's Chromium, for the e2e tests and `npm run test:scale`.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  // WebGPU on SwiftShader: CPU adapters are blocklisted unless this is set.
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
];
