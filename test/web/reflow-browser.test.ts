import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nock from 'nock';
import type { Browser, BrowserContext } from 'playwright-core';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { listCredentials } from '../../src/badges/credentials';
import { platformSettings } from '../../src/db/schema';
import { ensurePlatform, findCourse, findUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { getReferential } from '../../src/referentials/catalogue';
import { recordAttestation } from '../../src/reports/verification';
import { sealSecret } from '../../src/secrets';
import { createXapiKey } from '../../src/xapi/keys';
import { completionStatement, uuidOf } from '../coverage/support';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type LaunchRole, SimulatedMoodle } from '../support/moodle';
import { basic, MOODLE } from '../xapi/support';
import { launchChromium } from '../support/browser';

const PHONE = { width: 390, height: 844 };
const iri = (mod: string, cmid: number) => `${MOODLE}/mod/${mod}/view.php?id=${cmid}`;

/** Course 2's mapping on the bundled 28 h référentiel (long competency titles): what the learner did, what is left. */
const MAPPING = [
  { activityIri: iri('page', 4), competencyKey: '2.1', minutes: 240, done: true, name: 'Welcome page' },
  { activityIri: iri('assign', 11), competencyKey: '2.2', minutes: 60, done: true, name: 'Assignment 1: reflection' },
  { activityIri: iri('resource', 6), competencyKey: '1.1', minutes: 90, done: true, name: 'Reading: notes file' },
  { activityIri: iri('quiz', 9), competencyKey: '1.2', minutes: 120, done: false },
  { activityIri: iri('book', 12), competencyKey: '4.1', minutes: 180, done: false },
  { activityIri: iri('lesson', 10), competencyKey: '5.1', minutes: 120, done: false },
  { activityIri: iri('url', 5), competencyKey: '3.2', minutes: 60, done: false },
];

/** What the pages below need: the sessions of each role and the records the public pages show. */
interface Fixture {
  server: TestServer;
  ltik: Partial<Record<LaunchRole, string>>;
  /** Socle's ids of the learner (sub 4, who has hours, a badge and an attestation) and of course 2. */
  learnerId: number;
  courseId: number;
  credentialId: string;
  attestationId: string;
  registration: string;
}

/**
 * Every page Socle serves, visited at 390 px. A new page is one line here: its URL (with the fixture's records)
 * and who opens it (an LTI role: the page gets that launch's session), or nobody (a public page).
 */
const PAGES: { name: string; as?: LaunchRole; url: (f: Fixture) => string; status?: number }[] = [
  { name: 'home', url: () => '/' },
  { name: 'error: no LTI session', url: () => '/lti/me', status: 401 },
  { name: 'registration', url: (f) => f.registration },
  ...(['activities', 'rule', 'transfer', 'history', 'roster', 'reports'] as const).map((tab) => ({
    name: `course page: ${tab}`,
    as: 'instructor' as const,
    url: () => `/lti/course${tab === 'activities' ? '' : `?tab=${tab}`}`,
  })),
  { name: 'cohort heatmap', as: 'instructor', url: () => '/lti/course/cohort' },
  { name: 'Ma progression: hours', as: 'learner', url: () => '/lti/me' },
  { name: 'Ma progression: badges', as: 'learner', url: () => '/lti/me?tab=badges' },
  { name: 'administration', as: 'administrator', url: () => '/lti/admin' },
  { name: 'administration: learner search', as: 'administrator', url: () => '/lti/admin?q=a' },
  { name: 'learner page of a teacher', as: 'instructor', url: (f) => `/lti/learners/${f.learnerId}` },
  { name: 'learner page of an administrator', as: 'administrator', url: (f) => `/lti/learners/${f.learnerId}` },
  { name: 'course page of an administrator (roster, reports)', as: 'administrator', url: () => '/lti/course' },
  { name: 'badge verification', url: (f) => `/badges/${f.credentialId}` },
  { name: 'attestation verification', url: (f) => `/attestations/${f.attestationId}` },
];

/** The page's widths, and the elements that stick out on the right (the deepest ones), to say what to fix. */
const MEASURE = `(() => {
  const main = document.querySelector('main');
  const limit = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('body *')]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > limit + 0.5)
    .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > limit + 0.5))
    .slice(0, 5)
    .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right));
  return {
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    mainOverflow: main ? main.scrollWidth - main.clientWidth : 0,
    out,
  };
})()`;

const withLtik = (url: string, ltik: string | undefined) => (ltik ? `${url}${url.includes('?') ? '&' : '?'}ltik=${encodeURIComponent(ltik)}` : url);

/** Screenshots for docs/ are written only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
const shots = process.env.UPDATE_SCREENSHOTS ? path.join(__dirname, '..', '..', 'docs') : fs.mkdtempSync(path.join(os.tmpdir(), 'socle-reflow-'));

/** Every page at 390 px in a real browser (Debian chromium + playwright-core), with real LTI sessions. */
describe('reflow at 390 px in Chromium', () => {
  let browser: Browser;
  let fixture: Fixture;
  const contexts = new Map<string, BrowserContext>();
  const driver = drivers[0] ?? 'pglite';

  beforeAll(async () => {
    const server = await startTestServer(driver);
    const db = server.ctx.store.db;
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const platform = await ensurePlatform(db, MOODLE);
    await db
      .insert(platformSettings)
      .values({ platformId: platform.id, webserviceToken: sealSecret(server.ctx.config.ltiKey, 'webservice-token', 'ws-token'), defaultReferentialId: 'socle-sante-niveaux-4-8' });
    nock(MOODLE).persist().post('/webservice/rest/server.php').reply(200, contents);
    const ltik: Fixture['ltik'] = {};
    const cookies = new Map<LaunchRole, [string, string][]>();
    for (const role of ['learner', 'instructor', 'administrator'] as const) {
      const launched = await moodle.launch(server, role, { locale: 'fr' });
      if (!launched.client.ltik) throw new Error(`no session for ${role}`);
      ltik[role] = launched.client.ltik;
      cookies.set(role, [...launched.client.cookies]);
    }
    const course = await findCourse(db, platform.id, '2');
    const referential = await getReferential(db, 'socle-sante-niveaux-4-8');
    if (!course || !referential) throw new Error('no course or référentiel');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential,
      activityIris: new Set(MAPPING.map((m) => m.activityIri)),
      entries: MAPPING.map(({ activityIri, competencyKey, minutes }) => ({ activityIri, competencyKey, minutes })),
      actor: 'test',
    });
    // the learner's completions, as logstore_xapi sends them: domain 2 complete (a badge), domain 1 begun
    const key = await createXapiKey(db, MOODLE);
    const statements = MAPPING.filter((m) => m.done).map((m, i) => {
      const s = completionStatement({ id: uuidOf(i + 1), sub: '4', cmid: 0, course: 2, kind: 'completed', at: new Date(Date.UTC(2026, 10, 3 + 3 * i, 9, 30)) });
      Object.assign(s.object as object, { id: m.activityIri });
      (s.object as { definition: { name: Record<string, string> } }).definition.name = { en: m.name ?? '' };
      return s;
    });
    const posted = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(statements),
    });
    if (posted.status !== 200) throw new Error(`xAPI answered ${posted.status}: ${await posted.text()}`);
    const learner = await findUser(db, platform.id, '4');
    if (!learner) throw new Error('no learner 4');
    // the page computes coverage (and issues the badge) at its first load
    await fetch(withLtik(`${server.url}/lti/me`, ltik.learner), { headers: { cookie: (cookies.get('learner') ?? []).map(([k, v]) => `${k}=${v}`).join('; ') } });
    const [credential] = await listCredentials(db, server.ctx, learner.id);
    if (!credential) throw new Error('no credential issued');
    const attestation = await recordAttestation(db, {
      platformId: platform.id,
      publicUrl: server.ctx.config.publicUrl,
      attestation: {
        learner: { sub: '4', name: 'Inès Benali-Desrosiers de la Villemarqué' },
        referential: { id: referential.id, version: referential.version, title: referential.title },
        domains: referential.domains.map((d, i) => ({ code: d.code, title: d.title, validatedMinutes: i === 1 ? 300 : 0, requiredMinutes: d.requiredMinutes ?? 0 })),
        validatedMinutes: 300,
        requiredMinutes: 1680,
        status: 'in_progress',
        completedAt: null,
        activities: [],
        institution: 'Institut de formation en soins infirmiers du centre hospitalier universitaire',
        issuedAt: new Date(Date.UTC(2026, 10, 23, 8)),
      },
    });
    // dynamic registration: Moodle's openid configuration and registration endpoints (the page is shown once)
    const dynreg = 'http://127.0.0.1:8383';
    const openid = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'moodle-4.3', 'lti-dynreg-openid-configuration.json'), 'utf8')) as Record<string, unknown>;
    const rebase = (v: unknown) => (typeof v === 'string' ? v.replace(/^https?:\/\/[^/]+/, dynreg) : v);
    nock(dynreg)
      .get('/mod/lti/openid-configuration.php')
      .reply(200, Object.fromEntries(Object.entries(openid).map(([k, v]) => [k, rebase(v)])));
    nock(dynreg)
      .post('/mod/lti/openid-registration.php')
      .reply(200, JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'moodle-4.3', 'lti-dynreg-registration-response.json'), 'utf8')));
    fixture = {
      server,
      ltik,
      learnerId: learner.id,
      courseId: course.id,
      credentialId: credential.id,
      attestationId: attestation.id,
      registration: `/lti/register?openid_configuration=${encodeURIComponent(`${dynreg}/mod/lti/openid-configuration.php`)}&registration_token=reg`,
    };
    browser = await launchChromium(['--hide-scrollbars']);
    const url = new URL(server.url);
    for (const viewport of [PHONE, { width: 1100, height: 820 }, { width: 800, height: 600 }]) {
      for (const role of ['none', 'learner', 'instructor', 'administrator'] as const) {
        const context = await browser.newContext({ viewport, locale: 'fr-FR' });
        await context.addCookies((cookies.get(role) ?? []).map(([name, value]) => ({ name, value, domain: url.hostname, path: '/' })));
        contexts.set(`${role}@${viewport.width}`, context);
      }
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    nock.cleanAll();
    await fixture?.server.destroy();
    if (!process.env.UPDATE_SCREENSHOTS) fs.rmSync(shots, { recursive: true, force: true });
  });

  const open = async (as: LaunchRole | undefined, url: string, viewport = PHONE) => {
    const context = contexts.get(`${as ?? 'none'}@${viewport.width}`);
    if (!context) throw new Error('no browser context');
    const page = await context.newPage();
    const res = await page.goto(`${fixture.server.url}${withLtik(url, as ? fixture.ltik[as] : undefined)}`);
    return { page, status: res?.status() };
  };

  it.each(PAGES.map((p) => [p.name, p] as const))('%s: no horizontal scrolling', async (_name, p) => {
    const { page, status } = await open(p.as, p.url(fixture));
    try {
      expect(status).toBe(p.status ?? 200);
      const m = (await page.evaluate(MEASURE)) as { viewport: number; scrollWidth: number; mainOverflow: number; out: string[] };
      // the document does not scroll sideways, nor does <main>, which scrolls inside Moodle's fixed-height frame
      expect({ ...m, scrollWidth: Math.min(m.scrollWidth, m.viewport), mainOverflow: Math.min(m.mainOverflow, 0), out: [] }).toEqual({ viewport: 390, scrollWidth: 390, mainOverflow: 0, out: [] });
      expect(m.out).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("opens a learner's page from the heatmap, in the same LTI session, with their hours", async () => {
    const { page } = await open('instructor', '/lti/course/cohort');
    try {
      const link = page.locator(`a[href*="/lti/learners/${fixture.learnerId}?"]`).first();
      await link.waitFor();
      await Promise.all([page.waitForURL(new RegExp(`/lti/learners/${fixture.learnerId}\\?ltik=`)), link.click()]);
      expect(await page.locator('h1').innerText()).toMatch(/^Apprenant\s:/);
      expect(await page.getByTestId('learner-total').first().innerText()).toMatch(/validées sur \d+\sh/);
      const m = (await page.evaluate(MEASURE)) as { scrollWidth: number; out: string[] };
      expect(m).toMatchObject({ scrollWidth: 390, out: [] });
    } finally {
      await page.close();
    }
  });

  it("shows the learner's next step: the activities left in each domain, with their hours and a link to Moodle", async () => {
    for (const viewport of [{ width: 800, height: 600 }, PHONE]) {
      const { page } = await open('learner', '/lti/me', viewport);
      const steps = page.getByTestId('next-steps');
      await steps.waitFor();
      const quiz = steps.getByRole('link', { name: /Quiz 1: basics/ });
      expect(await quiz.getAttribute('href')).toBe(iri('quiz', 9));
      expect(await quiz.getAttribute('target')).toBe('_blank');
      expect(await steps.locator('.next-activities li', { has: page.getByRole('link', { name: /Quiz 1: basics/ }) }).innerText()).toMatch(/Quiz 1: basics\s+— 2\sh · compétence\(s\) 1\.2 · cours « LTI Test Course »/);
      expect(await steps.innerText()).toMatch(/Télesanté\s:\sencore 6\sh/);
      // done activities are not proposed again; domain 2 is complete, so it is not listed
      expect(await steps.innerText()).not.toContain('Cybersécurité');
      await page.locator('h3[id^="next-"]').first().evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await page.screenshot({ path: path.join(shots, `learner-next-step${viewport === PHONE ? '-390' : ''}.png`) });
      await page.close();
    }
  });

  it('the mapping tabs, for the guide: desktop and 390 px', async () => {
    for (const viewport of [{ width: 1100, height: 820 }, PHONE]) {
      for (const tab of ['activities', 'rule', 'transfer', 'history'] as const) {
        const { page } = await open('instructor', `/lti/course${tab === 'activities' ? '' : `?tab=${tab}`}`, viewport);
        expect(await page.locator('nav.course-tabs [aria-current="page"]').count()).toBe(1);
        // on a phone, the activities tab from its table (the summary is above)
        if (tab === 'activities' && viewport === PHONE) await page.locator('#activities-title').evaluate((e) => e.scrollIntoView({ block: 'start' }));
        const file = path.join(shots, `mapping-${tab}${viewport === PHONE ? '-390' : ''}.png`);
        await page.screenshot({ path: file });
        expect(fs.statSync(file).size).toBeGreaterThan(10_000);
        await page.close();
      }
    }
  });
});
