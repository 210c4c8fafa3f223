import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { eraseLearner, exportLearner } from '../../src/privacy/service';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiClient, createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, generatedBatch, MOODLE } from './support';

jest.setTimeout(90_000);

const OTHER = 'https://other.example.org';
const ACTIVITY = 'http://example.org/activities/course-1';
const learner = { objectType: 'Agent', mbox: 'mailto:learner@example.org' };
const sha1 = (content: string | Buffer) => createHash('sha1').update(content).digest('hex');

describe.each(drivers)('xAPI document resources on %s', (driver) => {
  let server: TestServer;
  const auth: Record<'moodle' | 'other' | 'moodleClient' | 'free' | 'noState' | 'allRead', string> = {
    moodle: '',
    other: '',
    moodleClient: '',
    free: '',
    noState: '',
    allRead: '',
  };

  type Who = keyof typeof auth;
  interface Call {
    who?: Who;
    version?: string | null;
    headers?: Record<string, string>;
    body?: string | Buffer;
    contentType?: string;
  }
  const call = (method: string, path: string, params: Record<string, unknown>, c: Call = {}) => {
    const query = new URLSearchParams(
      Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string]),
    ).toString();
    const headers: Record<string, string> = { Authorization: auth[c.who ?? 'moodle'], ...c.headers };
    if (c.version !== null) headers['X-Experience-API-Version'] = c.version ?? '1.0.3';
    if (c.body !== undefined) headers['Content-Type'] = c.contentType ?? 'application/json';
    return fetch(`${server.url}${path}?${query}`, { method, headers, body: c.body });
  };
  const state = (stateId?: string, extra: Record<string, unknown> = {}) => ({
    activityId: ACTIVITY,
    agent: learner,
    ...(stateId === undefined ? {} : { stateId }),
    ...extra,
  });
  const text = async (res: Response) => ({ status: res.status, body: await res.text() });

  beforeAll(async () => {
    server = await startTestServer(driver);
    const db = server.ctx.store.db;
    await ensurePlatform(db, `${MOODLE}/`, 'Moodle LTI Test');
    await ensurePlatform(db, OTHER);
    const key = async (issuer: string) => {
      const k = await createXapiKey(db, issuer);
      return basic(k.key, k.secret);
    };
    const client = async (name: string, scopes: string[], issuer?: string) => {
      const c = await createXapiClient(db, { name, scopes, ...(issuer ? { issuer } : {}) });
      return basic(c.key, c.secret);
    };
    auth.moodle = await key(MOODLE);
    auth.other = await key(OTHER);
    auth.moodleClient = await client('SCORM player', ['state', 'profile'], MOODLE);
    auth.free = await client('Authoring tool', ['all']);
    auth.noState = await client('Statements only', ['statements/write', 'statements/read']);
    auth.allRead = await client('Dashboard', ['all/read']);
  });
  afterAll(() => server.destroy());

  it('stores a state as sent and gives it back with its SHA-1 ETag, Last-Modified and content type; POST merges JSON objects', async () => {
    const doc = '{"x":"foo","y":"bar"}';
    const put = await call('PUT', '/xapi/activities/state', state('bookmark'), { body: doc });
    expect(put.status).toBe(204);
    expect(put.headers.get('etag')).toBe(`"${sha1(doc)}"`);

    const got = await call('GET', '/xapi/activities/state', state('bookmark'));
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe(`"${sha1(doc)}"`);
    expect(got.headers.get('content-type')).toMatch(/^application\/json/);
    expect(got.headers.get('x-experience-api-version')).toBe('1.0.3');
    const lastModified = Date.parse(got.headers.get('last-modified') ?? '');
    expect(Math.abs(lastModified - Date.now())).toBeLessThan(60_000);
    expect(await got.text()).toBe(doc);

    // merge: top-level properties of the posted object replace the stored ones
    expect((await call('POST', '/xapi/activities/state', state('bookmark'), { body: '{"x":"bash","z":{"a":1}}' })).status).toBe(204);
    const merged = await call('GET', '/xapi/activities/state', state('bookmark'));
    expect(await merged.json()).toEqual({ x: 'bash', y: 'bar', z: { a: 1 } });

    // not JSON on either side: 400, nothing changed
    const before = await text(await call('GET', '/xapi/activities/state', state('bookmark')));
    expect((await call('POST', '/xapi/activities/state', state('bookmark'), { body: 'plain', contentType: 'text/plain' })).status).toBe(400);
    expect((await call('POST', '/xapi/activities/state', state('bookmark'), { body: '{"x":' })).status).toBe(400);
    expect((await call('POST', '/xapi/activities/state', state('bookmark'), { body: '[1,2]' })).status).toBe(400);
    expect(await text(await call('GET', '/xapi/activities/state', state('bookmark')))).toEqual(before);

    // a binary document keeps its bytes and type; a JSON POST onto it is refused
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]);
    expect((await call('PUT', '/xapi/activities/state', state('picture'), { body: png, contentType: 'image/png' })).status).toBe(204);
    const picture = await call('GET', '/xapi/activities/state', state('picture'));
    expect([picture.headers.get('content-type'), picture.headers.get('etag')]).toEqual(['image/png', `"${sha1(png)}"`]);
    expect(Buffer.from(await picture.arrayBuffer()).equals(png)).toBe(true);
    const posted = await call('POST', '/xapi/activities/state', state('picture'), { body: '{"a":1}' });
    expect(posted.status).toBe(400);
    expect(((await posted.json()) as { error: { message: string } }).error.message).toMatch(/not application\/json/);

    // a POST to no document stores it
    expect((await call('POST', '/xapi/activities/state', state('fresh'), { body: '{"n":1}' })).status).toBe(204);
    expect(await (await call('GET', '/xapi/activities/state', state('fresh'))).json()).toEqual({ n: 1 });
  });

  it('lists state ids (since is exclusive), keeps registrations apart, deletes one or all; 404 for a missing one', async () => {
    const agent = { objectType: 'Agent', account: { homePage: MOODLE, name: '42' } };
    const s = (stateId?: string, extra: Record<string, unknown> = {}) => state(stateId, { agent, ...extra });
    const registration = 'a1b2c3d4-0000-4000-8000-000000000001';
    expect((await call('PUT', '/xapi/activities/state', s('a'), { body: '{"a":1}' })).status).toBe(204);
    const first = await call('GET', '/xapi/activities/state', s());
    const afterA = new Date(Date.parse(first.headers.get('last-modified') ?? '') + 1000).toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call('PUT', '/xapi/activities/state', s('b'), { body: '{"b":1}' })).status).toBe(204);
    expect((await call('PUT', '/xapi/activities/state', s('c', { registration }), { body: '{"c":1}' })).status).toBe(204);

    expect(await (await call('GET', '/xapi/activities/state', s())).json()).toEqual(['a', 'b', 'c']);
    expect(await (await call('GET', '/xapi/activities/state', s(undefined, { since: afterA }))).json()).toEqual(['b', 'c']);
    expect(await (await call('GET', '/xapi/activities/state', s(undefined, { registration }))).json()).toEqual(['c']);
    // the same stateId without the registration is another document
    expect((await call('GET', '/xapi/activities/state', s('c'))).status).toBe(404);
    expect((await call('GET', '/xapi/activities/state', s('c', { registration: registration.toUpperCase() }))).status).toBe(200);

    expect((await call('DELETE', '/xapi/activities/state', s('a'))).status).toBe(204);
    const missing = await call('GET', '/xapi/activities/state', s('a'));
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-experience-api-version')).toBe('1.0.3');
    expect((await call('DELETE', '/xapi/activities/state', s('a'))).status).toBe(204);
    expect((await call('DELETE', '/xapi/activities/state', s())).status).toBe(204);
    expect(await (await call('GET', '/xapi/activities/state', s())).json()).toEqual([]);
    // the learner's other states (another agent) are untouched
    expect((await call('GET', '/xapi/activities/state', state('bookmark'))).status).toBe(200);
  });

  it('refuses what is not a valid request with 400 and changes nothing', async () => {
    const stored = async () => (await queryRows<{ n: number }>(server.ctx.store.db, sql`SELECT count(*)::int AS n FROM xapi_documents`))[0]?.n;
    const before = await stored();
    const bad: [string, Record<string, unknown>][] = [
      ['no activityId', { agent: learner, stateId: 's' }],
      ['no agent', { activityId: ACTIVITY, stateId: 's' }],
      ['agent not JSON', { activityId: ACTIVITY, agent: '{mbox', stateId: 's' }],
      ['two identifiers', { activityId: ACTIVITY, agent: { mbox: 'mailto:a@b.c', openid: 'http://a.example/' }, stateId: 's' }],
      ['no identifier', { activityId: ACTIVITY, agent: { name: 'A' }, stateId: 's' }],
      ['mbox without mailto', { activityId: ACTIVITY, agent: { mbox: 'a@b.c' }, stateId: 's' }],
      ['bad sha1', { activityId: ACTIVITY, agent: { mbox_sha1sum: 'xyz' }, stateId: 's' }],
      ['account without name', { activityId: ACTIVITY, agent: { account: { homePage: MOODLE } }, stateId: 's' }],
      ['a Group', { activityId: ACTIVITY, agent: { objectType: 'Group', mbox: 'mailto:g@b.c' }, stateId: 's' }],
      ['registration not a UUID', { activityId: ACTIVITY, agent: learner, stateId: 's', registration: 'r1' }],
      ['activityId not an IRI', { activityId: 'not an iri', agent: learner, stateId: 's' }],
      ['unknown parameter', { activityId: ACTIVITY, agent: learner, stateId: 's', extra: '1' }],
      ['NUL in the stateId', { activityId: ACTIVITY, agent: learner, stateId: 'a\u0000b' }],
    ];
    for (const [why, params] of bad) {
      expect([why, (await call('PUT', '/xapi/activities/state', params, { body: '{}' })).status]).toEqual([why, 400]);
      expect([why, (await call('GET', '/xapi/activities/state', params)).status]).toEqual([why, 400]);
    }
    expect((await call('PUT', '/xapi/activities/state', state(), { body: '{}' })).status).toBe(400);
    expect((await call('GET', '/xapi/activities/state', state(undefined, { since: 'yesterday' }))).status).toBe(400);
    expect((await call('DELETE', '/xapi/activities/profile', { activityId: ACTIVITY })).status).toBe(400);
    expect(await stored()).toBe(before);
    // every inverse functional identifier names an agent
    for (const agent of [
      { mbox_sha1sum: sha1('mailto:learner@example.org') },
      { openid: 'http://openid.example.org/learner' },
      { objectType: 'Agent', name: 'Learner', account: { homePage: 'http://www.example.com', name: 'learner' } },
    ]) {
      expect((await call('PUT', '/xapi/activities/state', { activityId: ACTIVITY, agent, stateId: 'ifi' }, { body: '{}' })).status).toBe(204);
      expect((await call('GET', '/xapi/activities/state', { activityId: ACTIVITY, agent, stateId: 'ifi' })).status).toBe(200);
    }
    // the name and objectType do not change who the agent is
    expect((await call('GET', '/xapi/activities/state', { activityId: ACTIVITY, agent: { account: { homePage: 'http://www.example.com', name: 'learner' } }, stateId: 'ifi' })).status).toBe(200);
  });

  it('applies If-Match / If-None-Match (412) and refuses a PUT over an existing profile without either (409)', async () => {
    const p = { activityId: ACTIVITY, profileId: 'settings' };
    const path = '/xapi/activities/profile';
    expect((await call('PUT', path, p, { body: '{"v":1}', headers: { 'If-None-Match': '*' } })).status).toBe(204);
    expect((await call('PUT', path, p, { body: '{"v":2}', headers: { 'If-None-Match': '*' } })).status).toBe(412);
    const conflict = await call('PUT', path, p, { body: '{"v":2}' });
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { error: { message: string } }).error.message).toMatch(/If-Match/);
    expect((await call('PUT', path, p, { body: '{"v":2}', headers: { 'If-Match': '"0000000000000000000000000000000000000000"' } })).status).toBe(412);
    expect((await call('POST', path, p, { body: '{"w":2}', headers: { 'If-Match': '"0000000000000000000000000000000000000000"' } })).status).toBe(412);
    expect((await call('DELETE', path, p, { headers: { 'If-Match': '"0000000000000000000000000000000000000000"' } })).status).toBe(412);
    const current = await call('GET', path, p);
    expect(await current.json()).toEqual({ v: 1 });
    const etag = current.headers.get('etag') ?? '';
    expect(etag).toBe(`"${sha1('{"v":1}')}"`);

    const replaced = await call('PUT', path, p, { body: '{"v":3}', headers: { 'If-Match': etag } });
    expect(replaced.status).toBe(204);
    const newTag = replaced.headers.get('etag') ?? '';
    expect((await call('POST', path, p, { body: '{"w":4}', headers: { 'If-Match': newTag } })).status).toBe(204);
    expect(await (await call('GET', path, p)).json()).toEqual({ v: 3, w: 4 });
    expect((await call('PUT', path, { ...p, profileId: 'absent' }, { body: '{}', headers: { 'If-Match': '*' } })).status).toBe(412);
    // a new profile is created with If-None-Match: * (a bare PUT is refused, and stores nothing); the ids are listed
    const bare = await call('PUT', path, { ...p, profileId: 'other' }, { body: 'x', contentType: 'text/plain' });
    expect([bare.status, ((await bare.json()) as { error: { message: string } }).error.message]).toEqual([400, expect.stringMatching(/If-None-Match: \*/)]);
    expect((await call('GET', path, { ...p, profileId: 'other' })).status).toBe(404);
    expect((await call('PUT', path, { ...p, profileId: 'other' }, { body: 'x', contentType: 'text/plain', headers: { 'If-None-Match': '*' } })).status).toBe(204);
    expect(await (await call('GET', path, { activityId: ACTIVITY })).json()).toEqual(['settings', 'other']);
    const last = await call('GET', path, p);
    expect((await call('DELETE', path, p, { headers: { 'If-Match': last.headers.get('etag') ?? '' } })).status).toBe(204);
    expect((await call('GET', path, p)).status).toBe(404);

    // a state may be replaced without a precondition in 1.0.3, not in 2.0.0
    expect((await call('PUT', '/xapi/activities/state', state('v2'), { body: '{"a":1}' })).status).toBe(204);
    expect((await call('PUT', '/xapi/activities/state', state('v2'), { body: '{"a":2}' })).status).toBe(204);
    const v2 = await call('PUT', '/xapi/activities/state', state('v2'), { body: '{"a":3}', version: '2.0.0' });
    expect([v2.status, v2.headers.get('x-experience-api-version')]).toEqual([409, '2.0.0']);
    const got = await call('GET', '/xapi/activities/state', state('v2'), { version: '2.0.0' });
    expect([got.status, got.headers.get('x-experience-api-version'), await got.json()]).toEqual([200, '2.0.0', { a: 2 }]);
  });

  it('answers concurrent creations of one document with one 204 and 412 for the others; concurrent merges all apply', async () => {
    const p = { activityId: ACTIVITY, profileId: 'race' };
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => call('PUT', '/xapi/activities/profile', p, { body: `{"n":${i}}`, headers: { 'If-None-Match': '*' } }).then((r) => r.status)),
    );
    expect(answers.filter((s) => s === 204)).toHaveLength(1);
    expect(answers.filter((s) => s !== 204).every((s) => s === 412)).toBe(true);
    const states = await Promise.all(Array.from({ length: 6 }, (_, i) => call('POST', '/xapi/activities/state', state('race'), { body: `{"k${i}":${i}}` }).then((r) => r.status)));
    expect(states).toEqual(Array(6).fill(204));
    expect(await (await call('GET', '/xapi/activities/state', state('race'))).json()).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5 });
  });

  it('keeps agent profiles per agent, for every identifier and identified Groups', async () => {
    const path = '/xapi/agents/profile';
    const group = { objectType: 'Group', account: { homePage: MOODLE, name: 'group-7' } };
    const create = { 'If-None-Match': '*' };
    expect((await call('PUT', path, { agent: learner, profileId: 'prefs' }, { body: '{"lang":"fr"}', headers: create })).status).toBe(204);
    expect((await call('PUT', path, { agent: group, profileId: 'prefs' }, { body: '{"lang":"en"}', headers: create })).status).toBe(204);
    expect(await (await call('GET', path, { agent: learner, profileId: 'prefs' })).json()).toEqual({ lang: 'fr' });
    expect(await (await call('GET', path, { agent: group, profileId: 'prefs' })).json()).toEqual({ lang: 'en' });
    expect(await (await call('GET', path, { agent: { mbox: 'mailto:nobody@example.org' } })).json()).toEqual([]);
    expect(await (await call('GET', path, { agent: learner })).json()).toEqual(['prefs']);
    expect((await call('GET', path, { agent: learner, profileId: 'none' })).status).toBe(404);
    expect((await call('PUT', path, { agent: '[', profileId: 'prefs' }, { body: '{}' })).status).toBe(400);
  });

  it('keeps each platform to its documents, shares them with the clients restricted to it, and gives an unrestricted client its own', async () => {
    const p = { activityId: ACTIVITY, profileId: 'shared' };
    const path = '/xapi/activities/profile';
    expect((await call('PUT', path, p, { body: '{"by":"moodle"}', headers: { 'If-None-Match': '*' } })).status).toBe(204);
    expect(await (await call('GET', path, p, { who: 'moodleClient' })).json()).toEqual({ by: 'moodle' });
    expect((await call('GET', path, p, { who: 'other' })).status).toBe(404);
    expect((await call('GET', path, p, { who: 'free' })).status).toBe(404);
    expect(await (await call('GET', path, { activityId: ACTIVITY }, { who: 'other' })).json()).toEqual([]);

    // the other platform and the free client write the same ids without touching Moodle's
    expect((await call('PUT', path, p, { who: 'other', body: '{"by":"other"}', headers: { 'If-None-Match': '*' } })).status).toBe(204);
    expect((await call('PUT', path, p, { who: 'free', body: '{"by":"free"}', headers: { 'If-None-Match': '*' } })).status).toBe(204);
    expect((await call('DELETE', '/xapi/activities/state', state(), { who: 'free' })).status).toBe(204);
    expect(await (await call('GET', path, p)).json()).toEqual({ by: 'moodle' });
    expect(await (await call('GET', path, p, { who: 'other' })).json()).toEqual({ by: 'other' });
    expect(await (await call('GET', path, p, { who: 'free' })).json()).toEqual({ by: 'free' });
    expect((await call('GET', '/xapi/activities/state', state('bookmark'))).status).toBe(200);
  });

  it('enforces the scopes of LRS clients per resource and method (403 naming the scopes)', async () => {
    const denied = await call('PUT', '/xapi/activities/state', state('scoped'), { who: 'noState', body: '{}' });
    expect(denied.status).toBe(403);
    const message = ((await denied.json()) as { error: { message: string } }).error.message;
    expect(message).toMatch(/state, all/);
    expect((await call('GET', '/xapi/activities/state', state('bookmark'), { who: 'noState' })).status).toBe(403);
    expect((await call('GET', '/xapi/agents/profile', { agent: learner }, { who: 'noState' })).status).toBe(403);

    // all/read reads every document resource (here: its own, empty, set) and writes none
    expect((await call('GET', '/xapi/activities/state', state(), { who: 'allRead' })).status).toBe(200);
    expect((await call('GET', '/xapi/activities/profile', { activityId: ACTIVITY }, { who: 'allRead' })).status).toBe(200);
    expect((await call('GET', '/xapi/agents/profile', { agent: learner }, { who: 'allRead' })).status).toBe(200);
    expect((await call('GET', '/xapi/agents', { agent: learner }, { who: 'allRead' })).status).toBe(200);
    for (const method of ['PUT', 'POST', 'DELETE']) {
      expect([method, (await call(method, '/xapi/activities/state', state('scoped'), { who: 'allRead', body: '{}' })).status]).toEqual([method, 403]);
      expect([method, (await call(method, '/xapi/agents/profile', { agent: learner, profileId: 'x' }, { who: 'allRead', body: '{}' })).status]).toEqual([method, 403]);
    }
    // a client with state and profile only: no statements
    expect((await call('GET', '/xapi/statements', {}, { who: 'moodleClient' })).status).toBe(403);
    // credentials come before scopes and parameters
    expect((await call('GET', '/xapi/activities/state', {}, { who: 'noState' })).status).toBe(403);
    const stranger = await fetch(`${server.url}/xapi/activities/state?${new URLSearchParams({ activityId: ACTIVITY })}`, { headers: { 'X-Experience-API-Version': '1.0.3' } });
    expect(stranger.status).toBe(401);
  });

  it("exports and erases a learner's states and agent profiles with the learner, and nobody else's", async () => {
    const sent = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { Authorization: auth.moodle, 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json' },
      body: JSON.stringify(generatedBatch(1, 'erase-me')),
    });
    expect(sent.status).toBe(200);
    const erased = { objectType: 'Agent', account: { homePage: `${MOODLE}/`, name: 'erase-me' } };
    const kept = { account: { homePage: MOODLE, name: 'keep-me' } };
    const create = { 'If-None-Match': '*' };
    for (const agent of [erased, { account: { homePage: MOODLE, name: 'erase-me' } }, kept]) {
      expect((await call('PUT', '/xapi/activities/state', { activityId: ACTIVITY, agent, stateId: 'progress' }, { who: 'moodleClient', body: '{"p":1}' })).status).toBe(204);
    }
    expect((await call('PUT', '/xapi/agents/profile', { agent: erased, profileId: 'prefs' }, { body: '{}', headers: create })).status).toBe(204);
    // the same account sent with another platform's credentials is that platform's document
    expect((await call('PUT', '/xapi/agents/profile', { agent: erased, profileId: 'prefs' }, { who: 'other', body: '{}', headers: create })).status).toBe(204);

    const exported = await exportLearner(server.ctx.store.db, MOODLE, 'erase-me');
    expect(exported.xapiDocuments.map((d) => [d.resource, d.documentId, Buffer.from(d.contentBase64, 'base64').toString()])).toEqual([
      ['state', 'progress', '{"p":1}'],
      ['state', 'progress', '{"p":1}'],
      ['agent-profile', 'prefs', '{}'],
    ]);
    const report = await eraseLearner(server.ctx.store.db, MOODLE, 'erase-me', { actor: 'admin' });
    expect(report.tables.xapi_documents).toBe(3);
    expect((await call('GET', '/xapi/activities/state', { activityId: ACTIVITY, agent: erased, stateId: 'progress' })).status).toBe(404);
    expect((await call('GET', '/xapi/agents/profile', { agent: erased, profileId: 'prefs' })).status).toBe(404);
    expect((await call('GET', '/xapi/activities/state', { activityId: ACTIVITY, agent: kept, stateId: 'progress' })).status).toBe(200);
    expect((await call('GET', '/xapi/agents/profile', { agent: erased, profileId: 'prefs' }, { who: 'other' })).status).toBe(200);
  });

  it('answers About without credentials, negotiates the version, and describes agents and activities', async () => {
    const about = await fetch(`${server.url}/xapi/about`);
    expect(about.status).toBe(200);
    expect(await about.json()).toEqual({ version: ['1.0.3', '2.0.0'], extensions: {} });

    expect((await call('GET', '/xapi/activities/state', state(), { version: null })).status).toBe(400);
    expect((await call('GET', '/xapi/activities/state', state(), { version: '0.95' })).status).toBe(400);
    expect((await call('GET', '/xapi/activities/state', state(), { version: '2.1.0' })).status).toBe(400);
    for (const [asked, answered] of [['1.0.0', '1.0.3'], ['1.0.3', '1.0.3'], ['2.0.0', '2.0.0']]) {
      const res = await call('GET', '/xapi/activities/state', state(), { version: asked });
      expect([asked, res.status, res.headers.get('x-experience-api-version')]).toEqual([asked, 200, answered]);
    }
    const statements = await call('GET', '/xapi/statements', {}, { version: '2.0.0' });
    expect([statements.status, statements.headers.get('x-experience-api-version')]).toEqual([200, '2.0.0']);

    const person = await call('GET', '/xapi/agents', { agent: { objectType: 'Agent', name: 'Ana', mbox: 'mailto:ana@example.org' } });
    expect(await person.json()).toEqual({ objectType: 'Person', name: ['Ana'], mbox: ['mailto:ana@example.org'] });
    expect((await call('GET', '/xapi/agents', {})).status).toBe(400);
    expect((await call('GET', '/xapi/agents', { agent: { objectType: 'Group', mbox: 'mailto:g@example.org' } })).status).toBe(400);

    // an activity Moodle sent statements about, as they defined it; an unknown one is its id
    const batch = generatedBatch(3, '42');
    const sent = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { Authorization: auth.moodle, 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(sent.status).toBe(200);
    const object = (batch[0] as { object: { id: string; definition: unknown } }).object;
    expect(object.definition).toEqual({ type: expect.any(String), name: { en: expect.any(String) } });
    const activity = await call('GET', '/xapi/activities', { activityId: object.id });
    expect(await activity.json()).toEqual({ objectType: 'Activity', id: object.id, definition: object.definition });
    expect(await (await call('GET', '/xapi/activities', { activityId: object.id }, { who: 'other' })).json()).toEqual({ objectType: 'Activity', id: object.id });
    expect(await (await call('GET', '/xapi/activities', { activityId: 'http://example.org/unknown' })).json()).toEqual({ objectType: 'Activity', id: 'http://example.org/unknown' });
    expect((await call('GET', '/xapi/activities', {})).status).toBe(400);
  });
});
