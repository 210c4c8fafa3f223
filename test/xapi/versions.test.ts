import { randomUUID } from 'node:crypto';
import { createXapiClient } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, type Statement } from './support';

jest.setTimeout(120_000);

/** What xAPI 2.0.0 changes on the Statements resource, beside 1.0.3 on the same server. */
describe.each(drivers)('xAPI 1.0.3 and 2.0.0 side by side on %s', (driver) => {
  let server: TestServer;
  let auth: string;
  const statement = (extra: Statement = {}): Statement => ({
    id: randomUUID(),
    actor: { mbox: 'mailto:ines@example.org' },
    verb: { id: 'http://adlnet.gov/expapi/verbs/experienced' },
    object: { id: 'http://example.org/activity/versions' },
    ...extra,
  });
  const post = (body: unknown, version: string | undefined, as = auth) =>
    fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { Authorization: as, 'Content-Type': 'application/json', ...(version ? { 'X-Experience-API-Version': version } : {}) },
      body: JSON.stringify(body),
    });
  const contextAgents = [{ objectType: 'contextAgent', agent: { mbox: 'mailto:coach@example.org' }, relevantTypes: ['http://example.org/types/coach'] }];
  const contextGroups = [{ objectType: 'contextGroup', group: { objectType: 'Group', member: [{ mbox: 'mailto:a@example.org' }] } }];

  beforeAll(async () => {
    server = await startTestServer(driver);
    const client = await createXapiClient(server.ctx.store.db, { name: 'Versions', scopes: ['all'] });
    auth = basic(client.key, client.secret);
  });
  afterAll(() => server.destroy());

  it('takes contextAgents, contextGroups and version 2.0.0 in 2.0.0 only, and keeps the version', async () => {
    const sub = { objectType: 'SubStatement', actor: { mbox: 'mailto:jules@example.org' }, verb: { id: 'http://adlnet.gov/expapi/verbs/attended' }, object: { id: 'http://example.org/a' }, context: { contextAgents } };
    const s = statement({ version: '2.0.0', context: { contextAgents, contextGroups }, object: sub });
    expect((await post(s, '2.0.0')).status).toBe(200);
    const got = await fetch(`${server.url}/xapi/statements?statementId=${s.id as string}`, { headers: { Authorization: auth, 'X-Experience-API-Version': '2.0.0' } });
    expect(await got.json()).toMatchObject({ version: '2.0.0', context: { contextAgents, contextGroups } });
    expect((await post(statement({ context: { contextAgents } }), '1.0.3')).status).toBe(400);
    for (const wrong of [
      { contextAgents: [{ ...contextAgents[0], relevantTypes: [] }] },
      { contextAgents: [{ ...contextAgents[0], objectType: 'Agent' }] },
      { contextAgents: [{ objectType: 'contextAgent', agent: { name: 'no identifier' } }] },
      { contextGroups: [{ objectType: 'contextGroup', group: { mbox: 'mailto:not-a-group@example.org' } }] },
    ]) {
      expect([wrong, (await post(statement({ context: wrong }), '2.0.0')).status]).toEqual([wrong, 400]);
    }
  });

  it('refuses an id given twice in a 2.0.0 batch, keeps it once in 1.0.3', async () => {
    const s = statement();
    expect((await post([s, s], '2.0.0')).status).toBe(400);
    expect((await post([s, s], '1.0.3')).status).toBe(200);
  });

  it('answers a request without a version header in the version its key last spoke, else 2.0.0', async () => {
    const versionOf = async (as: string) => {
      const res = await post(statement(), undefined, as);
      expect(res.status).toBe(400);
      return res.headers.get('x-experience-api-version');
    };
    expect((await post(statement(), '1.0.3')).status).toBe(200);
    expect(await versionOf(auth)).toBe('1.0.3');
    expect((await post(statement(), '2.0.0')).status).toBe(200);
    expect(await versionOf(auth)).toBe('2.0.0');
    expect(await versionOf(basic('socle_000000000000000000000000', 'unknown'))).toBe('2.0.0');
  });

  it('refuses the alternate request syntax when its form says 2.0.0', async () => {
    const form = (version: string) =>
      fetch(`${server.url}/xapi/statements?method=PUT`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ statementId: randomUUID(), content: JSON.stringify({ ...statement(), id: undefined }), Authorization: auth, 'X-Experience-API-Version': version, 'Content-Type': 'application/json' }),
      });
    expect((await form('2.0.0')).status).toBe(400);
    expect((await form('1.0.3')).status).toBe(204);
  });
});
