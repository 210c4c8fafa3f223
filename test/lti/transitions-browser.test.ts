import type { Browser } from 'playwright-core';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveReferential } from '../../src/referentials/catalogue';
import { launchChromium } from '../support/browser';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { SimulatedMoodle } from '../support/moodle';
import { nextVersion, OLD } from '../transitions/support';

/**
 * The référentiel versions section in Chromium on a 390 px phone: prepared, a select changed and saved (htmx), the
 * preview, applied once both boxes are ticked; the page never scrolls sideways.
 */
describe('the référentiel versions section in Chromium at 390 px', () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer(drivers[0] ?? 'pglite', {}, { badges: undefined });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
  });

  it('prepares, edits, previews and applies a change of version', async () => {
    const db = server.ctx.store.db;
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const launched = await moodle.launch(server, 'administrator', { locale: 'fr' });
    await saveReferential(db, nextVersion(), 'import');
    const platform = await ensurePlatform(db, moodle.issuer);
    const learner = await ensureUser(db, platform.id, '31', { name: 'Noé Petit' });
    for (const competencyKey of ['2.1', '3.3']) {
      await db.transaction((tx) =>
        grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: platform.id, userId: learner.id, referentialId: OLD.id, referentialVersion: OLD.version, competencyKey, minutes: 60, justification: 'Atelier', actor: 'test' }),
      );
    }
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'fr-FR' });
    const url = new URL(server.url);
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    const page = await context.newPage();
    const width = async () => (await page.evaluate('document.documentElement.scrollWidth')) as number;
    try {
      await page.goto(`${server.url}/lti/admin?ltik=${encodeURIComponent(launched.client.ltik ?? '')}`);
      const section = page.locator('#admin-transitions');
      await section.getByRole('button', { name: 'Préparer' }).click();
      await page.getByTestId('transition').waitFor();
      expect(await page.getByTestId('transition-counts').textContent()).toContain('1 qui perdent des heures');
      expect(await width()).toBeLessThanOrEqual(390);

      // the split competency: its first half chosen in its select, saved
      const select = page.locator('select[name="to:2.1"]');
      expect(await select.inputValue()).toBe('none');
      await select.selectOption('2.1a');
      await page.getByRole('button', { name: 'Enregistrer la table et recalculer l’aperçu' }).click();
      await page.getByTestId('transition-saved').waitFor();
      expect(await page.locator('select[name="to:2.1"]').inputValue()).toBe('2.1a');
      expect(await page.getByTestId('transition-learners').textContent()).toContain('Noé Petit');
      expect(await width()).toBeLessThanOrEqual(390);

      // applying needs both boxes: the browser refuses the form until they are ticked
      const apply = page.getByTestId('transition-apply');
      await apply.getByRole('button', { name: 'Appliquer le changement' }).click();
      expect(await page.getByTestId('transition-applied').count()).toBe(0);
      await apply.getByLabel(/Je confirme le changement/).check();
      await apply.getByLabel(/J’accepte que 1 apprenant\(s\) perdent des heures validées/).check();
      await apply.getByRole('button', { name: 'Appliquer le changement' }).click();
      await page.getByTestId('transition-applied').waitFor();
      expect(await page.locator('#transition-report-title').textContent()).toBe('Rapport du changement');
      expect(await width()).toBeLessThanOrEqual(390);
    } finally {
      await context.close();
    }
  }, 120_000);
});
