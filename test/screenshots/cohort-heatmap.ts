/**
 * docs/cohort-heatmap.png (and -gradebook.png, after a publication): the instructor's cohort page as Moodle's fixed-height iframe shows it (800×600), on a
 * real server (PGlite in a temporary directory) with a simulated Moodle (nock) and a seeded cohort.
 * Run: npx tsx test/screenshots/cohort-heatmap.ts [out.png] [--locale en]
 * Needs Debian's chromium (/usr/bin/chromium) and playwright-core (dev dependency).
 */
import path from 'node:path';
import { sql } from 'drizzle-orm';
import nock from 'nock';

import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { createXapiKey } from '../../src/xapi/keys';
import { completionStatement, fixtureReferentials, pageIri, uuidOf } from '../coverage/support';
import { socle28 } from '../domain/coverage-fixtures';
import { startTestServer } from '../support/app';
import { SimulatedMoodle } from '../support/moodle';
import { basic, MOODLE } from '../xapi/support';
import { launchChromium } from '../support/browser';

const NAMES = [
  'Inès Benali', 'Lucas Martin', 'Chloé Dubois', 'Hugo Lefèvre', 'Léa Moreau', 'Nathan Girard', 'Camille Roux',
  'Yanis Fournier', 'Manon Bonnet', 'Théo Lambert', 'Sarah Fontaine', 'Jules Chevalier', 'Emma Robin', 'Adam Garnier',
];
/** Pages 1–10: two activities per domain, in minutes. */
const ACTIVITIES: [number, string, number][] = [
  [1, '1.1', 180], [2, '1.2', 180], [3, '2.1', 150], [4, '2.2', 150], [5, '3.1', 150],
  [6, '3.2', 150], [7, '4.1', 180], [8, '4.2', 180], [9, '5.1', 180], [10, '5.2', 180],
];

async function main() {
  const out = path.resolve(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'docs/cohort-heatmap.png');
  const locale = process.argv.includes('--locale') ? process.argv[process.argv.indexOf('--locale') + 1] : 'fr';
  const server = await startTestServer('pglite', {}, { referentials: fixtureReferentials() });
  const browser = await launchChromium();
  try {
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential: socle28,
      activityIris: new Set(ACTIVITIES.map(([cmid]) => pageIri(cmid))),
      entries: ACTIVITIES.map(([cmid, competencyKey, minutes]) => ({ activityIri: pageIri(cmid), competencyKey, minutes })),
      actor: 'screenshot',
    });
    const key = await createXapiKey(db, MOODLE);
    const statements: Record<string, unknown>[] = [];
    let n = 1;
    const at = new Date(Date.UTC(2026, 10, 20, 9, 0, 0));
    NAMES.forEach((_name, i) => {
      // a spread of progress: from nothing to everything, deterministic
      const done = ACTIVITIES.filter(([cmid]) => (cmid * 7 + i * 3) % 10 < i % 11);
      for (const [cmid] of done) statements.push(completionStatement({ id: uuidOf(n++), sub: `${100 + i}`, cmid, course: 2, kind: 'completed', at }));
    });
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(statements),
    });
    if (!res.ok) throw new Error(`statements: ${res.status} ${await res.text()}`);
    const launched = await moodle.launch(server, 'instructor', { locale });
    // the roster: the NRPS fixture's learners plus the seeded ones
    for (const [i, name] of NAMES.entries()) {
      const u = await ensureUser(db, platform.id, `${100 + i}`, { name });
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${u.id}, ARRAY['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])
                           ON CONFLICT DO NOTHING`);
    }
    const context = await browser.newContext({ viewport: { width: 800, height: 600 }, locale: locale === 'en' ? 'en-GB' : 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, url: server.url })));
    const page = await context.newPage();
    await page.goto(`${server.url}/lti/course/cohort?ltik=${encodeURIComponent(String(launched.client.ltik))}&sort=total&dir=desc`);
    await page.screenshot({ path: out });
    // the end of the page: legend and the gradebook publication, after a click (one learner not gradable in Moodle)
    moodle.notGradable.add('5');
    await page.locator('main').evaluate((main) => main.scrollTo(0, main.scrollHeight));
    await page.getByRole('button').click();
    await page.locator('[data-testid="publish-summary"]').waitFor();
    await page.locator('#publish-result details summary').first().click();
    await page.locator('main').evaluate((main) => main.scrollTo(0, main.scrollHeight));
    await page.screenshot({ path: out.replace(/\.png$/, '-gradebook.png') });
    process.stdout.write(`${out}\n`);
  } finally {
    await browser.close();
    nock.cleanAll();
    await server.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
