import type { Browser } from 'playwright-core';
import { issueRecord } from '../../src/badges/records';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { launchChromium } from '../support/browser';
import { startTestServer, type TestServer } from '../support/app';
import { socle28 } from './referential';

/** The public page of a learner record in Chromium: a 390 px phone, no sideways scroll, no blocked resource. */
describe('the learner record page in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let recordId: string;

  beforeAll(async () => {
    server = await startTestServer('pglite');
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, 'https://moodle.univ-exemple.fr');
    const user = await ensureUser(db, platform.id, '4');
    const validatedMinutes = new Map([['1', 200], ['2', 300], ['3', 45], ['4', 360], ['5', 10]]);
    recordId = (await issueRecord(db, server.ctx, { userId: user.id, referential: socle28, validatedMinutes })).record.id;
    browser = await launchChromium(['--hide-scrollbars']);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
  });

  it.each([
    ['fr-FR', 'Relevé valide', 'Télécharger le relevé signé (VC-JWT)'],
    ['en-GB', 'Valid record', 'Download the signed record (VC-JWT)'],
  ])('%s: one heading, the hours per domain, the download, on a phone without sideways scroll', async (locale, status, download) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('requestfailed', (r) => problems.push(r.url()));
    try {
      const res = await page.goto(`${server.url}/records/${recordId}`);
      expect(res?.status()).toBe(200);
      expect(await page.locator('h1').count()).toBe(1);
      expect(await page.locator('.status strong').innerText()).toBe(status);
      const rows = await page.locator('table tbody tr').allInnerTexts();
      expect(rows).toHaveLength(5);
      expect(rows[1]).toMatch(/Cybersécurité en santé.*5\sh/);
      expect(await page.locator(`a[download][href$="/records/${recordId}/record.jwt"]`).innerText()).toBe(download);
      const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
      expect(width).toBeLessThanOrEqual(390);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
