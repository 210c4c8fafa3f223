/**
 * docs/cohort-risk.png: the instructor's cohort page sorted by risk (at risk first), as Moodle's fixed-height iframe
 * shows it (800×600), for a programme of two courses half way through its intake (Socle's clock on 2 March 2027),
 * on a real server (PGlite in a temporary directory) with a simulated Moodle and statements through /xapi.
 * Run: npx tsx test/screenshots/cohort-risk.ts [out.png] [--locale en]
 * Needs Debian's chromium (/usr/bin/chromium) and playwright-core (dev dependency).
 */
import path from 'node:path';
import { sql } from 'drizzle-orm';
import nock from 'nock';
import { coverageDeps } from '../../src/coverage/deps';
import { drainDirty } from '../../src/coverage/freshness';
import type { Referential } from '../../src/domain/referential';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { setCoursePolicy } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import { createXapiKey } from '../../src/xapi/keys';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';
import { launchChromium } from '../support/browser';
import { startTestServer } from '../support/app';
import { SimulatedMoodle } from '../support/moodle';
import { basic, MOODLE } from '../xapi/support';

const NAMES = ['Inès Benali', 'Lucas Martin', 'Chloé Dubois', 'Hugo Lefèvre', 'Léa Moreau', 'Nathan Girard', 'Camille Roux', 'Yanis Fournier', 'Manon Bonnet', 'Théo Lambert'];

async function main() {
  const out = path.resolve(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'docs/cohort-risk.png');
  const locale = process.argv.includes('--locale') ? process.argv[process.argv.indexOf('--locale') + 1] : 'fr';
  let now = () => new Date();
  const server = await startTestServer('pglite', {}, { badges: undefined, clock: () => now() });
  const browser = await launchChromium();
  try {
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const year1 = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    const year2 = await ensureCourse(db, platform.id, '3', 'Socle — année 2');
    const ref = (await getReferential(db, 'socle-sante-niveaux-4-8')) as Referential;
    // each course offers half of every domain: pages 11–15 in year 1, 21–25 in year 2
    for (const [course, base] of [[year1, 10], [year2, 20]] as const) {
      const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(base + i + 1), competencyKey: d.competencies[0]?.key as string, minutes: (d.requiredMinutes ?? 0) / 2 }));
      await saveMapping(db, server.ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'screenshot' });
    }
    // year 1 credits only passed activities: a failed one is neither credited nor offered again
    await setCoursePolicy(db, server.ctx, { course: year1, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'screenshot' });
    await addProgramme(db, platform, { name: 'IFSI promotion 2025', referential: ref.id, courses: ['2', '3'], intakeYear: 2025 }, 'screenshot');
    const key = await createXapiKey(db, MOODLE);
    const statements: Record<string, unknown>[] = [];
    let n = 1;
    const at = new Date(Date.UTC(2026, 10, 20, 9, 0, 0));
    NAMES.forEach((_name, i) => {
      // a spread: some finished year 1, some behind, some failed a page (at risk), one done with year 2 as well
      const passed = [11, 12, 13, 14, 15].filter((cmid) => (cmid + i) % 5 < ([5, 5, 1, 3, 4, 2, 5, 0, 4, 3][i] ?? 0));
      for (const cmid of passed) statements.push(completionStatement({ id: uuidOf(n++), sub: `${100 + i}`, cmid, course: 2, kind: 'completed', success: !([2, 3, 5, 8].includes(i) && cmid === passed[0]), at }));
      if (i === 0) for (const cmid of [21, 22, 23, 24, 25]) statements.push(completionStatement({ id: uuidOf(n++), sub: '100', cmid, course: 3, kind: 'completed', at }));
    });
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(statements),
    });
    if (!res.ok) throw new Error(`statements: ${res.status} ${await res.text()}`);
    const launched = await moodle.launch(server, 'instructor', { locale });
    for (const [i, name] of NAMES.entries()) {
      const u = await ensureUser(db, platform.id, `${100 + i}`, { name });
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${year1.id}, ${u.id}, ARRAY['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])
                           ON CONFLICT DO NOTHING`);
    }
    while ((await drainDirty(db, coverageDeps(server.ctx, db), 50)) > 0);
    now = () => new Date('2027-03-02T10:00:00Z');
    const context = await browser.newContext({ viewport: { width: 800, height: 600 }, locale: locale === 'en' ? 'en-GB' : 'fr-FR' });
    await context.addCookies([...launched.client.cookies].map(([name, value]) => ({ name, value, url: server.url })));
    const page = await context.newPage();
    await page.goto(`${server.url}/lti/course/cohort?ltik=${encodeURIComponent(String(launched.client.ltik))}&sort=risk&dir=asc`);
    await page.screenshot({ path: out });
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
