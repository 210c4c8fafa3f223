import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import nock from 'nock';
import type { Browser } from 'playwright-core';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { activityMappings, courses, platformSettings } from '../../src/db/schema';
import { ensurePlatform } from '../../src/identity/records';
import { sealSecret } from '../../src/secrets';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { SimulatedMoodle } from '../support/moodle';
import { launchChromium } from '../support/browser';

const wwwroot = 'http://127.0.0.1:8181';
const quiz = `${wwwroot}/mod/quiz/view.php?id=9`;
const domId = (iri: string) => `a${createHash('sha1').update(iri).digest('hex').slice(0, 10)}`;
/** docs/mapping-page.png is rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const screenshot = process.env.UPDATE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', 'docs', 'mapping-page.png')
  : path.join(os.tmpdir(), `socle-mapping-page-${process.pid}.png`);

/** The teacher's page in a real browser (Debian chromium + playwright-core), driven with the keyboard only. */
describe('mapping page in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const driver = drivers[0] ?? 'pglite';

  beforeAll(async () => {
    server = await startTestServer(driver);
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const platform = await ensurePlatform(server.ctx.store.db, wwwroot);
    await server.ctx.store.db
      .insert(platformSettings)
      .values({ platformId: platform.id, webserviceToken: sealSecret(server.ctx.config.ltiKey, 'webservice-token', 'ws-token'), defaultReferentialId: 'socle-sante-niveaux-4-8' });
    nock(wwwroot).persist().post('/webservice/rest/server.php').reply(200, contents);
    browser = await launchChromium();
    // The launch as Moodle's browser does it (OIDC login, signed id_token); the browser then opens the landing URL.
    const launched = await moodle.launch(server, 'instructor', { locale: 'fr' });
    expect(launched.landedOn).toBe('/lti/course');
    (globalThis as { launched?: unknown }).launched = launched;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    nock.cleanAll();
    await server?.destroy();
  });

  it('maps an activity with the keyboard only, saves, and the mapping persists', async () => {
    const launched = (globalThis as { launched?: Awaited<ReturnType<SimulatedMoodle['launch']>> }).launched;
    if (!launched) throw new Error('no launch');
    const url = new URL(server.url);
    // Moodle's iframe is about this size; the page scrolls inside it.
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    // every Content-Security-Policy violation of the page (htmx swaps included) is reported on the console
    await context.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))");
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /CSP violation|Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${server.url}/lti/course?ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    await page.waitForFunction('Boolean(window.htmx)');
    expect(await page.locator('tbody#rows tr').count()).toBe(11);

    // Tab through the page to the competency of "Quiz 1".
    const select = `${domId(quiz)}-c0`;
    let presses = 0;
    while ((await page.evaluate('document.activeElement?.id')) !== select) {
      await page.keyboard.press('Tab');
      if (++presses > 200) throw new Error('the competency select of Quiz 1 is not reachable with Tab');
    }
    // The focus is visible (an outline), not just moved.
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).not.toBe('none');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowDown'); // — aucune —, 1.1, 1.2, 1.3, 1.4 → 2.1
    expect(await page.locator(`#${select}`).inputValue()).toBe('2.1');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.id')).toBe(`${domId(quiz)}-h0`);
    await page.keyboard.type('1,5');
    await page.keyboard.press('Enter');

    await page.locator('#status').filter({ hasText: 'Correspondance de « Quiz 1: basics » enregistrée.' }).waitFor();
    expect(await page.locator('#summary-body').innerText()).toMatch(/Cybersécurité en santé\s+1\u00a0h\u00a030 \/ 5\u00a0h/);
    const [course] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '2'));
    const rows = await server.ctx.store.db.select().from(activityMappings).where(eq(activityMappings.courseId, Number(course?.id)));
    expect(rows).toMatchObject([{ activityIri: quiz, competencyKey: '2.1', minutes: 90, referentialId: 'socle-sante-niveaux-4-8' }]);

    // A wrong value is announced and nothing changes.
    await page.locator(`#${domId(quiz)}-h0`).focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('-2');
    await page.keyboard.press('Enter');
    await page.locator(`#row-${domId(quiz)} [role="alert"]`).waitFor();
    expect(await page.locator(`#${domId(quiz)}-h0`).getAttribute('aria-invalid')).toBe('true');
    expect((await server.ctx.store.db.select().from(activityMappings)).map((r) => r.minutes)).toEqual([90]);

    // After a reload the page shows what was saved.
    await page.reload();
    expect(await page.locator(`#${select}`).inputValue()).toBe('2.1');
    expect(await page.locator(`#${domId(quiz)}-h0`).inputValue()).toBe('1,5');
    // The screenshot: the per-domain summary, then the activities down to the one just mapped.
    await page.evaluate(`(() => {
      const main = document.querySelector('main');
      const title = document.getElementById('summary-title');
      main.scrollTop += title.getBoundingClientRect().top - main.getBoundingClientRect().top - 8;
    })()`);
    await page.screenshot({ path: screenshot });
    expect(fs.statSync(screenshot).size).toBeGreaterThan(10_000);
    if (!process.env.UPDATE_SCREENSHOTS) fs.rmSync(screenshot);
    expect(violations).toEqual([]);
    await context.close();
  }, 60_000);

  it('saves several rows with one button (htmx), shows the full title of the chosen competency, and warns past the required hours', async () => {
    const launched = (globalThis as { launched?: Awaited<ReturnType<SimulatedMoodle['launch']>> }).launched;
    if (!launched) throw new Error('no launch');
    const url = new URL(server.url);
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
    const page = await context.newPage();
    await page.goto(`${server.url}/lti/course?ltik=${encodeURIComponent(String(launched.client.ltik))}`);
    await page.waitForFunction('Boolean(window.htmx)');
    const book = `${wwwroot}/mod/book/view.php?id=12`;
    // a wrong number of hours is said in French, and nothing is saved
    const before = await server.ctx.store.db.select().from(activityMappings);
    await page.locator(`#${domId(quiz)}-h0`).fill('beaucoup');
    await page.getByRole('button', { name: 'Enregistrer toutes les lignes' }).first().click();
    await page.getByText(/un nombre d’heures est attendu, par exemple 1,5 — trouvé\s«\sbeaucoup\s»/).first().waitFor();
    expect(await server.ctx.store.db.select().from(activityMappings)).toEqual(before);
    // choosing a competency writes its whole title under the list
    await page.locator(`#${domId(book)}-c0`).selectOption('3.2');
    expect(await page.locator(`#${domId(book)}-t0`).innerText()).toMatch(/^3\.2 Interagir de manière adaptée entre professionnels, .{60,}$/);
    await page.locator(`#${domId(book)}-h0`).fill('2');
    await page.locator(`#${domId(quiz)}-h0`).fill('6');
    await page.getByRole('button', { name: 'Enregistrer toutes les lignes' }).first().click();
    await page.locator('#status').filter({ hasText: /activité\(s\) enregistrée\(s\)/ }).waitFor();
    const [course] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '2'));
    const rows = await server.ctx.store.db.select().from(activityMappings).where(eq(activityMappings.courseId, Number(course?.id)));
    expect(rows.map((r) => [r.activityIri, r.competencyKey, r.minutes]).sort()).toEqual([
      [book, '3.2', 120],
      [quiz, '2.1', 360],
    ]);
    // 6 h mapped in domain 2, which requires 5 h: said, not shown as done
    expect(await page.locator('#summary-body li.over').innerText()).toMatch(/Cybersécurité en santé\s+6\sh \/ 5\sh[\s\S]*1\sh de plus que les 5\sh exigées/);
    await context.close();
  }, 60_000);
});
