// The demo page as a user gets it from `npm start`: the default model (public/models/austen-3m) loads
// offline in the Worker engine and generates.
import { expect, test } from '@playwright/test';

test('the demo loads the default model and generates text', async ({ page }) => {
  const remote: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1')) remote.push(r.url());
  });
  await page.goto('/');
  await expect(page.locator('#status')).toContainText('austen-3m: 6 layers', { timeout: 120_000 });
  await page.fill('#prompt', 'It was a fine morning, and');
  await page.fill('#tokens', '12');
  await page.fill('#temperature', '0');
  await page.selectOption('#cache', 'xquant-cl-4');
  await page.click('#go');
  await expect(page.locator('#stats')).toContainText('12 tokens', { timeout: 120_000 });
  const text = await page.locator('#out').textContent();
  expect(text?.startsWith('It was a fine morning, and')).toBe(true);
  expect(text!.length).toBeGreaterThan('It was a fine morning, and'.length + 10);
  expect(remote).toEqual([]); // nothing left the machine
});
