import nock from 'nock';
import { sql } from 'drizzle-orm';
import { xapiStatements } from '../../src/db/schema';
import { createLogger } from '../../src/logger';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { SimulatedMoodle } from '../support/moodle';
import { basic, generatedBatch } from '../xapi/support';

const NAME = 'Héloïse Traçable';

describe.each(drivers)('logs of a launch and an ingest at trace level on %s', (driver) => {
  const lines: string[] = [];
  let server: TestServer;
  let moodle: SimulatedMoodle;
  beforeAll(async () => {
    server = await startTestServer(driver, {}, {}, createLogger('trace', { write: (line: string) => void lines.push(line) }));
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
  });
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  it('show neither the ltik, the id_token, the xAPI secret nor the learner, even when a query fails', async () => {
    // A launch, the page by its ltik in the query, a form post carrying it, an id_token refused.
    const launch = await moodle.launch(server, 'learner', { claims: { name: NAME, given_name: 'Héloïse', family_name: 'Traçable' } });
    expect(launch.landedOn).toBe('/lti/me');
    const ltik = String(launch.client.ltik);
    expect(ltik.split('.')).toHaveLength(3);
    expect((await fetch(`${server.url}/lti/me?ltik=${encodeURIComponent(ltik)}`, { headers: { Cookie: launch.client.cookieHeader() } })).status).toBe(200);
    const formPost = await launch.client.request('POST', '/lti/api/courses/2/roster/sync', { form: { ltik } });
    expect(formPost.status).toBe(403);
    const replay = await moodle.launch(server, 'learner', { rawToken: () => launch.idToken, stopAfterPost: true });
    expect(replay.res.status).toBe(401);
    const favicon = await fetch(`${server.url}/favicon.ico`);
    expect([favicon.status, favicon.headers.get('content-type')]).toEqual([200, 'image/png']);

    // An ingest with Basic auth, the learner's name in actor.name; then one the database refuses.
    const key = await createXapiKey(server.ctx.store.db, moodle.issuer);
    const auth = basic(key.key, key.secret);
    const post = (start: number) => {
      const batch = generatedBatch(3, '2', start, moodle.issuer).map((s) => ({ ...s, actor: { ...(s.actor as object), name: NAME } }));
      return fetch(`${server.url}/xapi/statements`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth },
        body: JSON.stringify(batch),
      });
    };
    expect((await post(0)).status).toBe(200);
    await server.ctx.store.db.execute(sql`ALTER TABLE ${xapiStatements} ADD CONSTRAINT refuse_new_rows CHECK (false) NOT VALID`);
    try {
      expect((await post(100)).status).toBeGreaterThanOrEqual(500);
    } finally {
      await server.ctx.store.db.execute(sql`ALTER TABLE ${xapiStatements} DROP CONSTRAINT refuse_new_rows`);
    }

    const logs = lines.join('');
    // What was logged: requests at every step, the refused launch, the failed query with its SQL and code.
    expect(logs).toContain('/lti/me?ltik=[redacted]');
    expect(logs).toContain('LTI request refused');
    expect(logs).toContain('"code":"23514"');
    expect(logs).toMatch(/"query":"WITH wu AS \(SELECT value AS sub FROM jsonb_array_elements_text\(\$1::jsonb\)\)/);
    expect(logs).toContain('"table":"xapi_statements"');
    expect(logs).toContain('/favicon.ico');
    // What was not.
    for (const secret of [ltik, ltik.split('.')[2] as string, launch.idToken, key.secret, auth.slice('Basic '.length), NAME, JSON.stringify(NAME).slice(1, -1)]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toContain('params:');
    expect(logs).not.toContain('Failing row');
  });
});
