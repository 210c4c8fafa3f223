/**
 * "Ma progression" with the learner's forecast, on both drivers: a learner of a programme sees its status, due
 * date, the hours left and what is left per domain, and their reminder, which they can hide and show again; a
 * learner of a course in no programme sees the empty state.
 */
import nock from 'nock';
import { coverageDeps } from '../../src/coverage/deps';
import { drainDirty } from '../../src/coverage/freshness';
import type { Referential } from '../../src/domain/referential';
import { ensurePlatform, findCourse, type Platform } from '../../src/identity/records';
import { setCoursePolicy } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';
import { MOODLE } from '../xapi/support';

const REF = 'socle-sante-niveaux-4-8';
/** The visible text, one space between words (no-break spaces too). */
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe.each(drivers)('the forecast on "Ma progression" on %s', (driver) => {
  let server: TestServer;
  let platform: Platform;
  let ref: Referential;
  let learner: Client;
  let n = 0;

  const page = async (client: Client, query = '') => {
    const res = await client.get(`/lti/me${query}`);
    expect(res.status).toBe(200);
    return text(await res.text());
  };

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { badges: undefined });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const db = server.ctx.store.db;
    learner = (await moodle.launch(server, 'learner', { locale: 'fr' })).client;
    platform = await ensurePlatform(db, MOODLE);
    const course = await findCourse(db, platform.id, '2');
    if (!course) throw new Error('no course after the launch');
    ref = (await getReferential(db, REF)) as Referential;
    // page 11+i credits all of domain i, page 16 one more hour of domain 1
    const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(11 + i), competencyKey: d.competencies[0]?.key as string, minutes: d.requiredMinutes ?? 0 }));
    entries.push({ activityIri: pageIri(16), competencyKey: ref.domains[0]?.competencies[1]?.key as string, minutes: 60 });
    await saveMapping(db, server.ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'test' });
    await setCoursePolicy(db, server.ctx, { course, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'test' });
    await addProgramme(db, platform, { name: 'IFSI promotion 2025', referential: REF, courses: ['2'], intakeYear: 2025, dueDate: '2028-08-31' }, 'test');
    // the learner (4): domains 1 to 4 validated, the fifth's only activity failed
    const body = [11, 12, 13, 14, 15].map((cmid) => completionStatement({ id: uuidOf(++n), sub: '4', cmid, course: 2, kind: 'completed', success: cmid !== 15, at: new Date(Date.UTC(2026, 10, 1, 10, n)) }));
    await storeStatements(db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date()));
    while ((await drainDirty(db, coverageDeps(server.ctx, db), 50)) > 0);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('shows the status, the due date, the hours left and available, what is left per domain, and the reminder', async () => {
    const body = await page(learner);
    const fifth = ref.domains[4];
    expect(body).toContain('Mon échéance');
    expect(body).toContain('Formation « IFSI promotion 2025 »');
    expect(body).toContain('Prévision : À risque Les activités de vos cours ne suffisent plus à tout valider avant l’échéance.');
    expect(body).toMatch(/Échéance 31\/08\/2028 \(dans \d+ jours\)/);
    expect(body).toContain('Heures restant à valider 6 h');
    expect(body).toContain('Heures disponibles dans vos cours 1 h');
    expect(body).toContain(`Ce qu’il vous reste par domaine Domaine Reste à valider Disponible dans vos cours ${fifth?.code} ${fifth?.title} 6 h 0 h (insuffisant)`);
    expect(body).toContain('Il vous reste 6 h à valider avant le 31/08/2028 ; vos cours en proposent encore 1 h.');
    expect(body).toContain('Ne plus afficher ce rappel');
  });

  it('hides the reminder when the learner asks, and shows it again', async () => {
    const off = await learner.post('/lti/alerts/preference', { form: { alerts: 'off', back: 'me' } });
    expect(off.status).toBe(303);
    expect(off.headers.get('location')).toMatch(/^\/lti\/me\?ltik=.+&alerts=saved#reminder$/);
    const hidden = await page(learner, '?alerts=saved');
    expect(hidden).not.toContain('Il vous reste');
    expect(hidden).toContain('Vous avez masqué le rappel de votre échéance. Préférence enregistrée.');
    // the forecast itself stays
    expect(hidden).toContain('Heures restant à valider 6 h');
    await learner.post('/lti/alerts/preference', { form: { alerts: 'on', back: 'me' } });
    expect(await page(learner)).toContain('Il vous reste 6 h à valider');
  });

  it('says so, in English too, for a learner whose courses are in no programme', async () => {
    const moodle = await SimulatedMoodle.create();
    const other = (await moodle.launch(server, 'learner', { context: '9', sub: '40', locale: 'en' })).client;
    const body = await page(other);
    expect(body).toContain('My deadline');
    expect(body).toContain('Your courses are in no programme Socle follows');
    expect(body).not.toContain('left to validate by');
  });
});
