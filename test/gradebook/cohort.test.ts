import { eq, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import nock from 'nock';
import { courseView } from '../../src/coverage/read';
import { coverageDeps } from '../../src/coverage/deps';
import { courses } from '../../src/db/schema';
import { formatMinutes } from '../../src/domain/format';
import { queryRows } from '../../src/db/store';
import { drainScorePublications, type ScoreWorker, startScoreWorker } from '../../src/gradebook/worker';
import { ensureCourse, ensurePlatform, ensureUser, type Course, type Platform } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { createXapiKey } from '../../src/xapi/keys';
import { completionStatement, fixtureReferentials, pageIri, uuidOf } from '../coverage/support';
import { arm18, socle28 } from '../domain/coverage-fixtures';
import { coverageSettled, startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, fixture, SimulatedMoodle } from '../support/moodle';
import { basic, MOODLE } from '../xapi/support';

/** The heatmap's rows: [sub, name, link, missing hours, domain and total cell texts…] in page order. */
function heatmapRows(html: string): { sub: string; name: string; href: string; missing: string; cells: string[] }[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr data-sub="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => {
    const row = m[2] ?? '';
    const link = /<th scope="row"><a href="([^"]*)"[^>]*>([^<]*)<\/a><\/th>/.exec(row);
    return {
      sub: m[1] ?? '',
      name: link?.[2] ?? '',
      href: (link?.[1] ?? '').replace(/&amp;/g, '&'),
      missing: /<td class="num missing">([^<]*)/.exec(row)?.[1] ?? '',
      cells: [...row.matchAll(/<td class="num (?:total )?lv[^"]*">([^<]*)/g)].map((c) => (c[1] ?? '').trim()),
    };
  });
}

/** Hours as the learner's page writes them (formatMinutes): 5.5 → "5 h 30". */
const hm = (hours: number) => formatMinutes(Math.round(hours * 60));
/** A cell as written with plain spaces (hours use no-break spaces). */
const plain = (text: string) => text.replace(/\u00a0/g, ' ');

describe.each(drivers)('cohort page and gradebook on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let platform: Platform;
  let course: Course;
  let teacher: Client;
  let xapiAuth: string;
  /** The server's score worker is replaced by one that runs only when asked (its 5 s timer would race the assertions). */
  let worker: ScoreWorker;
  /** POSTs a batch and waits for its crediting (the coverage worker's, which queues the score publications). */
  const post = async (body: unknown) => {
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: xapiAuth, 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await coverageSettled(server.ctx.store);
    return res;
  };
  const at = new Date(Date.UTC(2026, 10, 22, 10, 0, 0));
  const pending = () =>
    queryRows<{ course_id: number; sub: string }>(
      server.ctx.store.db,
      sql`SELECT p.course_id, u.sub FROM score_publications p JOIN users u ON u.id = p.user_id ORDER BY u.sub`,
    );

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    await server.workers.scores.stop();
    worker = startScoreWorker(server.ctx, server.lti.provider, 3_600_000);
    const db = server.ctx.store.db;
    platform = await ensurePlatform(db, MOODLE);
    const key = await createXapiKey(db, MOODLE);
    xapiAuth = basic(key.key, key.secret);
    course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential: socle28,
      activityIris: new Set([1, 2, 3].map(pageIri)),
      entries: [
        { activityIri: pageIri(1), competencyKey: '2.1', minutes: 240 },
        { activityIri: pageIri(2), competencyKey: '2.2', minutes: 180 },
        { activityIri: pageIri(3), competencyKey: '1.1', minutes: 90 },
      ],
      actor: 'test',
    });
    // Sam (4) completed pages 1 and 2 before any launch: 7 h credited on domain 2, capped at its 5 h.
    const res = await post([
      completionStatement({ id: uuidOf(1), sub: '4', cmid: 1, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(2), sub: '4', cmid: 2, course: 2, kind: 'completed', at }),
    ]);
    expect(res.status).toBe(200);
    // the instructor's launch synchronises the roster from Names and Roles (Sam, Sue who did nothing, Terry the teacher)
    const launched = await moodle.launch(server, 'instructor', { locale: 'fr' });
    expect(launched.landedOn).toBe('/lti/course');
    teacher = launched.client;
    [course] = await db.select().from(courses).where(eq(courses.id, course.id)) as [Course];
  });
  afterAll(async () => {
    await worker?.stop();
    nock.cleanAll();
    await server?.destroy();
  });

  it('links the course page to the cohort, whose heatmap lists the roster’s learners with the figures of courseView', async () => {
    const coursePage = await teacher.get('/lti/course');
    const link = /href="([^"]+)" data-testid="cohort-link"/.exec(await coursePage.text())?.[1];
    expect(link).toMatch(/^\/lti\/course\/cohort\?ltik=/);
    const res = await teacher.get(String(link).replace(/&amp;/g, '&'));
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('Progression de la promotion');
    const rows = heatmapRows(html);
    // sorted by missing hours, most first: Sue has nothing yet (all 28 h missing), Sam 23 h; Terry (Instructor in
    // the roster) is not a learner
    expect(rows.map((r) => [r.sub, r.name])).toEqual([
      ['5', 'Sue Student'],
      ['4', 'Sam Student'],
    ]);
    const view = await courseView(server.ctx.store.db, coverageDeps(server.ctx, server.ctx.store.db), platform, course, { limit: 100 });
    for (const row of rows) {
      const learner = view.learners.find((l) => l.user.sub === row.sub);
      if (!learner) throw new Error(`${row.sub} not in courseView`);
      expect(row.cells).toEqual([
        ...learner.domains.map((d) => `${hm(d.validatedHours ?? 0)} / ${hm(d.requiredHours ?? 0)}`),
        `${hm(learner.validatedHours ?? 0)} / ${hm(learner.requiredHours ?? 0)}`,
      ]);
      expect(row.missing).toBe(hm((learner.requiredHours ?? 0) - (learner.validatedHours ?? 0)));
    }
    expect(rows[1]?.cells.map(plain)).toEqual(['0 h / 6 h', '5 h / 5 h', '0 h / 5 h', '0 h / 6 h', '0 h / 6 h', '5 h / 28 h']);
    expect(plain(rows[1]?.missing ?? '')).toBe('23 h');
    expect(rows[0]?.cells.map(plain)).toEqual(['0 h / 6 h', '0 h / 5 h', '0 h / 5 h', '0 h / 6 h', '0 h / 6 h', '0 h / 28 h']);
    // each learner links to their own page, in the same LTI session
    const [sue] = await queryRows<{ id: number }>(server.ctx.store.db, sql`SELECT id FROM users WHERE platform_id = ${platform.id} AND sub = '5'`);
    expect(rows[0]?.href).toMatch(new RegExp(`^/lti/learners/${sue?.id}\\?ltik=[^&]+$`));
    expect(rows[0]?.href).toContain(/ltik=([^&]+)/.exec(String(link))?.[1]);
    // a real table: caption, column headers with aria-sort, row headers; the complete domain says so in text
    expect(html).toMatch(/<caption>Heures validées \/ heures requises/);
    expect(html).toMatch(/<th scope="col" class="num" aria-sort="descending"><a href="[^"]*sort=missing&amp;dir=asc/);
    expect(html).toContain('<span class="sr">(validé)</span>');
    // the legend states the thresholds
    const legend = /<div class="legend" data-testid="legend">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '';
    expect([...legend.matchAll(/<li><span class="swatch (lv\d)"[^>]*><\/span> ([^<]*)<\/li>/g)].map((m) => [m[1], m[2]])).toEqual([
      ['lv0', '0\u202f%'],
      ['lv1', 'moins de 33\u202f%'],
      ['lv2', 'de 33\u202f% à moins de 67\u202f%'],
      ['lv3', 'de 67\u202f% à moins de 100\u202f%'],
      ['lv4', '100\u202f% : validé (✓)'],
    ]);
  });

  it('sorts by total, by a domain and by name, on the server', async () => {
    const order = async (query: string) => heatmapRows(await (await teacher.get(`/lti/course/cohort?${query}`)).text()).map((r) => r.sub);
    expect(await order('')).toEqual(['5', '4']);
    expect(await order('sort=missing&dir=asc')).toEqual(['4', '5']);
    expect(await order('sort=total&dir=desc')).toEqual(['4', '5']);
    expect(await order('sort=total&dir=asc')).toEqual(['5', '4']);
    expect(await order('sort=domain:2&dir=asc')).toEqual(['5', '4']);
    expect(await order('sort=name&dir=desc')).toEqual(['5', '4']);
    expect((await teacher.get('/lti/course/cohort?sort=bogus')).status).toBe(400);
    // a cursor of another sort, or not a cursor, is refused
    expect((await teacher.get('/lti/course/cohort?sort=missing&after=o25')).status).toBe(400);
    expect((await teacher.get('/lti/course/cohort?sort=name&after=k0_1')).status).toBe(400);
    expect((await teacher.get('/lti/course/cohort?after=x')).status).toBe(400);
    const api = await teacher.get(`/lti/api/courses/${course.id}/cohort?sort=total`);
    expect(api.status).toBe(200);
    const body = (await api.json()) as { total: number; learners: { user: { sub: string }; validatedHours: number }[] };
    expect(body.total).toBe(2);
    expect(body.learners.map((l) => [l.user.sub, l.validatedHours])).toEqual([
      ['4', 5],
      ['5', 0],
    ]);
  });

  it('answers in English for an English launch', async () => {
    // Moodle's own launch (fixture) says en; another teacher, so that the French session above stays French
    const en = await moodle.launch(server, 'instructor', { sub: '30' });
    const html = await (await en.client.get('/lti/course/cohort')).text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('Cohort progress');
    expect(heatmapRows(html).find((r) => r.sub === '4')?.cells.map(plain).at(-1)).toBe('5 h / 28 h');
    expect(html).toContain('Missing hours');
  });

  it('refuses learners (page and APIs) and another course', async () => {
    const learner = await moodle.launch(server, 'learner');
    expect(learner.landedOn).toBe('/lti/me');
    const page = await learner.client.get('/lti/course/cohort');
    expect(page.status).toBe(403);
    expect(await page.text()).not.toContain('Sue Student');
    expect((await learner.client.get(`/lti/api/courses/${course.id}/cohort`)).status).toBe(403);
    const publish = await learner.client.post(`/lti/api/courses/${course.id}/gradebook/publish`);
    expect(publish.status).toBe(403);
    const other = await ensureCourse(server.ctx.store.db, platform.id, '99', 'Other');
    expect((await teacher.get(`/lti/api/courses/${other.id}/cohort`)).status).toBe(403);
    expect((await teacher.post(`/lti/api/courses/${other.id}/gradebook/publish`)).status).toBe(403);
    expect(moodle.scores).toEqual([]);
  });

  it('publishes validated / required hours of the whole roster to the AGS line item; a 400 is skipped and reported', async () => {
    moodle.scores.length = 0;
    moodle.notGradable.add('5');
    try {
      const res = await teacher.post(`/lti/api/courses/${course.id}/gradebook/publish`, { headers: { Accept: 'application/json' } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        published: 1,
        skipped: [{ sub: '5', name: 'Sue Student', reason: 'not-gradable' }],
        failed: [],
        total: 2,
      });
      const posted = [...moodle.scores].sort((a, b) => String(a.body.userId).localeCompare(String(b.body.userId)));
      expect(posted.map((s) => s.url)).toEqual([
        'http://127.0.0.1:8181/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1',
        'http://127.0.0.1:8181/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1',
      ]);
      const shape = Object.keys(fixture('ags-score-post.request.json')).filter((k) => k !== 'comment').sort();
      for (const s of posted) expect(Object.keys(s.body).sort()).toEqual(shape);
      expect(posted.map((s) => s.body)).toEqual([
        { userId: '4', scoreGiven: 5, scoreMaximum: 28, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
        { userId: '5', scoreGiven: 0, scoreMaximum: 28, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: expect.any(String) },
      ]);
      // from the page (htmx): the summary as HTML, in French
      const hx = await teacher.post(`/lti/api/courses/${course.id}/gradebook/publish`, { headers: { 'HX-Request': 'true' } });
      const html = await hx.text();
      expect(html).toContain('1 note(s) publiée(s), 1 ignorée(s), 0 en échec, sur 2 apprenant(s)');
      expect(html).toContain('Sue Student — non évaluable dans Moodle');
    } finally {
      moodle.notGradable.clear();
    }
  });

  it('queues a re-publication when a learner’s coverage changes, which the worker delivers; no change queues nothing', async () => {
    await worker.drain();
    moodle.scores.length = 0;
    // the same completion again: coverage unchanged, nothing queued
    expect((await post([completionStatement({ id: uuidOf(3), sub: '4', cmid: 1, course: 2, kind: 'completed', at: new Date(at.getTime() + 1000) })])).status).toBe(200);
    expect(await pending()).toEqual([]);
    // page 3 credits 1.5 h on domain 1: Sam now has 6.5 h
    expect((await post([completionStatement({ id: uuidOf(4), sub: '4', cmid: 3, course: 2, kind: 'completed', at })])).status).toBe(200);
    expect(await pending()).toEqual([{ course_id: course.id, sub: '4' }]);
    expect(moodle.scores).toEqual([]); // ingestion did not wait for Moodle
    const drained = await worker.drain();
    expect(drained.published).toBe(1);
    expect(moodle.scores.map((s) => [s.body.userId, s.body.scoreGiven, s.body.scoreMaximum])).toEqual([['4', 6.5, 28]]);
    expect(await pending()).toEqual([]);
  });

  it('keeps a failed re-publication for a later attempt', async () => {
    moodle.scores.length = 0;
    // a line item whose scores endpoint is down for maintenance
    const db = server.ctx.store.db;
    const [services] = await queryRows<{ lineitem_url: string }>(db, sql`SELECT lineitem_url FROM lti_course_services WHERE course_id = ${course.id}`);
    await db.execute(sql`UPDATE lti_course_services SET lineitem_url = ${`${moodle.issuer}/mod/lti/services.php/2/lineitems/9/lineitem?type_id=1`} WHERE course_id = ${course.id}`);
    const down = nock(moodle.issuer).post('/mod/lti/services.php/2/lineitems/9/lineitem/scores').query(true).reply(503, 'maintenance');
    // Sue completes page 1: 4 h on domain 2
    expect((await post([completionStatement({ id: uuidOf(5), sub: '5', cmid: 1, course: 2, kind: 'completed', at })])).status).toBe(200);
    const first = await worker.drain();
    expect(first.failed).toBe(1);
    const [row] = await queryRows<{ attempts: number; last_error: string; later: boolean }>(
      server.ctx.store.db,
      sql`SELECT attempts, last_error, not_before > now() AS later FROM score_publications`,
    );
    expect(row).toEqual({ attempts: 1, last_error: expect.stringContaining('503'), later: true });
    expect(down.isDone()).toBe(true);
    await db.execute(sql`UPDATE lti_course_services SET lineitem_url = ${services?.lineitem_url ?? ''} WHERE course_id = ${course.id}`);
    await db.execute(sql`UPDATE score_publications SET not_before = now()`);
    expect((await worker.drain()).published).toBe(1);
    expect(moodle.scores.at(-1)?.body).toMatchObject({ userId: '5', scoreGiven: 4, scoreMaximum: 28 });
    expect(await pending()).toEqual([]);
  });

  it('paginates a large roster', async () => {
    const db = server.ctx.store.db;
    for (let i = 0; i < 30; i++) {
      const u = await ensureUser(db, platform.id, `l${100 + i}`, { name: `Learner ${String(100 + i)}` });
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${u.id}, ARRAY['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])`);
    }
    const first = await (await teacher.get('/lti/course/cohort?sort=name')).text();
    expect(heatmapRows(first)).toHaveLength(25);
    expect(first).toContain('Page 1 sur 2');
    const next = /<a href="([^"]+)" rel="next">/.exec(first)?.[1]?.replace(/&amp;/g, '&');
    const second = heatmapRows(await (await teacher.get(String(next))).text());
    expect(second.map((r) => r.name)).toEqual(['Learner 125', 'Learner 126', 'Learner 127', 'Learner 128', 'Learner 129', 'Sam Student', 'Sue Student']);
    // by missing hours (the default): keyset pages, Sam (the only one with hours) last, back to the same first page
    const byMissing = await (await teacher.get('/lti/course/cohort')).text();
    const firstPage = heatmapRows(byMissing);
    expect(firstPage).toHaveLength(25);
    expect(byMissing).toContain('Page 1 sur 2');
    const keyedNext = /<a href="([^"]+)" rel="next">/.exec(byMissing)?.[1]?.replace(/&amp;/g, '&');
    expect(keyedNext).toMatch(/&after=k1680_\d+&from=26$/);
    const page2 = await (await teacher.get(String(keyedNext))).text();
    expect(page2).toContain('Page 2 sur 2');
    const secondPage = heatmapRows(page2);
    expect(secondPage).toHaveLength(7);
    expect(secondPage.at(-1)?.name).toBe('Sam Student');
    expect(new Set([...firstPage, ...secondPage].map((r) => r.sub)).size).toBe(32);
    const back = /<a href="([^"]+)" rel="prev">/.exec(page2)?.[1]?.replace(/&amp;/g, '&');
    expect(back).toMatch(/&before=k1680_\d+$/);
    expect(heatmapRows(await (await teacher.get(String(back))).text()).map((r) => r.sub)).toEqual(firstPage.map((r) => r.sub));
    const api = (await (await teacher.get(`/lti/api/courses/${course.id}/cohort?limit=500`)).json()) as { total: number; learners: unknown[]; next: unknown };
    expect([api.total, api.learners.length, api.next]).toEqual([32, 32, null]);
  });

  it('shares the queue between concurrent workers: each queued score is published once', async () => {
    const db = server.ctx.store.db;
    const { provider } = server.lti;
    moodle.scores.length = 0;
    await db.execute(sql`INSERT INTO score_publications (course_id, user_id) SELECT course_id, user_id FROM course_members WHERE course_id = ${course.id} AND status <> 'deleted'`);
    const queued = (await pending()).length;
    expect(queued).toBe(33); // Sam, Sue, Terry and the 30 above
    const drainer = async () => {
      let published = 0;
      for (let r = await drainScorePublications(server.ctx, provider, 4); r.claimed > 0; r = await drainScorePublications(server.ctx, provider, 4)) {
        published += r.published + r.skipped;
      }
      return published;
    };
    const [a, b] = await Promise.all([drainer(), drainer()]);
    expect(a + b).toBe(queued);
    const users = moodle.scores.map((x) => String(x.body.userId));
    expect(new Set(users).size).toBe(users.length);
    expect(users).toHaveLength(32); // the teacher is not a learner of the course: skipped without a post
    expect(await pending()).toEqual([]);
  });

  it('gives the deep-linking line item the required hours of the course’s référentiel', async () => {
    const db = server.ctx.store.db;
    const arm = await ensureCourse(db, platform.id, '7', 'ARM');
    await db.update(courses).set({ referentialId: arm18.id, referentialVersion: arm18.version }).where(eq(courses.id, arm.id));
    const r = await moodle.launch(server, 'deeplinking', { context: '7' });
    const form = await r.client.post('/lti/deeplink', { form: { ltik: String(r.client.ltik) } });
    const jwt = /name="JWT" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const items = decodeJwt(jwt)['https://purl.imsglobal.org/spec/lti-dl/claim/content_items'] as { lineItem: { scoreMaximum: number } }[];
    expect(items[0]?.lineItem.scoreMaximum).toBe(18);
  });
});
