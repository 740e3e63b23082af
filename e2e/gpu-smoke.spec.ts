import { expect, test } from '@playwright/test';

test('a dedicated Worker gets a WebGPU device and runs a compute dispatch', async ({ page }) => {
  await page.goto('/e2e/pages/gpu-smoke.html');
  const handle = await page.waitForFunction(() => (window as unknown as { smokeResult?: unknown }).smokeResult, null, { timeout: 120_000 });
  const r = (await handle.jsonValue()) as { error?: string; maxAbsErr: number; first: number[]; adapterInfo: { vendor: string } };
  expect(r.error).toBeUndefined();
  expect(r.adapterInfo.vendor).not.toBe('');
  expect(r.maxAbsErr).toBeLessThan(1e-4);
  // row 0: weights (i % 7) - 3 against x_i = i / 4, computed by hand
  expect(r.first[0]).toBeCloseTo(-11.5, 5);
});
