/**
 * Screenshots of "Ma progression" as a learner sees it inside Moodle's 800×600 iframe (docs/learner-progress.png,
 * docs/learner-badges.png): a real server on PGlite with the bundled 28 h référentiel, a simulated Moodle launch,
 * logstore_xapi-shaped completions, a manual credit, then Debian's chromium in headless mode.
 *
 *   npx tsx scripts/screenshots.ts        (needs /usr/bin/chromium: apt-get install -y chromium)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import nock from 'nock';
import { grantManualCredit } from '../src/coverage/credits';
import { coverageDeps } from '../src/coverage/deps';
import { ensurePlatform, findCourse, findUser } from '../src/identity/records';
import { saveMapping } from '../src/mapping/service';
import { getReferential } from '../src/referentials/catalogue';
import { createXapiKey } from '../src/xapi/keys';
import { completionStatement, uuidOf } from '../test/coverage/support';
import { startTestServer } from '../test/support/app';
import { CHROMIUM, CHROMIUM_FLAGS } from '../test/support/browser';
import { SimulatedMoodle } from '../test/support/moodle';
import { basic, MOODLE } from '../test/xapi/support';

const FLAGS = [...CHROMIUM_FLAGS, '--hide-scrollbars'];

const activities = [
  { cmid: 12, name: 'Guide : sécuriser son poste de travail', competencyKey: '2.1', minutes: 240, done: true },
  { cmid: 11, name: 'Devoir : réagir à un incident de sécurité', competencyKey: '2.2', minutes: 60, done: true },
  { cmid: 3, name: 'Identitovigilance : les bases', competencyKey: '1.1', minutes: 90, done: true },
  { cmid: 4, name: 'Le RGPD appliqué aux données de santé', competencyKey: '1.2', minutes: 120, done: true },
  { cmid: 5, name: 'La messagerie sécurisée de santé', competencyKey: '3.1', minutes: 60, done: true },
  { cmid: 6, name: 'Téléconsultation : le cadre réglementaire', competencyKey: '5.1', minutes: 120, done: false },
];
const iri = (cmid: number) => `${MOODLE}/mod/page/view.php?id=${cmid}`;

async function main() {
  const server = await startTestServer('pglite', { ltiSession: 'ltiaas' });
  try {
    const db = server.ctx.store.db;
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const launched = await moodle.launch(server, 'learner', { locale: 'fr' });
    const ltik = launched.client.ltik;
    if (launched.landedOn !== '/lti/me' || !ltik) throw new Error(`launch landed on ${launched.landedOn}`);
    const platform = await ensurePlatform(db, MOODLE);
    const course = await findCourse(db, platform.id, '2');
    const referential = await getReferential(db, 'socle-sante-niveaux-4-8');
    if (!course || !referential) throw new Error('no course or référentiel');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential,
      activityIris: new Set(activities.map((a) => iri(a.cmid))),
      entries: activities.map((a) => ({ activityIri: iri(a.cmid), competencyKey: a.competencyKey, minutes: a.minutes })),
      actor: 'screenshots',
    });
    const key = await createXapiKey(db, MOODLE);
    const statements = activities
      .filter((a) => a.done)
      .map((a, i) => {
        const s = completionStatement({ id: uuidOf(i + 1), sub: '4', cmid: a.cmid, course: 2, kind: 'completed', at: new Date(Date.UTC(2026, 10, 3 + 3 * i, 9, 30)) });
        (s.object as { definition: { name: Record<string, string> } }).definition.name = { fr: a.name };
        return s;
      });
    const posted = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(statements),
    });
    if (posted.status !== 200) throw new Error(`xAPI answered ${posted.status}: ${await posted.text()}`);
    const user = await findUser(db, platform.id, '4');
    if (!user) throw new Error('no learner 4');
    await db.transaction((tx) =>
      grantManualCredit(tx, coverageDeps(server.ctx, tx), {
        platformId: platform.id,
        userId: user.id,
        referentialId: referential.id,
        competencyKey: '4.1',
        minutes: 120,
        justification: 'Formation au dossier patient informatisé en présentiel le 12/11/2026 (feuille d’émargement)',
        actor: 'screenshots',
      }),
    );
    const docs = path.join(__dirname, '..', 'docs');
    for (const [file, query] of [
      ['learner-progress.png', ''],
      ['learner-badges.png', '&tab=badges'],
    ] as const) {
      // asynchronously: the server answering chromium runs in this process
      await promisify(execFile)(CHROMIUM, [...FLAGS, '--window-size=800,600', `--screenshot=${path.join(docs, file)}`, `${server.url}/lti/me?ltik=${encodeURIComponent(ltik)}${query}`], {
        timeout: 60_000,
      });
      process.stdout.write(`docs/${file}\n`);
    }
  } finally {
    nock.cleanAll();
    await server.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exitCode = 1;
});
