/**
 * The forecast on the cohort heatmap (its column, sorted by risk, at risk first, walked with the keyset cursors
 * forwards and back) and on one learner's page, for a programme of two courses; real launches, statements through
 * the ingestion, the day fixed on Socle's clock once launched.
 */
import { sql } from 'drizzle-orm';
import { coverageDeps } from '../../src/coverage/deps';
import { drainDirty } from '../../src/coverage/freshness';
import type { Referential } from '../../src/domain/referential';
import { ensureCourse, ensureUser, findCourse, findPlatform, type Platform } from '../../src/identity/records';
import { setCoursePolicy } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';

const REF = 'socle-sante-niveaux-4-8';
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';

describe.each(drivers)('the forecast on the cohort and learner pages on %s', (driver) => {
  let server: TestServer;
  let teacher: Client;
  let platform: Platform;
  let courseId: number;
  let now = () => new Date();
  const ids: Record<string, number> = {};
  let n = 0;

  async function complete(sub: string, course: number, cmids: number[], success: boolean | null) {
    const body = cmids.map((cmid) => completionStatement({ id: uuidOf(++n), sub, cmid, course, kind: 'completed', success, at: new Date(Date.UTC(2026, 10, 1, 10, n)) }));
    await storeStatements(server.ctx.store.db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: platform.issuer, name: 'test' } }, new Date()));
  }

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { badges: undefined, clock: () => now() });
    const moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    teacher = (await moodle.launch(server, 'instructor', { locale: 'fr' })).client; // course 2
    const db = server.ctx.store.db;
    platform = (await findPlatform(db, moodle.issuer)) as Platform;
    const a = (await findCourse(db, platform.id, '2')) ?? (await ensureCourse(db, platform.id, '2'));
    courseId = a.id;
    const b = await ensureCourse(db, platform.id, '3', 'Année 2');
    const ref = (await getReferential(db, REF)) as Referential;
    // each course offers half of every domain: page 10+d in course 2, page 20+d in course 3
    for (const [course, base] of [[a, 10], [b, 20]] as const) {
      const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(base + i + 1), competencyKey: d.competencies[0]?.key as string, minutes: (d.requiredMinutes ?? 0) / 2 }));
      await saveMapping(db, server.ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'test' });
    }
    await setCoursePolicy(db, server.ctx, { course: a, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'test' });
    await addProgramme(db, platform, { name: 'IFSI 2025', referential: REF, courses: ['2', '3'], intakeYear: 2025 }, 'test');
    const names: Record<string, string> = { done: 'Dina Done', onTrack: 'Omar OnTrack', behind: 'Bea Behind', atRisk: 'Rita Risk', atRisk2: 'Rémi Risk', none: 'Nora None' };
    for (const [key, name] of Object.entries(names)) {
      const u = await ensureUser(db, platform.id, `s-${key}`, { name });
      ids[key] = u.id;
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${a.id}, ${u.id}, ARRAY[${LEARNER}]) ON CONFLICT DO NOTHING`);
    }
    await complete('s-done', 2, [11, 12, 13, 14, 15], true);
    await complete('s-done', 3, [21, 22, 23, 24, 25], null);
    await complete('s-onTrack', 2, [11, 12, 13, 14, 15], true);
    await complete('s-behind', 2, [11], true);
    for (const sub of ['s-atRisk', 's-atRisk2']) {
      await complete(sub, 2, [11, 12, 13, 14], true);
      await complete(sub, 2, [15], false); // failed: no longer offered, not credited
    }
    // s-none: in the roster, nothing done yet → behind
    while ((await drainDirty(db, coverageDeps(server.ctx, db), 50)) > 0);
    // half way through the intake (839 of the 1,680 minutes expected)
    now = () => new Date('2027-03-02T10:00:00Z');
  }, 60_000);
  afterAll(async () => server?.destroy());

  const rowsOf = (html: string) => [...html.matchAll(/<tr data-sub="([^"]+)">[\s\S]*?<\/tr>/g)].map((m) => ({ sub: m[1], row: m[0] }));

  it('shows each learner’s forecast in the heatmap and sorts by risk, at risk first', async () => {
    const html = await (await teacher.get('/lti/course/cohort?sort=risk', { Accept: 'text/html' })).text();
    expect(html).toMatch(/<th scope="col" aria-sort="ascending"><a href="[^"]*sort=risk&amp;dir=desc" aria-label="Trier par Prévision">Prévision/);
    const rows = rowsOf(html);
    const order = rows.map((r) => r.sub);
    expect(order.slice(0, 2).sort()).toEqual(['s-atRisk', 's-atRisk2']);
    // the launch's roster (learners 4 and 5) has done nothing yet, as s-behind and s-none: behind, by user id
    expect(order.slice(2, 6).sort()).toEqual(['4', '5', 's-behind', 's-none']);
    expect(order.slice(6)).toEqual(['s-onTrack', 's-done']);
    expect(rows[0]?.row).toContain('<span class="fc fc-at_risk" data-testid="forecast">À risque</span> <small class="muted">Échéance : 31/08/2028</small>');
    expect(rows.find((r) => r.sub === 's-done')?.row).toContain('>Terminé</span>');
    expect(rows.find((r) => r.sub === 's-onTrack')?.row).toContain('>En bonne voie</span>');
  });

  it('pages by risk with the keyset cursors, forwards and back, every learner once', async () => {
    const api = async (q: string) => (await teacher.get(`/lti/api/courses/${courseId}/cohort?sort=risk&limit=2${q}`)).json() as Promise<{ learners: { user: { sub: string }; forecast: { status: string } | null }[]; next: { after: string } | null; previous: { before: string } | null }>;
    const seen: string[] = [];
    const statuses: string[] = [];
    let page = await api('');
    const pages = [page];
    for (;;) {
      seen.push(...page.learners.map((l) => l.user.sub));
      statuses.push(...page.learners.map((l) => l.forecast?.status ?? 'none'));
      if (!page.next) break;
      expect(page.next.after).toMatch(/^k\d_\d+$/);
      page = await api(`&after=${page.next.after}`);
      pages.push(page);
    }
    expect(seen).toHaveLength(8);
    expect(new Set(seen).size).toBe(8);
    expect(statuses).toEqual(['at_risk', 'at_risk', 'behind', 'behind', 'behind', 'behind', 'on_track', 'done']);
    // back from the last page: the middle one again
    const back = await api(`&before=${pages[2]?.previous?.before}`);
    expect(back.learners.map((l) => l.user.sub)).toEqual(pages[1]?.learners.map((l) => l.user.sub));
    // the other way round: done first
    const desc = await (await teacher.get(`/lti/api/courses/${courseId}/cohort?sort=risk&dir=desc&limit=8`)).json() as { learners: { user: { sub: string } }[] };
    expect(desc.learners.map((l) => l.user.sub)).toEqual([...seen].reverse());
  });

  it('shows the forecast on the learner’s page', async () => {
    const html = await (await teacher.get(`/lti/learners/${ids.atRisk}`, { Accept: 'text/html' })).text();
    expect(html).toContain('<p class="forecast-line" data-testid="learner-forecast"><span class="fc fc-at_risk">À risque</span> IFSI 2025 : à risque, échéance le 31 août 2028 (548 jours) ; 17\u00a0h à valider, 14\u00a0h encore proposées par les cours.</p>');
  });
});
