import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, BrowserContext } from 'playwright-core';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { currentRecords } from '../../src/coverage/records';
import { importedRecords, manualCreditEvidence, manualCredits, platformSettings } from '../../src/db/schema';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { fixtureReferentials } from '../coverage/support';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type LaunchResult, SimulatedMoodle } from '../support/moodle';
import { launchChromium } from '../support/browser';

/** docs/learner-page.png is rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const screenshot = process.env.UPDATE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', 'docs', 'learner-page.png')
  : path.join(os.tmpdir(), `socle-learner-page-${process.pid}.png`);
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\n'), Buffer.alloc(4_000, 0x20), Buffer.from('\n%%EOF\n')]);

/**
 * The administrator's day in a real browser (Debian chromium + playwright-core) at a 390 px phone width: find a
 * learner from the admin page's search, open their page, grant a manual credit with an evidence file.
 */
describe('learner search and manual credit in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let launched: LaunchResult;
  const driver = drivers[0] ?? 'pglite';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-evidence-'));

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    await moodle.launch(server, 'learner', { locale: 'fr' }); // Sam Student
    const platform = await ensurePlatform(server.ctx.store.db, moodle.issuer);
    await server.ctx.store.db.insert(platformSettings).values({ platformId: platform.id, defaultReferentialId: 'socle-sante-28h', defaultReferentialVersion: 'V1.1.2022' });
    launched = await moodle.launch(server, 'administrator', { locale: 'fr', sub: '2' });
    expect(launched.landedOn).toBe('/lti/admin');
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function phone(): Promise<{ context: BrowserContext; violations: string[]; page: Awaited<ReturnType<BrowserContext['newPage']>> }> {
    const url = new URL(server.url);
    const context = await browser.newContext({ viewport: { width: 390, height: 800 }, locale: 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))");
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /CSP violation|Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    return { context, violations, page };
  }
  const width = `(() => ({ doc: document.documentElement.scrollWidth, main: document.querySelector('main').scrollWidth, mainWidth: document.querySelector('main').clientWidth }))()`;

  it('finds a learner from the admin page, opens their page and grants a credit with evidence', async () => {
    const { context, violations, page } = await phone();
    await page.goto(`${server.url}/lti/admin?ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    await page.waitForFunction('Boolean(window.htmx)');
    expect(await page.locator('#platforms-title').innerText()).toBe('Plateformes enregistrées');
    expect(await page.evaluate(width)).toEqual({ doc: 390, main: expect.any(Number), mainWidth: expect.any(Number) });
    const admin = (await page.evaluate(width)) as { main: number; mainWidth: number };
    expect(admin.main).toBeLessThanOrEqual(admin.mainWidth);

    // the search, by its label, with the keyboard
    await page.getByLabel('Nom ou identifiant').fill('sam');
    await page.keyboard.press('Enter');
    const link = page.locator('#learner-results a', { hasText: 'Sam Student' });
    await link.waitFor();
    expect(await page.locator('[data-testid="learner-count"]').innerText()).toBe('1 résultat(s)');
    await link.click();
    await page.waitForURL(/\/lti\/learners\/\d+\?ltik=/);
    expect(await page.locator('h1').innerText()).toBe('Apprenant : Sam Student');
    expect(await page.locator('[data-testid="no-credits"]').innerText()).toBe('Aucun crédit manuel pour cet apprenant.');
    await page.waitForFunction('Boolean(window.htmx)');

    // wrong hours: the error is announced in the form's alert region, which takes the focus; nothing is stored
    await page.getByLabel('Compétence').selectOption('socle-sante-28h@V1.1.2022|2.1');
    await page.getByLabel('Heures').fill('beaucoup');
    await page.getByLabel('Justification').fill('Séance en présentiel du 12 octobre');
    await page.getByRole('button', { name: 'Accorder le crédit' }).click();
    await page.locator('#grant-result').filter({ hasText: 'hours' }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('grant-result');
    expect(await server.ctx.store.db.select().from(manualCredits)).toEqual([]);

    // the credit, with a PDF
    const file = path.join(dir, 'emargement.pdf');
    fs.writeFileSync(file, PDF);
    await page.getByLabel('Heures').fill('1,5');
    await page.getByLabel('Justificatif (facultatif)').setInputFiles(file);
    await page.getByRole('button', { name: 'Accorder le crédit' }).click();
    await page.waitForURL(/done=granted/);
    const notice = page.locator('[data-testid="learner-notice"]');
    expect(await notice.innerText()).toBe('Crédit manuel accordé : les heures de l’apprenant sont à jour.');
    expect(await page.evaluate("document.activeElement?.getAttribute('data-testid')")).toBe('learner-notice');
    const credits = page.locator('[data-testid="manual-credits"]');
    expect(await credits.innerText()).toMatch(/2\.1 · 1\sh\s30/);
    expect(await credits.innerText()).toContain('Justification : Séance en présentiel du 12 octobre');
    expect(await page.locator('[data-testid="learner-total"]').first().innerText()).toMatch(/1\sh\s30 validées sur 28\sh/);
    const [credit] = await server.ctx.store.db.select().from(manualCredits);
    const [evidence] = await server.ctx.store.db.select().from(manualCreditEvidence).where(eq(manualCreditEvidence.creditId, Number(credit?.id)));
    expect(evidence).toMatchObject({ fileName: 'emargement.pdf', contentType: 'application/pdf', size: PDF.length });

    // the evidence downloads as it was sent
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Télécharger emargement\.pdf/ }).click()]);
    expect(Buffer.compare(fs.readFileSync(await download.path()), PDF)).toBe(0);

    const learner = (await page.evaluate(width)) as { doc: number; main: number; mainWidth: number };
    expect(learner.doc).toBeLessThanOrEqual(390);
    expect(learner.main).toBeLessThanOrEqual(learner.mainWidth);
    // the screenshot: the manual credits, at a phone's width
    await page.evaluate(`(() => {
      const main = document.querySelector('main');
      const title = document.getElementById('credits-title');
      const notice = document.querySelector('[data-testid="learner-notice"]');
      main.scrollTop += title.getBoundingClientRect().top - main.getBoundingClientRect().top - notice.getBoundingClientRect().height - 24;
    })()`);
    await page.screenshot({ path: screenshot });
    expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
    if (!process.env.UPDATE_SCREENSHOTS) fs.rmSync(screenshot);
    expect(violations).toEqual([]);
    await context.close();
  }, 90_000);

  it('imports the learner’s record of another platform of this Socle from a file, and says why a changed one is refused', async () => {
    // the record of Sam's account on another platform of the institution, as Sam downloaded it there
    const db = server.ctx.store.db;
    const siteA = await ensurePlatform(db, 'https://moodle.site-a.univ-exemple.fr');
    const onA = await ensureUser(db, siteA.id, '804');
    const [record] = await db.transaction(async (tx) => {
      await grantManualCredit(tx, coverageDeps(server.ctx, tx), { platformId: siteA.id, userId: onA.id, referentialId: 'socle-sante-28h', competencyKey: '5.1', minutes: 120, justification: 'Présentiel', actor: 'cli' });
      return currentRecords(tx, server.ctx, { platformId: siteA.id, userId: onA.id });
    });
    const jwt = record?.record.jwt ?? '';
    const good = path.join(dir, 'record.jwt');
    fs.writeFileSync(good, jwt);
    const changed = path.join(dir, 'changed.jwt');
    const [h, p, sig] = jwt.split('.');
    fs.writeFileSync(changed, `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), name: 'Autre' })).toString('base64url')}.${sig}`);

    const { context, violations, page } = await phone();
    await page.goto(`${server.url}/lti/admin?ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    await page.getByLabel('Nom ou identifiant').fill('sam');
    await page.keyboard.press('Enter');
    await page.locator('#learner-results a', { hasText: 'Sam Student' }).click();
    await page.waitForURL(/\/lti\/learners\/\d+\?ltik=/);
    await page.waitForFunction('Boolean(window.htmx)');
    expect(await page.locator('[data-testid="no-imports"]').innerText()).toBe('Aucun relevé importé pour cet apprenant.');

    await page.getByLabel('Relevé (fichier record.jwt ou son JSON)').setInputFiles(changed);
    await page.getByRole('button', { name: 'Vérifier et importer' }).click();
    await page.locator('#import-result').filter({ hasText: 'not importable: invalid' }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('import-result');
    expect(await db.select().from(importedRecords)).toEqual([]);

    await page.getByLabel('Relevé (fichier record.jwt ou son JSON)').setInputFiles(good);
    await page.getByLabel('Précision (facultatif)').fill('Mutation du site A');
    await page.getByRole('button', { name: 'Vérifier et importer' }).click();
    await page.waitForURL(/done=imported/);
    expect(await page.locator('[data-testid="learner-notice"]').innerText()).toBe('Relevé importé : les heures de l’apprenant sont à jour.');
    const imports = await page.locator('[data-testid="imports"]').innerText();
    expect(imports).toMatch(/n° \d+ · relevé de Socle — \S+ du .+ · 2\sh \(socle-sante-28h V1\.1\.2022\)/);
    expect(await page.locator('[data-testid="manual-credits"]').innerText()).toContain('Acquis antérieurs : relevé de Socle');
    const learner = (await page.evaluate(width)) as { doc: number; main: number; mainWidth: number };
    expect(learner.doc).toBeLessThanOrEqual(390);
    expect(learner.main).toBeLessThanOrEqual(learner.mainWidth);
    expect(violations).toEqual([]);
    await context.close();
  }, 90_000);
});
