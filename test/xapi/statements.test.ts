import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey, revokeXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, generatedBatch, MOODLE, moodleBatch, moodleBatches, type Statement } from './support';

jest.setTimeout(90_000);

interface EventRow {
  sub: string;
  activity_iri: string;
  kind: string;
  success: boolean | null;
  voided: boolean;
  context_id: string | null;
  position: number;
}

describe.each(drivers)('xAPI statements endpoint on %s', (driver) => {
  let server: TestServer;
  let auth: string;
  let otherAuth: string;

  const post = (body: unknown, headers: Record<string, string> = {}, raw = false) =>
    fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth, ...headers },
      body: raw ? (body as string) : JSON.stringify(body),
    });
  const get = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/xapi/statements${query}`, { headers: { 'X-Experience-API-Version': '1.0.3', Authorization: auth, ...headers } });
  const count = async (table: string) =>
    (await queryRows<{ n: number }>(server.ctx.store.db, sql.raw(`SELECT count(*)::int AS n FROM ${table}`)))[0]?.n;
  const snapshot = async () => ({
    statements: await count('xapi_statements'),
    events: await count('completion_events'),
    outbox: await count('xapi_outbox'),
    activities: await count('xapi_activities'),
    users: await count('users'),
  });
  const events = () =>
    queryRows<EventRow>(
      server.ctx.store.db,
      sql`SELECT u.sub, e.activity_iri, e.kind, e.success, e.voided, c.context_id, e.position
          FROM completion_events e JOIN users u ON u.id = e.user_id LEFT JOIN courses c ON c.id = e.course_id ORDER BY e.id`,
    );
  /** The state of each (learner, activity): latest non-voided event by statement timestamp, then arrival, then position. */
  const facts = async () => {
    const rows = await queryRows<{ sub: string; activity_iri: string; kind: string }>(
      server.ctx.store.db,
      sql`SELECT DISTINCT ON (u.sub, e.activity_iri) u.sub, e.activity_iri, e.kind
          FROM completion_events e JOIN users u ON u.id = e.user_id WHERE NOT e.voided
          ORDER BY u.sub, e.activity_iri, e.statement_timestamp DESC, e.id DESC, e.position DESC`,
    );
    return Object.fromEntries(rows.map((r) => [`${r.sub} ${r.activity_iri.replace(MOODLE, '')}`, r.kind]));
  };

  beforeAll(async () => {
    server = await startTestServer(driver);
    await ensurePlatform(server.ctx.store.db, `${MOODLE}/`, 'Moodle LTI Test');
    await ensurePlatform(server.ctx.store.db, 'https://other.example.org');
    const key = await createXapiKey(server.ctx.store.db, MOODLE);
    auth = basic(key.key, key.secret);
    const other = await createXapiKey(server.ctx.store.db, 'https://other.example.org');
    otherAuth = basic(other.key, other.secret);
  });
  afterAll(() => server.destroy());

  it('accepts every captured logstore_xapi batch and derives the completion facts Moodle shows', async () => {
    for (const { file, body } of moodleBatches()) {
      const res = await post(body);
      expect([file, res.status]).toEqual([file, 200]);
      expect(res.headers.get('x-experience-api-version')).toBe('1.0.3');
      const ids = (await res.json()) as string[];
      expect(ids).toHaveLength(body.length);
    }
    const f = await facts();
    // Views with completion (uncompleted then completed, same second): completed.
    expect(f['4 /mod/page/view.php?id=4']).toBe('completed');
    expect(f['4 /mod/url/view.php?id=5']).toBe('completed');
    expect(f['4 /mod/resource/view.php?id=6']).toBe('completed');
    expect(f['4 /mod/lesson/view.php?id=10']).toBe('completed');
    expect(f['4 /mod/scorm/view.php?id=13']).toBe('completed');
    expect(f['4 /mod/lti/view.php?id=3']).toBe('completed');
    expect(f['4 /mod/quiz/view.php?id=9']).toBe('completed');
    expect(f['4 /mod/assign/view.php?id=11']).toBe('completed');
    // Book: completed by hand then un-completed (batch 27): uncompleted retracts.
    expect(f['4 /mod/book/view.php?id=12']).toBe('uncompleted');
    // student2 in background mode (one batch of 15): page viewed, quiz viewed (uncompleted) then graded (completed).
    expect(f['5 /mod/page/view.php?id=4']).toBe('completed');
    expect(f['5 /mod/quiz/view.php?id=9']).toBe('completed');

    const rows = await events();
    const page = rows.filter((r) => r.sub === '4' && r.activity_iri.endsWith('/mod/page/view.php?id=4'));
    expect(page.map((r) => [r.kind, r.position, r.context_id])).toEqual([
      ['uncompleted', 1, '2'],
      ['completed', 2, '2'],
    ]);
    // The course is found by its activity type (quiz attempt statements list attempt/quiz/section before it).
    expect(rows.every((r) => r.context_id === '2')).toBe(true);

    const activities = await queryRows<{ activity_iri: string; name: string; module_type: string; context_id: string }>(
      server.ctx.store.db,
      sql`SELECT a.activity_iri, a.name, a.module_type, c.context_id FROM xapi_activities a JOIN courses c ON c.id = a.course_id ORDER BY a.activity_iri`,
    );
    expect(activities.map((a) => a.activity_iri.replace(MOODLE, ''))).toEqual(
      expect.arrayContaining(['/mod/page/view.php?id=4', '/mod/book/view.php?id=12', '/mod/quiz/view.php?id=9']),
    );
    expect(activities.find((a) => a.activity_iri.endsWith('/mod/page/view.php?id=4'))).toMatchObject({ name: 'Welcome page', module_type: 'page', context_id: '2' });
    // Sub-pages, attempts, the site and the course are not activities to map.
    expect(activities.some((a) => /attempt|chapterid|pageid|course\/view/.test(a.activity_iri))).toBe(false);
    const [course] = await queryRows<{ title: string }>(server.ctx.store.db, sql`SELECT title FROM courses WHERE context_id = '2'`);
    expect(course?.title).toBe('LTI Test Course');
  });

  it('recognises a re-posted batch (deterministic ids) and changes nothing', async () => {
    const before = await snapshot();
    const batch = moodleBatch('05');
    const first = (await (await post(batch)).json()) as string[];
    const again = (await (await post(batch)).json()) as string[];
    expect(again).toEqual(first);
    expect(new Set(first).size).toBe(3);
    expect(await snapshot()).toEqual(before);
  });

  it('answers 200 [] to the empty array Moodle posts for an anonymous view', async () => {
    const res = await post([]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it('stores generated batches of 30 and orders same-second uncompleted/completed by position', async () => {
    const res = await post(generatedBatch(30, '77'));
    expect(res.status).toBe(200);
    const f = await facts();
    for (let cmid = 100; cmid < 110; cmid++) expect(f[`77 /mod/page/view.php?id=${cmid}`]).toBe('completed');
  });

  it('accepts concurrent batches of one course from several learners (shared activity rows, no deadlock)', async () => {
    const learners = ['201', '202', '203', '204', '205', '206'];
    const answers = await Promise.all(learners.map((sub, i) => post(generatedBatch(30, sub, 3000 + i))));
    expect(answers.map((r) => r.status)).toEqual(learners.map(() => 200));
    const f = await facts();
    for (const sub of learners) expect(f[`${sub} /mod/page/view.php?id=109`]).toBe('completed');
  });

  it('writes a known activity again only when a batch tells something new of it, or a day after it was last seen', async () => {
    const iri = `${MOODLE}/mod/page/view.php?id=100`;
    const row = async () =>
      (
        await queryRows<{ version: string; name: string | null; seen: string }>(
          server.ctx.store.db,
          sql`SELECT xmin::text AS version, name, last_seen_at::text AS seen FROM xapi_activities WHERE activity_iri = ${iri}`,
        )
      )[0];
    expect((await post(generatedBatch(3, '301', 5000))).status).toBe(200);
    const first = await row();
    expect(first?.name).toBe('Welcome page');
    // new statements of the same activity, nothing new about it: the row is the same version
    expect((await post(generatedBatch(3, '302', 5001))).status).toBe(200);
    expect(await row()).toEqual(first);
    // a new name is written
    const renamed = (batch: Statement[]) =>
      batch.map((s) => {
        const object = s.object as { definition?: { name?: Record<string, string> } };
        return object.definition?.name ? { ...s, object: { ...object, definition: { ...object.definition, name: { en: 'Page d’accueil' } } } } : s;
      });
    expect((await post(renamed(generatedBatch(3, '303', 5002)))).status).toBe(200);
    const named = await row();
    expect(named?.name).toBe('Page d’accueil');
    expect(named?.version).not.toBe(first?.version);
    // seen more than a day ago: the next statement refreshes last_seen_at, keeping the name
    await queryRows(server.ctx.store.db, sql`UPDATE xapi_activities SET last_seen_at = now() - interval '2 days' WHERE activity_iri = ${iri}`);
    expect((await post(renamed(generatedBatch(3, '304', 5003)))).status).toBe(200);
    const [{ fresh } = { fresh: false }] = await queryRows<{ fresh: boolean }>(
      server.ctx.store.db,
      sql`SELECT last_seen_at > now() - interval '1 hour' AS fresh FROM xapi_activities WHERE activity_iri = ${iri}`,
    );
    expect(fresh).toBe(true);
    expect((await row())?.name).toBe('Page d’accueil');
  });

  it('voids a completion: it is no longer a fact, and GET finds it only as voided', async () => {
    const batch = generatedBatch(3, '88');
    const ids = (await (await post(batch)).json()) as string[];
    const completedId = ids[2] as string;
    expect((await facts())['88 /mod/page/view.php?id=100']).toBe('completed');
    const voiding = {
      actor: { account: { homePage: MOODLE, name: '88' } },
      verb: { id: 'http://adlnet.gov/expapi/verbs/voided', display: { en: 'voided' } },
      object: { objectType: 'StatementRef', id: completedId },
    };
    expect((await post(voiding)).status).toBe(200);
    expect((await facts())['88 /mod/page/view.php?id=100']).toBe('uncompleted');
    expect((await get(`?statementId=${completedId}`)).status).toBe(404);
    const voided = await get(`?voidedStatementId=${completedId}`);
    expect(voided.status).toBe(200);
    expect(((await voided.json()) as Statement).id).toBe(completedId);
  });

  it('PUT stores under the given id: same content again = 204, different content = 409', async () => {
    const id = '0b7c9f52-0a45-4f3e-9d7a-3c1d2e4f5a6b';
    const [statement] = generatedBatch(1, '99');
    const put = (body: unknown) =>
      fetch(`${server.url}/xapi/statements?statementId=${id}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth },
        body: JSON.stringify(body),
      });
    expect((await put(statement)).status).toBe(204);
    expect((await put(statement)).status).toBe(204);
    const before = await snapshot();
    const changed = await put({ ...statement, timestamp: '2026-01-01T00:00:00Z' });
    expect(changed.status).toBe(409);
    expect(await snapshot()).toEqual(before);
    const got = await get(`?statementId=${id}`);
    expect(((await got.json()) as Statement).id).toBe(id);
  });

  it('lists with verb/agent/activity filters and pages with more', async () => {
    const agent = encodeURIComponent(JSON.stringify({ account: { homePage: MOODLE, name: '77' } }));
    const verb = encodeURIComponent('http://adlnet.gov/expapi/verbs/completed');
    const first = await get(`?agent=${agent}&verb=${verb}&limit=4`);
    expect(first.status).toBe(200);
    const page1 = (await first.json()) as { statements: Statement[]; more: string };
    expect(page1.statements).toHaveLength(4);
    const seen = page1.statements.map((s) => s.id);
    let more = page1.more;
    while (more) {
      const next = (await (await get(more.replace('/xapi/statements', ''))).json()) as { statements: Statement[]; more: string };
      seen.push(...next.statements.map((s) => s.id));
      more = next.more;
    }
    expect(seen).toHaveLength(10);
    expect(new Set(seen).size).toBe(10);
    const activity = encodeURIComponent(`${MOODLE}/mod/page/view.php?id=100`);
    const byActivity = (await (await get(`?agent=${agent}&activity=${activity}`)).json()) as { statements: Statement[] };
    expect(byActivity.statements).toHaveLength(3);
    const other = (await (await get('?limit=1', { Authorization: otherAuth })).json()) as { statements: Statement[] };
    expect(other.statements).toEqual([]);
  });

  describe('refuses bad input with a precise 4xx and stores nothing', () => {
    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      ['invalid JSON', () => post('[{"actor":', {}, true), 400, /not valid JSON/],
      ['missing version header', () => post([], { 'X-Experience-API-Version': '' }), 400, /X-Experience-API-Version/],
      ['unsupported version', () => post([], { 'X-Experience-API-Version': '0.95' }), 400, /0\.95/],
      ['no credentials', () => post([], { Authorization: '' }), 401, /Basic credentials/],
      ['wrong secret', () => post([], { Authorization: basic('socle_nope', 'x') }), 401, /wrong secret/],
      ['another platform', () => post(generatedBatch(3, '4'), { Authorization: otherAuth }), 403, /statements\[0\]\.actor\.account\.homePage/],
      [
        'a malformed verb id in the middle of a batch',
        () => {
          const batch = generatedBatch(30, '4', 500);
          (batch[17] as { verb: { id: string } }).verb.id = 'completed';
          return post(batch);
        },
        400,
        /statements\[17\]\.verb\.id/,
      ],
      [
        'an actor with two identifiers',
        () => post([{ ...generatedBatch(1, '4', 600)[0], actor: { mbox: 'mailto:a@b.fr', account: { homePage: MOODLE, name: '4' } } }]),
        400,
        /statements\[0\]\.actor/,
      ],
      ['a bad timestamp', () => post([{ ...generatedBatch(1, '4', 700)[0], timestamp: 'yesterday' }]), 400, /statements\[0\]\.timestamp/],
      ['a scaled score above 1', () => post([{ ...generatedBatch(1, '4', 800)[0], result: { score: { scaled: 1.5 } } }]), 400, /statements\[0\]\.result\.score\.scaled/],
      ['an unknown property', () => post([{ ...generatedBatch(1, '4', 900)[0], extra: 1 }]), 400, /statements\[0\]/],
      ['a missing object', () => post([{ ...generatedBatch(1, '4', 950)[0], object: undefined }]), 400, /statements\[0\]\.object/],
      [
        'a voiding statement without StatementRef',
        () => post({ actor: { account: { homePage: MOODLE, name: '4' } }, verb: { id: 'http://adlnet.gov/expapi/verbs/voided' }, object: { id: `${MOODLE}/x` } }),
        400,
        /statement/,
      ],
      ['a group actor', () => post([{ ...generatedBatch(1, '4', 990)[0], actor: { objectType: 'Group', member: [{ mbox: 'mailto:a@b.fr' }] } }]), 400, /actor/],
      ['a scalar body', () => post('42', {}, true), 400, /body/],
    ];
    it.each(cases)('%s', async (_name, send, status, pattern) => {
      const before = await snapshot();
      const res = await send();
      const body = (await res.json()) as { error: { status: number; message: string; details?: unknown } };
      expect([res.status, body.error.status]).toEqual([status, status]);
      expect(`${body.error.message} ${JSON.stringify(body.error.details ?? [])}`).toMatch(pattern);
      expect(await snapshot()).toEqual(before);
    });
  });

  it('refuses a revoked key', async () => {
    await ensurePlatform(server.ctx.store.db, 'https://revoked.example.org');
    const key = await createXapiKey(server.ctx.store.db, 'https://revoked.example.org');
    await revokeXapiKey(server.ctx.store.db, key.key, { verified: server.ctx.xapiKeys });
    expect((await post([], { Authorization: basic(key.key, key.secret) })).status).toBe(401);
  });
});
