import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import nock from 'nock';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { activityMappings, auditEvents, courses, courseSettings, platformSettings } from '../../src/db/schema';
import { ensurePlatform } from '../../src/identity/records';
import { sealSecret } from '../../src/secrets';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';

const wwwroot = 'http://127.0.0.1:8181';
const iri = (mod: string, id: number) => `${wwwroot}/mod/${mod}/view.php?id=${id}`;
const quiz = iri('quiz', 9);
const book = iri('book', 12);
const page = iri('page', 4);
const SOCLE = 'socle-sante-niveaux-4-8@V1.1.2022';
/** The page's id of an activity's row (as lti/mapping.ts names it). */
const rowId = (activityIri: string) => `a${createHash('sha1').update(activityIri).digest('hex').slice(0, 10)}`;

/** The JSON answers these tests read (typed loosely: the expectations check them). */
interface Answer {
  error: { details: { path: string; message: string }[] };
  changedActivities: string[];
  summary: { mappedMinutes: number }[];
  activities: unknown[];
  entries: unknown[];
  referential: unknown;
  activity: { iri: string };
  policy: unknown;
  history: { actor: string; action: string }[];
}
const json = (res: Response) => res.json() as Promise<Answer>;

/** Course 3 is "the same module taught again": the same activities under other cmids (+100). */
const course3 = contents.map((s) => ({ ...s, modules: s.modules.map((m) => ({ ...m, id: m.id + 100, url: m.url.replace(/id=\d+/, `id=${m.id + 100}`) })) }));

describe.each(drivers)('teacher mapping screen on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let teacher: Client;
  let courseId: number;
  /** Calls to core_course_get_contents, by course id. */
  const wsCalls: string[] = [];
  let wsFails = false;

  const api = (path: string) => `/lti/api/courses/${courseId}${path}`;
  const mappingRows = () => server.ctx.store.db.select().from(activityMappings).where(eq(activityMappings.courseId, courseId));

  beforeAll(async () => {
    server = await startTestServer(driver);
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    const platform = await ensurePlatform(server.ctx.store.db, wwwroot);
    await server.ctx.store.db.insert(platformSettings).values({ platformId: platform.id, webserviceToken: sealSecret(server.ctx.config.ltiKey, 'webservice-token', 'ws-token-1') });
    nock(wwwroot)
      .persist()
      .post('/webservice/rest/server.php')
      .reply((_uri, body) => {
        const form = new URLSearchParams(String(body));
        const id = String(form.get('courseid'));
        wsCalls.push(id);
        if (form.get('wstoken') !== 'ws-token-1' || form.get('wsfunction') !== 'core_course_get_contents') return [200, { exception: 'x', errorcode: 'invalidtoken', message: 'Invalid token' }];
        if (wsFails) return [503, 'Service Unavailable'];
        return [200, id === '2' ? contents : id === '3' ? course3 : []];
      });
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('lands the instructor on the mapping page listing the 11 activities read from Moodle, with what to do next', async () => {
    const r = await moodle.launch(server, 'instructor', { locale: 'fr' });
    expect(r.landedOn).toBe('/lti/course');
    expect(wsCalls).toContain('2');
    teacher = r.client;
    const [course] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '2'));
    courseId = Number(course?.id);
    for (const name of ['Announcements', 'Welcome page', 'Quiz 1', 'Handbook', 'SCORM sample package']) expect(r.body).toContain(name);
    expect(r.body.match(/<tr id="row-/g) ?? []).toHaveLength(0); // no référentiel yet: a plain list and the next step
    expect(r.body).toContain('Aucun référentiel choisi pour ce cours');
    // an empty course says where to start
    expect(r.body).toContain('data-testid="start-here"');
    expect(r.body).toContain('Choisissez le référentiel du cours');
    // the page is in tabs, each at its own URL, reachable as plain links: the roster has its own
    expect(r.body).toContain('aria-current="page">Activités</a>');
    expect(r.body).not.toContain('Terry Teacher');
    const rosterTab = await (await teacher.get('/lti/course?tab=roster')).text();
    expect(rosterTab).toContain('Terry Teacher');
    expect(rosterTab).toContain('aria-current="page">Participants</a>');
  });

  it('sets the course référentiel, then shows one editable row per activity and the per-domain summary', async () => {
    const res = await teacher.post(api('/referential'), { json: { referential: SOCLE } });
    expect(res.status).toBe(200);
    const html = await (await teacher.get('/lti/course')).text();
    expect(html.match(/<tr id="row-/g)).toHaveLength(11);
    expect(html).toContain('<optgroup label="2. Cybersécurité en santé">');
    expect(html).toMatch(/Cybersécurité en santé<\/span> <strong>0\u00a0h \/ 5\u00a0h<\/strong>/);
    expect(html).toMatch(/<label class="sr" for="a[0-9a-f]{10}-c0">Compétence 1 pour « Quiz 1/);
    const unknown = await teacher.post(api('/referential'), { json: { referentialId: 'socle-sante-niveaux-4-8', version: 'V9' } });
    expect(unknown.status).toBe(400);
    expect(await json(unknown)).toMatchObject({ error: { details: [{ path: 'version', message: 'unknown version V9' }] } });
  });

  it('saves an activity row from the page (htmx form, "1,5" hours) and answers the row with the updated summary', async () => {
    const res = await teacher.post(api('/mapping/activity'), {
      form: { activityIri: quiz, competencyKey: '2.1', hours: '1,5', intent: 'save' },
      headers: { 'HX-Request': 'true' },
    });
    expect(res.status).toBe(200);
    const fragment = await res.text();
    expect(fragment).toMatch(/^\s*<tr id="row-/);
    expect(fragment).toContain('value="1,5"');
    expect(fragment).toMatch(/hx-swap-oob="innerHTML"><ul class="summary">[\s\S]*Cybersécurité en santé<\/span> <strong>1\u00a0h\u00a030 \/ 5\u00a0h<\/strong>/);
    expect(fragment).toContain('Correspondance de « Quiz 1');
    expect(await mappingRows()).toMatchObject([{ activityIri: quiz, competencyKey: '2.1', minutes: 90, referentialId: 'socle-sante-niveaux-4-8', referentialVersion: 'V1.1.2022' }]);
  });

  it('splits an activity across domains and replaces the whole mapping through the JSON endpoint', async () => {
    const res = await teacher.request('PUT', api('/mapping'), {
      headers: { Authorization: `Bearer ${teacher.ltik}` },
      json: {
        entries: [
          { activityIri: quiz, competencyKey: '2.1', hours: 1.5 },
          { activityIri: quiz, competencyKey: '1.1', hours: '0,5' },
          { activityIri: book, competencyKey: '4.1', hours: 2 },
        ],
      },
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.changedActivities.sort()).toEqual([book, quiz].sort());
    expect(body.summary.map((d: { mappedMinutes: number }) => d.mappedMinutes)).toEqual([30, 90, 0, 120, 0]);
    const read = await json(await teacher.get(api('/mapping')));
    expect(read.activities).toHaveLength(11);
    expect(read.entries).toHaveLength(3);
    expect(read.referential).toEqual({ id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022', source: 'course' });
  });

  it('saves several rows with one form (htmx and without scripts), all or nothing, and warns when a domain gets more hours than it requires', async () => {
    const before = await mappingRows();
    const q = rowId(quiz);
    const b = rowId(book);
    // the whole table is one form: every row's fields, named after the row
    const send = (fields: [string, string][], htmx: boolean) =>
      fetch(new URL(api('/mapping/activities'), server.url), {
        method: 'POST',
        redirect: 'manual',
        headers: {
          Authorization: `Bearer ${teacher.ltik}`,
          Cookie: teacher.cookieHeader(),
          'Content-Type': 'application/x-www-form-urlencoded',
          ...(htmx ? { 'HX-Request': 'true' } : {}),
        },
        body: new URLSearchParams(fields).toString(),
      });
    const rows = (bookHours: string): [string, string][] => [
      ['row', q], [`c.${q}`, '2.1'], [`h.${q}`, '1,5'], [`c.${q}`, '1.1'], [`h.${q}`, '0,5'],
      ['row', b], [`c.${b}`, '4.1'], [`h.${b}`, '2'], [`c.${b}`, '2.2'], [`h.${b}`, bookHours],
    ];
    const page = await (await teacher.get('/lti/course')).text();
    expect(page).toContain(`id="mapping-form"`);
    expect(page).toContain(`name="c.${q}"`);
    expect(page).toContain('Enregistrer toutes les lignes');
    // full competency titles: never cut in the list, and the chosen one written out under it
    expect(page).toContain('<option value="1.2">1.2 Caractériser et traiter la donnée à caractère personnel de santé en appliquant la réglementation</option>');
    expect(page).not.toContain('…</option>');
    expect(page).toMatch(new RegExp(`id="${q}-t[01]">2\\.1 [^<]{20,}</span>`));

    // one wrong line: nothing is saved, the page says which row, in French
    const refused = await send(rows('quatre'), true);
    expect(refused.status).toBe(400);
    const wrong = await refused.text();
    expect(wrong).toContain('un nombre d’heures est attendu, par exemple 1,5 — trouvé « quatre »');
    expect(wrong).toContain('Rien n’a été enregistré : 1 activité(s) à corriger');
    expect(await mappingRows()).toEqual(before);

    // both rows at once; domain 2 now has 1 h 30 + 4 h for 5 h required: a warning, not green
    const saved = await send(rows('4'), true);
    expect(saved.status).toBe(200);
    const fragment = await saved.text();
    expect(fragment.match(/<tr id="row-/g)).toHaveLength(11);
    expect(fragment).toContain('2 activité(s) enregistrée(s).');
    expect(fragment).toMatch(/<li class="over"><span class="dom">Cybersécurité en santé<\/span> <strong>5\sh\s30 \/ 5\sh<\/strong>/);
    expect(fragment).toMatch(/0\sh\s30 de plus que les 5\sh exigées\s: les heures au-delà ne comptent pour aucun apprenant\./);
    expect((await mappingRows()).filter((r) => r.activityIri === book).map((r) => [r.competencyKey, r.minutes]).sort()).toEqual([['2.2', 240], ['4.1', 120]]);

    // without scripts: the form posts, the page comes back (303) and says what was saved
    const plain = await send(rows('1'), false);
    expect(plain.status).toBe(303);
    const back = await teacher.follow(plain);
    expect(back.status).toBe(200);
    expect(await back.text()).toContain('2 activité(s) enregistrée(s).');
    expect((await mappingRows()).find((r) => r.competencyKey === '2.2')?.minutes).toBe(60);
    // …or the page again with the errors, nothing saved
    const plainWrong = await send(rows('-1'), false);
    expect(plainWrong.status).toBe(400);
    const again = await plainWrong.text();
    expect(again).toContain('<h1>');
    expect(again).toContain('le nombre d’heures doit être supérieur à 0');
    // a row's own button without scripts saves that row alone
    const onlyQuiz = await send([...rows('-1'), ['only', q]], false);
    expect(onlyQuiz.status).toBe(303);

    // back to the mapping the next tests expect
    await teacher.request('PUT', api('/mapping'), {
      headers: { Authorization: `Bearer ${teacher.ltik}` },
      json: { entries: before.map((r) => ({ activityIri: r.activityIri, competencyKey: r.competencyKey, hours: r.minutes / 60 })) },
    });
    expect((await mappingRows()).map((r) => [r.activityIri, r.competencyKey, r.minutes]).sort()).toEqual(before.map((r) => [r.activityIri, r.competencyKey, r.minutes]).sort());
  });

  it('serves each tab of the course page at its own URL', async () => {
    for (const [tab, heading] of [
      ['activities', 'Activités du cours'],
      ['rule', 'Validation des heures'],
      ['transfer', 'Import et export CSV'],
      ['history', 'Historique des modifications'],
      ['roster', 'Participants du cours'],
      ['reports', 'Rapport de conformité horaire de ce cours'],
    ]) {
      const res = await teacher.get(`/lti/course?tab=${tab}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain(heading);
      expect(html.match(/aria-current="page"/g)).toHaveLength(1);
    }
    // the mapping is not empty any more: no "start here"
    expect(await (await teacher.get('/lti/course')).text()).not.toContain('data-testid="start-here"');
  });

  describe('refuses invalid mappings with the field named, saving nothing', () => {
    let before: unknown;
    beforeAll(async () => {
      before = await mappingRows();
    });
    afterEach(async () => expect(await mappingRows()).toEqual(before));
    const put = (entries: unknown[]) => teacher.request('PUT', api('/mapping'), { headers: { Authorization: `Bearer ${teacher.ltik}` }, json: { entries } });

    it('negative hours', async () => {
      const res = await put([{ activityIri: quiz, competencyKey: '2.1', hours: -1 }]);
      expect(res.status).toBe(400);
      expect((await json(res)).error.details).toEqual([{ path: 'entries[0].hours', message: 'hours must be greater than 0' }]);
      const form = await teacher.post(api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '2.1', hours: '-1', intent: 'save' }, headers: { 'HX-Request': 'true' } });
      expect(form.status).toBe(400);
      const html = await form.text();
      expect(html).toContain('role="alert"');
      expect(html).toMatch(/aria-invalid="true" aria-describedby="a[0-9a-f]{10}-e0"/);
      // the page speaks French; the JSON API keeps its English details
      expect(html).toContain('le nombre d’heures doit être supérieur à 0');
      expect(html).not.toContain('hours must be');
      const words = await teacher.post(api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '2.1', hours: 'deux', intent: 'save' }, headers: { 'HX-Request': 'true' } });
      expect(await words.text()).toContain('un nombre d’heures est attendu, par exemple 1,5 — trouvé « deux »');
      const quarter = await teacher.post(api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '2.1', hours: '0,1', intent: 'save' }, headers: { 'HX-Request': 'true' } });
      expect(await quarter.text()).toContain('les heures se comptent par quarts d’heure (0,25)');
      const noCompetency = await teacher.post(api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '', hours: '2', intent: 'save' }, headers: { 'HX-Request': 'true' } });
      expect(await noCompetency.text()).toContain('choisissez une compétence, ou videz les heures pour retirer cette ligne');
    });

    it('hours that are not quarter hours, or not a number', async () => {
      const res = await put([{ activityIri: quiz, competencyKey: '2.1', hours: '0,1' }, { activityIri: book, competencyKey: '2.1', hours: 'deux' }]);
      expect(res.status).toBe(400);
      expect((await json(res)).error.details).toEqual([{ path: 'body.entries[1].hours', message: 'expected a number of hours such as 1.5 or 1,5, found "deux"' }]);
      const quarter = await put([{ activityIri: quiz, competencyKey: '2.1', hours: '0,1' }]);
      expect((await json(quarter)).error.details).toEqual([{ path: 'entries[0].hours', message: 'hours must be a multiple of a quarter hour (0.25)' }]);
    });

    it('a competency of another référentiel', async () => {
      const res = await put([{ activityIri: quiz, competencyKey: '4.1b', hours: 1 }]);
      expect(res.status).toBe(400);
      expect((await json(res)).error.details).toEqual([{ path: 'entries[0].competencyKey', message: 'no competency 4.1b in socle-sante-niveaux-4-8 V1.1.2022' }]);
    });

    it("another course's activity", async () => {
      const other = iri('quiz', 109);
      const res = await put([{ activityIri: other, competencyKey: '2.1', hours: 1 }]);
      expect(res.status).toBe(400);
      expect((await json(res)).error.details).toEqual([{ path: 'entries[0].activityIri', message: `activity ${other} is not an activity of this course` }]);
      const row = await teacher.post(api('/mapping/activity'), { json: { activityIri: other, competencyKey: ['2.1'], hours: ['1'] } });
      expect(row.status).toBe(400);
      expect((await json(row)).error.details).toEqual([{ path: 'body.activityIri', message: `activity ${other} is not an activity of this course` }]);
    });

    it("another course's id (403), a learner (403), a request without the ltik (401)", async () => {
      const other = await moodle.launch(server, 'instructor', { context: '3', contextTitle: 'LTI Test Course (spring)' });
      expect(other.landedOn).toBe('/lti/course');
      const [c3] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '3'));
      expect((await teacher.get(`/lti/api/courses/${c3?.id}/mapping`)).status).toBe(403);
      expect((await other.client.request('PUT', api('/mapping'), { headers: { Authorization: `Bearer ${other.client.ltik}` }, json: { entries: [] } })).status).toBe(403);

      const learner = (await moodle.launch(server, 'learner')).client;
      for (const res of [
        await learner.get(api('/mapping')),
        await learner.request('PUT', api('/mapping'), { headers: { Authorization: `Bearer ${learner.ltik}` }, json: { entries: [] } }),
        await learner.post(api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '2.1', hours: '1' } }),
        await learner.post(api('/referential'), { json: { referential: SOCLE } }),
        await learner.post(api('/activities'), { json: { name: 'x' } }),
        await learner.post(api('/mapping/copy'), { json: { fromCourseId: c3?.id } }),
        await learner.get(api('/mapping.csv')),
        await learner.post(api('/mapping.csv'), { headers: { 'Content-Type': 'text/csv' } }),
      ]) {
        expect(res.status).toBe(403);
      }
      // The session cookie alone does not authorize a change (CSRF): the ltik must come with the request.
      const cookieOnly = await teacher.request('POST', api('/mapping/activity'), { form: { activityIri: quiz, competencyKey: '2.1', hours: '1', intent: 'save' } });
      expect(cookieOnly.status).toBe(401);
    });
  });

  it('exports the mapping as CSV and imports it back unchanged; a wrong file is refused whole with its line numbers', async () => {
    const before = await mappingRows();
    const exported = await teacher.get(api('/mapping.csv'));
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-disposition')).toMatch(/attachment; filename="socle-mapping-2-socle-sante-niveaux-4-8-V1.1.2022.csv"/);
    const csv = await exported.text();
    expect(csv.replace(/^\uFEFF/, '').split('\r\n')).toEqual([
      'activity_id;activity_name;competency_code;hours',
      `${quiz};Quiz 1: basics;1.1;0,5`,
      `${quiz};Quiz 1: basics;2.1;1,5`,
      `${book};Handbook;4.1;2`,
      '',
    ]);
    // Remove everything, then import the file back.
    await teacher.request('PUT', api('/mapping'), { headers: { Authorization: `Bearer ${teacher.ltik}` }, json: { entries: [] } });
    expect(await mappingRows()).toEqual([]);
    const imported = await teacher.request('POST', api('/mapping.csv'), { headers: { Authorization: `Bearer ${teacher.ltik}`, 'Content-Type': 'text/csv' } as never, json: undefined });
    expect(imported.status).toBe(400); // empty body: no file
    const back = await fetch(new URL(api('/mapping.csv'), server.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${teacher.ltik}`, Cookie: teacher.cookieHeader(), 'Content-Type': 'text/csv' },
      body: csv,
    });
    expect(back.status).toBe(200);
    expect(await json(back)).toMatchObject({ imported: 3 });
    const strip = (rows: { activityIri: string; competencyKey: string; minutes: number }[]) =>
      rows.map(({ activityIri, competencyKey, minutes }) => ({ activityIri, competencyKey, minutes })).sort((a, b) => `${a.activityIri}${a.competencyKey}`.localeCompare(`${b.activityIri}${b.competencyKey}`));
    expect(strip(await mappingRows())).toEqual(strip(before));

    // Uploaded from the page (multipart, htmx): one bad line refuses the file, nothing changes.
    const bad = `activity_id;activity_name;competency_code;hours\n${page};Welcome page;3.1;1.5\n${book};Handbook;9.9;-2\n`;
    const form = new FormData();
    form.append('file', new Blob([bad], { type: 'text/csv' }), 'mapping.csv');
    const refused = await fetch(new URL(api('/mapping.csv'), server.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${teacher.ltik}`, Cookie: teacher.cookieHeader(), 'HX-Request': 'true' },
      body: form,
    });
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('<strong>ligne 3 competency_code</strong> : aucune compétence 9.9 dans ce référentiel');
    expect(html).toContain('<strong>ligne 3 hours</strong> : un nombre d’heures est attendu, par exemple 1,5 — trouvé « -2 »');
    expect(strip(await mappingRows())).toEqual(strip(before));

    const good = new FormData();
    good.append('file', new Blob([bad.replace(';9.9;-2', ';4.1;2')], { type: 'text/csv' }), 'mapping.csv');
    const ok = await fetch(new URL(api('/mapping.csv'), server.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${teacher.ltik}`, Cookie: teacher.cookieHeader(), 'HX-Request': 'true' },
      body: good,
    });
    expect(ok.status).toBe(200);
    const okHtml = await ok.text();
    expect(okHtml).toContain('2 couple(s) importé(s).');
    expect(okHtml).toContain('Voir les activités et leurs heures');
    expect(strip(await mappingRows())).toEqual([
      { activityIri: book, competencyKey: '4.1', minutes: 120 },
      { activityIri: page, competencyKey: '3.1', minutes: 90 },
    ]);
  });

  it('copies the mapping to the same module taught in another course, listing what could not be matched', async () => {
    const manual = await json(await teacher.post(api('/activities'), { json: { name: 'Séance présentielle' } }));
    await teacher.request('PUT', api('/mapping'), {
      headers: { Authorization: `Bearer ${teacher.ltik}` },
      json: {
        entries: [
          { activityIri: quiz, competencyKey: '2.1', hours: 1.5 },
          { activityIri: book, competencyKey: '4.1', hours: 2 },
          { activityIri: manual.activity.iri, competencyKey: '3.1', hours: 3 },
        ],
      },
    });
    const spring = await moodle.launch(server, 'instructor', { context: '3', contextTitle: 'LTI Test Course (spring)', locale: 'fr' });
    const [c3] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '3'));
    const c3api = (p: string) => `/lti/api/courses/${c3?.id}${p}`;
    await spring.client.post(c3api('/referential'), { json: { referential: SOCLE } });
    const copied = await spring.client.post(c3api('/mapping/copy'), { form: { fromCourseId: String(courseId) }, headers: { 'HX-Request': 'true' } });
    expect(copied.status).toBe(200);
    const html = await copied.text();
    expect(html).toContain('2 couple(s) copié(s) sur 3 depuis « LTI Test Course ».');
    expect(html).toContain('Séance présentielle');
    const rows = await server.ctx.store.db.select().from(activityMappings).where(eq(activityMappings.courseId, Number(c3?.id)));
    expect(rows.map((r) => [r.activityIri, r.competencyKey, r.minutes]).sort()).toEqual([
      [iri('book', 112), '4.1', 120],
      [iri('quiz', 109), '2.1', 90],
    ]);
    // Only courses of the same platform: an unknown id is 404, nothing saved.
    const missing = await spring.client.post(c3api('/mapping/copy'), { json: { fromCourseId: 999999 } });
    expect(missing.status).toBe(404);
  });

  it('keeps the old mapping under the old version when the course changes référentiel', async () => {
    const countFor = async (id: string) =>
      (await server.ctx.store.db.select().from(activityMappings).where(and(eq(activityMappings.courseId, courseId), eq(activityMappings.referentialId, id)))).length;
    expect(await countFor('socle-sante-niveaux-4-8')).toBe(3);
    await teacher.post(api('/referential'), { json: { referentialId: 'socle-ambulanciers' } });
    const read = await json(await teacher.get(api('/mapping')));
    expect(read.referential).toMatchObject({ id: 'socle-ambulanciers', version: 'V1.1.2023' });
    expect(read.entries).toEqual([]);
    expect(await countFor('socle-sante-niveaux-4-8')).toBe(3);
    await teacher.post(api('/referential'), { json: { referential: SOCLE } });
    expect((await json(await teacher.get(api('/mapping')))).entries).toHaveLength(3);
  });

  it('saves the crediting policy and shows the history of changes (who, when, before/after)', async () => {
    const res = await teacher.post(api('/policy'), { form: { crediting: 'success', capToMeasuredDuration: 'on' } });
    expect(res.status).toBe(200);
    expect((await json(res)).policy).toMatchObject({ requireSuccess: true, capToMeasuredDuration: true, platform: { requireSuccess: false } });
    const [settings] = await server.ctx.store.db.select().from(courseSettings).where(eq(courseSettings.courseId, courseId));
    expect(settings).toMatchObject({ requireSuccess: true, capToMeasuredDuration: true });
    const wrong = await teacher.post(api('/policy'), { form: { crediting: 'sometimes' } });
    expect(wrong.status).toBe(400);
    expect((await json(wrong)).error.details[0]?.path).toBe('body.crediting');

    const history = (await json(await teacher.get(api('/mapping/history')))).history as { actor: string; action: string }[];
    expect(history[0]).toMatchObject({ actor: `lti:${wwwroot}#3`, action: 'course.policy' });
    expect(history.filter((h) => h.action === 'mapping.save').length).toBeGreaterThan(3);
    const html = await (await teacher.get('/lti/course?tab=history')).text();
    expect(html).toContain('Historique des modifications');
    expect(html).toMatch(/Quiz 1: basics — 2\.1 : 1,5 h/);
    expect(html).not.toContain('id="crediting-success"');
    expect(await (await teacher.get('/lti/course?tab=rule')).text()).toMatch(/id="crediting-success" name="crediting" value="success" checked/);
    const audits = await server.ctx.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'activity.add'));
    expect(audits).toHaveLength(1);
  });

  it('shows a warning, not a broken page, when Moodle fails; the known activities stay', async () => {
    wsFails = true;
    try {
      const html = await (await teacher.get('/lti/course')).text();
      expect(html).toContain('role="alert">Avertissement : la liste des activités n’a pas pu être actualisée depuis Moodle (Moodle web service answered HTTP 503)');
      expect(html.match(/<tr id="row-/g)).toHaveLength(12);
    } finally {
      wsFails = false;
    }
    const refreshed = await teacher.post(api('/activities/refresh'));
    expect(await json(refreshed)).toMatchObject({ refreshed: true });
    expect(await (await teacher.get('/lti/course')).text()).not.toContain('Avertissement');
  });

  it('tells the teacher what to do when no activity is known', async () => {
    const r = await moodle.launch(server, 'instructor', { context: '44', locale: 'en' });
    expect(r.body).toContain('No framework chosen for this course');
    const [c44] = await server.ctx.store.db.select().from(courses).where(eq(courses.contextId, '44'));
    await r.client.post(`/lti/api/courses/${c44?.id}/referential`, { json: { referential: SOCLE } });
    const html = await (await r.client.get('/lti/course')).text();
    expect(html).toContain('No activities found: give Socle a web-service token (socle platforms set-webservice), or add an activity below.');
  });
});
