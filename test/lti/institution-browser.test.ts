import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { institutions } from '../../src/db/schema';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { SimulatedMoodle } from '../support/moodle';
import { solidPng } from '../support/png';
import { launchChromium } from '../support/browser';


/** The admin page's institution form in a real browser (Debian chromium + playwright-core): typed, a logo chosen, saved. */
describe('the institution form in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer(drivers[0] ?? 'pglite');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-logo-'));
    fs.writeFileSync(path.join(dir, 'logo.png'), solidPng(240, 96));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saves the profile with its logo, shows the logo, and marks a refused time zone', async () => {
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const launched = await moodle.launch(server, 'administrator', { locale: 'fr' });
    expect(launched.landedOn).toBe('/lti/admin');
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 }, locale: 'fr-FR' });
    const url = new URL(server.url);
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/lti/admin?ltik=${encodeURIComponent(launched.client.ltik ?? '')}`);
      const form = page.getByTestId('institution-form');
      await form.getByLabel('Raison sociale (nom légal)').fill('Université des Antilles');
      await form.getByLabel('Ville (« Fait à … »)').fill('Pointe-à-Pitre');
      await form.getByLabel('Fuseau horaire').fill('Mars/Olympus');
      await form.locator('input[type=file][name=logo]').setInputFiles(path.join(dir, 'logo.png'));
      await Promise.all([page.waitForLoadState('load'), form.getByRole('button', { name: 'Enregistrer l’établissement' }).click()]);
      await page.getByTestId('institution-refused').waitFor();
      expect(await page.locator('#institution-timeZone').getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('#institution-city').inputValue()).toBe('Pointe-à-Pitre');
      const platformId = (await server.ctx.store.db.select().from(institutions))[0]?.platformId ?? -1;
      expect((await server.ctx.store.db.select().from(institutions).where(eq(institutions.platformId, platformId)))[0]?.legalName).toBe('Moodle LTI Test');

      const again = page.getByTestId('institution-form');
      await again.getByLabel('Fuseau horaire').fill('America/Guadeloupe');
      await again.locator('input[type=file][name=logo]').setInputFiles(path.join(dir, 'logo.png'));
      await Promise.all([page.waitForURL(/saved=institution/), again.getByRole('button', { name: 'Enregistrer l’établissement' }).click()]);
      await page.getByTestId('institution-saved').waitFor();
      const logo = page.getByTestId('institution-logo');
      await logo.waitFor();
      // the image loaded from the page's origin: its decoded width is the PNG's
      expect(await logo.evaluate((img) => ((img as unknown as { complete: boolean }).complete ? (img as unknown as { naturalWidth: number }).naturalWidth : 0))).toBe(240);
      expect((await server.ctx.store.db.select().from(institutions).where(eq(institutions.platformId, platformId)))[0]).toMatchObject({
        legalName: 'Université des Antilles',
        city: 'Pointe-à-Pitre',
        timeZone: 'America/Guadeloupe',
        logoWidth: 240,
      });
    } finally {
      await context.close();
    }
  }, 120_000);
});
