// Starts the smoke Worker and exposes its answer to the Playwright test.
const worker = new Worker(new URL('../../src/gpu/gpu-check-worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e: MessageEvent) => {
  (window as unknown as { smokeResult: unknown }).smokeResult = e.data;
  document.getElementById('result')!.textContent = JSON.stringify(e.data);
};
worker.onerror = (e) => {
  (window as unknown as { smokeResult: unknown }).smokeResult = { error: e.message };
};
