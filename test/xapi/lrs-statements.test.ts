import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiClient } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, moodleBatches, MOODLE, platformKeyAuth, type Statement } from './support';

jest.setTimeout(120_000);

/** A second Moodle, registered with a platform key: the reference for what a platform key credits. */
const MOODLE2 = 'http://127.0.0.1:8282';

interface StatementResult {
  statements: Statement[];
  more: string;
}

describe.each(drivers)('the Statements resource for LRS clients on %s', (driver) => {
  let server: TestServer;
  const db = () => server.ctx.store.db;
  const call = (auth: string, method: string, query = '', body?: unknown) =>
    fetch(`${server.url}/xapi/statements${query}`, {
      method,
      headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const list = async (auth: string, query = '') => {
    const res = await call(auth, 'GET', query);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-experience-api-consistent-through')).toBeTruthy();
    return (await res.json()) as StatementResult;
  };
  const byAgent = (agent: unknown, extra = '') => `?agent=${encodeURIComponent(JSON.stringify(agent))}${extra}`;
  const client = async (name: string, scopes: string[], issuer?: string) => {
    const c = await createXapiClient(db(), { name, scopes, ...(issuer ? { issuer } : {}) });
    return basic(c.key, c.secret);
  };
  const statement = (actor: unknown, object: unknown = { id: 'http://example.org/activity/1' }): Statement => ({
    actor,
    verb: { id: 'http://adlnet.gov/expapi/verbs/experienced', display: { 'en-US': 'experienced' } },
    object,
  });
  const count = async (query: ReturnType<typeof sql>) => (await queryRows<{ n: number }>(db(), query))[0]?.n;

  let moodleKey: string;
  beforeAll(async () => {
    server = await startTestServer(driver);
    moodleKey = await platformKeyAuth(db(), MOODLE);
  });
  afterAll(() => server.destroy());

  it('stores any actor form of an unrestricted client, creates no learner, and finds it by every IFI', async () => {
    const lrs = await client('Authoring tool', ['all']);
    const users = await count(sql`SELECT count(*)::int AS n FROM users`);
    const mbox = 'mailto:ines@example.org';
    const sha1 = createHash('sha1').update('mailto:jules@example.org').digest('hex');
    const group = { objectType: 'Group', name: 'Team', member: [{ mbox: 'mailto:a@example.org' }, { openid: 'https://id.example.org/b' }] };
    const body = [
      statement({ objectType: 'Agent', mbox }),
      statement({ mbox_sha1sum: sha1 }),
      statement({ openid: 'https://id.example.org/c' }),
      statement({ account: { homePage: 'https://elsewhere.example.org', name: 'u1' } }),
      statement(group, { objectType: 'Agent', mbox }),
      { ...statement({ mbox }), context: { instructor: { mbox: 'mailto:prof@example.org' }, team: { objectType: 'Group', mbox: 'mailto:team@example.org' } } },
    ];
    const posted = await call(lrs, 'POST', '', body);
    expect(posted.status).toBe(200);
    const ids = (await posted.json()) as string[];
    expect(ids).toHaveLength(6);
    expect(await count(sql`SELECT count(*)::int AS n FROM users`)).toBe(users);
    expect(await count(sql`SELECT count(*)::int AS n FROM xapi_statements WHERE platform_id IS NULL AND user_id IS NULL`)).toBeGreaterThanOrEqual(6);

    const ofIds = (r: StatementResult) => r.statements.map((s) => s.id).sort();
    // the agent as actor, or as the object
    expect(ofIds(await list(lrs, byAgent({ mbox })))).toEqual([ids[0], ids[4], ids[5]].sort());
    expect(ofIds(await list(lrs, byAgent({ mbox_sha1sum: sha1 })))).toEqual([ids[1]]);
    expect(ofIds(await list(lrs, byAgent({ openid: 'https://id.example.org/c' })))).toEqual([ids[2]]);
    expect(ofIds(await list(lrs, byAgent({ account: { homePage: 'https://elsewhere.example.org', name: 'u1' } })))).toEqual([ids[3]]);
    // a Group's member, an instructor or a team: with related_agents only
    expect((await list(lrs, byAgent({ mbox: 'mailto:a@example.org' }))).statements).toEqual([]);
    expect(ofIds(await list(lrs, byAgent({ mbox: 'mailto:a@example.org' }, '&related_agents=true')))).toEqual([ids[4]]);
    expect(ofIds(await list(lrs, byAgent({ mbox: 'mailto:prof@example.org' }, '&related_agents=true')))).toEqual([ids[5]]);
    expect((await list(lrs, byAgent({ mbox: 'mailto:nobody@example.org' }))).statements).toEqual([]);
    // a malformed agent is a 400
    expect((await call(lrs, 'GET', byAgent({ mbox: 'ines@example.org' }))).status).toBe(400);

    // one statement, and in the ids format
    const one = await call(lrs, 'GET', `?statementId=${ids[0]}&format=ids`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ actor: { objectType: 'Agent', mbox }, verb: { id: 'http://adlnet.gov/expapi/verbs/experienced' }, object: { id: 'http://example.org/activity/1' } });

    // neither a platform nor another client sees them
    expect((await list(moodleKey, byAgent({ mbox }))).statements).toEqual([]);
    const other = await client('Other tool', ['all']);
    expect((await list(other)).statements).toEqual([]);
    expect((await call(other, 'GET', `?statementId=${ids[0]}`)).status).toBe(404);
  });

  it('statements/read/mine reads only the statements whose authority is that client', async () => {
    const mine = await client('Quiz', ['statements/write', 'statements/read/mine'], MOODLE);
    const theirs = await client('Survey', ['statements/write', 'statements/read'], MOODLE);
    const [a] = (await (await call(mine, 'POST', '', statement({ mbox: 'mailto:quiz@example.org' }))).json()) as string[];
    const [b] = (await (await call(theirs, 'POST', '', statement({ mbox: 'mailto:quiz@example.org' }))).json()) as string[];
    const own = await list(mine, byAgent({ mbox: 'mailto:quiz@example.org' }));
    expect(own.statements.map((s) => s.id)).toEqual([a]);
    expect(own.statements[0]?.authority).toMatchObject({ account: { name: expect.any(String) } });
    expect((await call(mine, 'GET', `?statementId=${b}`)).status).toBe(404);
    // a reader of the platform sees both, as the platform's key does
    expect((await list(theirs, byAgent({ mbox: 'mailto:quiz@example.org' }))).statements.map((s) => s.id).sort()).toEqual([a, b].sort());
    expect((await list(moodleKey, byAgent({ mbox: 'mailto:quiz@example.org' }))).statements).toHaveLength(2);
    // a platform key still refuses other actors, as before: 400 for another form, 403 for another platform's account
    expect((await call(moodleKey, 'POST', '', statement({ mbox: 'mailto:quiz@example.org' }))).status).toBe(400);
    expect((await call(moodleKey, 'POST', '', statement({ account: { homePage: 'https://elsewhere.example.org', name: '3' } }))).status).toBe(403);
  });

  it("credits a platform's account sent by a client exactly as the platform's key does", async () => {
    const moodle2Key = await platformKeyAuth(db(), MOODLE2);
    await ensurePlatform(db(), `${MOODLE}/`);
    const lrs = await client('Forwarder', ['all']);
    const batches = moodleBatches().slice(0, 8);
    for (const { body } of batches) {
      expect((await call(lrs, 'POST', '', body)).status).toBe(200);
      const other = JSON.parse(JSON.stringify(body).split(MOODLE).join(MOODLE2)) as Statement[];
      expect((await call(moodle2Key, 'POST', '', other)).status).toBe(200);
    }
    const facts = async (issuer: string) =>
      (
        await queryRows<Record<string, unknown>>(
          db(),
          sql`SELECT u.sub, c.context_id, replace(e.activity_iri, ${issuer}, '') AS activity, e.kind, e.success, e.duration_seconds, e.statement_timestamp::text AS at, e.position
              FROM completion_events e JOIN platforms p ON p.id = e.platform_id JOIN users u ON u.id = e.user_id LEFT JOIN courses c ON c.id = e.course_id
              WHERE p.issuer LIKE ${`${issuer}%`} ORDER BY 1, 2, 3, 7, 8`,
        )
      ).map((r) => ({ ...r }));
    const fromClient = await facts(MOODLE);
    expect(fromClient.length).toBeGreaterThan(0);
    expect(fromClient).toEqual(await facts(MOODLE2));
    const marked = async (issuer: string) =>
      count(sql`SELECT count(*)::int AS n FROM coverage_dirty d JOIN platforms p ON p.id = d.platform_id WHERE p.issuer LIKE ${`${issuer}%`}`);
    const seen = async (issuer: string) => count(sql`SELECT count(*)::int AS n FROM xapi_activities a JOIN platforms p ON p.id = a.platform_id WHERE p.issuer LIKE ${`${issuer}%`}`);
    expect(await seen(MOODLE)).toBe(await seen(MOODLE2));
    expect(await marked(MOODLE)).toBeLessThanOrEqual((await count(sql`SELECT count(DISTINCT user_id)::int AS n FROM completion_events e JOIN platforms p ON p.id = e.platform_id WHERE p.issuer LIKE ${`${MOODLE}%`}`)) ?? 0);
    // the client reads what it sent; the platform's key reads them as its own platform's
    const sent = (await list(lrs, '?limit=500')).statements.filter((s) => JSON.stringify(s.actor).includes(MOODLE));
    expect(sent.length).toBe(batches.reduce((n, b) => n + b.body.length, 0));
    const first = sent[0]?.id as string;
    expect((await call(moodleKey, 'GET', `?statementId=${first}`)).status).toBe(200);
    expect((await call(moodle2Key, 'GET', `?statementId=${first}`)).status).toBe(404);
  });

  it('voids within its own statements: the voided one by voidedStatementId only, what targets it in lists', async () => {
    const lrs = await client('Voider', ['all']);
    const verb = 'http://example.org/verbs/tried';
    const target = { ...statement({ mbox: 'mailto:void@example.org' }), verb: { id: verb } };
    const [id] = (await (await call(lrs, 'POST', '', target)).json()) as string[];
    const ref = { ...statement({ mbox: 'mailto:void@example.org' }), object: { objectType: 'StatementRef', id } };
    const [refId] = (await (await call(lrs, 'POST', '', ref)).json()) as string[];
    const voiding = { actor: { mbox: 'mailto:void@example.org' }, verb: { id: 'http://adlnet.gov/expapi/verbs/voided' }, object: { objectType: 'StatementRef', id } };
    const [voidingId] = (await (await call(lrs, 'POST', '', voiding)).json()) as string[];
    expect((await call(lrs, 'GET', `?statementId=${id}`)).status).toBe(404);
    expect((await call(lrs, 'GET', `?voidedStatementId=${id}`)).status).toBe(200);
    const found = await list(lrs, `?verb=${encodeURIComponent(verb)}`);
    expect(found.statements.map((s) => s.id).sort()).toEqual([refId, voidingId].sort());
    // another client cannot void it
    const [kept] = (await (await call(lrs, 'POST', '', { ...target, verb: { id: 'http://example.org/verbs/kept' } })).json()) as string[];
    const other = await client('Stranger', ['all']);
    expect((await call(other, 'POST', '', { ...voiding, object: { objectType: 'StatementRef', id: kept } })).status).toBe(200);
    expect((await call(lrs, 'GET', `?statementId=${kept}`)).status).toBe(200);
  });

  it('answers the alternate request syntax', async () => {
    const lrs = await client('Browser tool', ['all']);
    const auth = lrs;
    const content = JSON.stringify(statement({ mbox: 'mailto:alt@example.org' }));
    const id = '5b0f3f2e-8e0a-4c1b-9d6e-2f3a4b5c6d7e';
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const put = await fetch(`${server.url}/xapi/statements?method=PUT`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form({ Authorization: auth, 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json', statementId: id, content }),
    });
    expect(put.status).toBe(204);
    const got = await fetch(`${server.url}/xapi/statements?method=GET`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form({ Authorization: auth, 'X-Experience-API-Version': '1.0.3', statementId: id }),
    });
    expect(got.status).toBe(200);
    expect(((await got.json()) as Statement).id).toBe(id);
    // a statement's content needs no Content-Type field
    const posted = await fetch(`${server.url}/xapi/statements?method=POST`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form({ Authorization: auth, 'X-Experience-API-Version': '1.0.3', content }),
    });
    expect(posted.status).toBe(200);
    // parameters in the query besides method, or another method: 400
    expect((await fetch(`${server.url}/xapi/statements?method=GET&statementId=${id}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form({ Authorization: auth, 'X-Experience-API-Version': '1.0.3' }) })).status).toBe(400);
    expect((await fetch(`${server.url}/xapi/statements?method=PATCH`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form({ Authorization: auth, 'X-Experience-API-Version': '1.0.3' }) })).status).toBe(400);
  });
});
