import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type LaunchResult, SimulatedMoodle } from '../support/moodle';
import { launchChromium } from '../support/browser';
import { seedProgramme } from '../alerts/support';

/** docs/progress-forecast.png is rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const screenshot = process.env.UPDATE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', 'docs', 'progress-forecast.png')
  : path.join(os.tmpdir(), `socle-progress-forecast-${process.pid}.png`);

/**
 * "Ma progression" with the forecast in a real browser (Debian chromium + playwright-core): in Moodle's iframe size
 * (the screenshot of docs/), then at a 390 px phone width with the keyboard: nothing wider than the screen, the
 * reminder hidden and shown again, no Content-Security-Policy violation.
 */
describe('the forecast on "Ma progression" in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let launched: LaunchResult;

  beforeAll(async () => {
    server = await startTestServer(drivers[0] ?? 'pglite', {}, { badges: undefined });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    launched = await moodle.launch(server, 'learner', { locale: 'fr' });
    // intake 2024, due 31 August 2027: three domains validated, the fifth's activity failed, the third still to do
    const seeded = await seedProgramme(server, { intakeYear: 2024 });
    await seeded.complete('4', [11, 12, 14], true);
    await seeded.complete('4', [15], false);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    nock.cleanAll();
    await server?.destroy();
  });

  async function open(viewport: { width: number; height: number }) {
    const url = new URL(server.url);
    const context = await browser.newContext({ viewport, locale: 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))");
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /CSP violation|Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${server.url}/lti/me?ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    return { context, page, violations };
  }

  it('shows the status, the deadline and the reminder in the frame, fits a phone, and hides the reminder with the keyboard', async () => {
    const frame = await open({ width: 800, height: 600 });
    expect(await frame.page.locator('[data-testid="forecast-status"]').innerText()).toBe('À risque');
    expect(await frame.page.locator('.me-reminder-text').innerText()).toBe('Il vous reste 11\u00a0h à valider avant le 31/08/2027 ; vos cours en proposent encore 6\u00a0h.');
    await frame.page.screenshot({ path: screenshot });
    await frame.context.close();

    const { context, page, violations } = await open({ width: 390, height: 800 });
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    expect(width).toBe(390);
    const toggle = page.getByRole('button', { name: 'Ne plus afficher ce rappel' });
    await toggle.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/alerts=saved#reminder$/);
    expect(await page.locator('#reminder').innerText()).toContain('Vous avez masqué le rappel de votre échéance.');
    expect(await page.locator('[data-testid="forecast-status"]').innerText()).toBe('À risque');
    await page.getByRole('button', { name: 'Afficher de nouveau le rappel' }).click();
    await page.locator('.me-reminder-text').waitFor();
    expect(violations).toEqual([]);
    await context.close();
  });
});
