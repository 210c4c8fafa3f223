import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { authenticateXapiCredentials, authenticateXapiKey, createXapiClient, createXapiKey, listXapiKeys, revokeXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, generatedBatch, MOODLE } from './support';

jest.setTimeout(90_000);

const OTHER = 'https://other.example.org';

describe.each(drivers)('xAPI credentials: platform keys and LRS clients on %s', (driver) => {
  let server: TestServer;
  const db = () => server.ctx.store.db;

  const statements = (auth: string, method = 'POST', body?: unknown, query = '') =>
    fetch(`${server.url}/xapi/statements${query}`, {
      method,
      headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  const stored = async () => (await queryRows<{ n: number }>(db(), sql`SELECT count(*)::int AS n FROM xapi_statements`))[0]?.n;
  const client = async (name: string, scopes: string[], issuer?: string) => {
    const c = await createXapiClient(db(), { name, scopes, ...(issuer ? { issuer } : {}) });
    return basic(c.key, c.secret);
  };

  beforeAll(async () => {
    server = await startTestServer(driver);
    await ensurePlatform(db(), `${MOODLE}/`, 'Moodle LTI Test');
    await ensurePlatform(db(), OTHER);
  });
  afterAll(() => server.destroy());

  it('issues clients with their scopes and an optional platform, lists them beside platform keys, refuses unknown scopes and platforms', async () => {
    const key = await createXapiKey(db(), MOODLE);
    const restricted = await createXapiClient(db(), { name: 'SCORM player', scopes: ['state', 'statements/write', 'state'], issuer: `${MOODLE}/` });
    const free = await createXapiClient(db(), { name: 'Reporting' });
    expect(restricted).toMatchObject({ name: 'SCORM player', scopes: ['state', 'statements/write'], platform: MOODLE });
    expect(free).toMatchObject({ scopes: ['statements/write', 'statements/read/mine'], platform: null });
    expect(restricted.secret.length).toBeGreaterThanOrEqual(43);

    await expect(createXapiClient(db(), { name: 'X', scopes: ['statements/delete'] })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/statements\/delete/) });
    await expect(createXapiClient(db(), { name: ' ', scopes: ['all'] })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(createXapiClient(db(), { name: 'X', issuer: 'https://nowhere.example.org' })).rejects.toMatchObject({ code: 'not_found' });

    const all = await listXapiKeys(db());
    expect(all.filter((k) => [key.key, restricted.key, free.key].includes(k.key))).toEqual([
      expect.objectContaining({ key: key.key, kind: 'platform', name: null, platform: MOODLE, scopes: ['all'] }),
      expect.objectContaining({ key: restricted.key, kind: 'client', name: 'SCORM player', platform: MOODLE, scopes: ['state', 'statements/write'] }),
      expect.objectContaining({ key: free.key, kind: 'client', name: 'Reporting', platform: null }),
    ]);
    expect((await listXapiKeys(db(), MOODLE)).map((k) => k.key)).toEqual(expect.arrayContaining([key.key, restricted.key]));
    expect((await listXapiKeys(db(), MOODLE)).map((k) => k.key)).not.toContain(free.key);
    expect(JSON.stringify(all)).not.toContain(restricted.secret);

    expect(await authenticateXapiCredentials(db(), free.key, free.secret)).toEqual({ kind: 'client', keyId: expect.any(Number), platform: undefined, scopes: ['statements/write', 'statements/read/mine'] });
    expect((await authenticateXapiCredentials(db(), key.key, key.secret))?.scopes).toEqual(['all']);
    expect((await authenticateXapiKey(db(), restricted.key, restricted.secret))?.issuer).toBe(MOODLE);
    expect(await authenticateXapiKey(db(), free.key, free.secret)).toBeUndefined();
    expect(await authenticateXapiCredentials(db(), free.key, restricted.secret)).toBeUndefined();

    // a revoked client is refused at once in this process
    const auth = basic(free.key, free.secret);
    expect(await revokeXapiKey(db(), free.key, { verified: server.ctx.xapiKeys })).toBe(true);
    expect((await statements(auth)).status).toBe(401);
  });

  it('a platform key still writes only its platform accounts; a client restricted to a platform also stores other actors there', async () => {
    const moodleKey = await createXapiKey(db(), MOODLE);
    const auth = basic(moodleKey.key, moodleKey.secret);
    const before = await stored();
    const foreign = await statements(auth, 'POST', generatedBatch(1, '7', 0, OTHER));
    expect(foreign.status).toBe(403);
    expect((await errorOf(foreign)).message).toMatch(/not the platform of these credentials/);
    expect(await stored()).toBe(before);
    expect((await statements(auth, 'POST', generatedBatch(1, '7', 0))).status).toBe(200);

    const writer = await client('Quiz app', ['statements/write', 'statements/read'], MOODLE);
    expect((await statements(writer, 'POST', generatedBatch(1, '8', 10))).status).toBe(200);
    // another platform's account: stored only, under the client's platform, crediting no one
    expect((await statements(writer, 'POST', generatedBatch(1, '8', 20, OTHER))).status).toBe(200);
    const read = await statements(writer, 'GET', undefined, `?agent=${encodeURIComponent(JSON.stringify({ account: { homePage: MOODLE, name: '8' } }))}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { statements: unknown[] }).statements).toHaveLength(1);
    const foreignRead = await statements(writer, 'GET', undefined, `?agent=${encodeURIComponent(JSON.stringify({ account: { homePage: OTHER, name: '8' } }))}`);
    expect(((await foreignRead.json()) as { statements: unknown[] }).statements).toHaveLength(1);
    expect(await stored()).toBe((before ?? 0) + 3);
    const users = await queryRows<{ n: number }>(db(), sql`SELECT count(*)::int AS n FROM xapi_statements WHERE user_id IS NULL AND platform_id IS NOT NULL`);
    expect(users[0]?.n).toBe(1);
  });

  it('refuses statements to clients whose scopes do not allow them, with a clear 403', async () => {
    const before = await stored();

    const readOnly = await client('Dashboard', ['all/read'], MOODLE);
    expect((await statements(readOnly, 'GET')).status).toBe(200);
    const write = await statements(readOnly, 'POST', generatedBatch(1, '9', 0));
    expect(write.status).toBe(403);
    expect((await errorOf(write)).message).toMatch(/statements\/write, all/);
    expect((await statements(readOnly, 'PUT', generatedBatch(1, '9', 0)[0], '?statementId=3f1a8b2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c')).status).toBe(403);

    const mine = await client('Own statements', ['statements/read/mine'], MOODLE);
    const own = await statements(mine, 'GET');
    expect(own.status).toBe(200);
    expect(((await own.json()) as { statements: unknown[] }).statements).toEqual([]);
    expect((await statements(mine, 'POST', generatedBatch(1, '9', 0))).status).toBe(403);
    expect(await stored()).toBe(before);
  });
});
