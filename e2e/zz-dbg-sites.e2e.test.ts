import { it } from 'vitest';
import { launchChromium } from './browser.js';
import { startPanel } from './panel.js';
it('dbg', async () => {
  const panel = await startPanel({});
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log('PAGEERROR', e.message));
  page.on('console', (m) => console.log('CONSOLE', m.type(), m.text()));
  await page.goto(panel.url);
  await page.waitForTimeout(8000);
  console.log((await page.content()).slice(0, 1500));
  await browser.close();
  await panel.stop();
}, 120000);
