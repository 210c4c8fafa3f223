import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { type FakeLrs, startFakeLrs } from '../support/fake-lrs';
import { basic, MOODLE, moodleBatch } from '../xapi/support';

jest.setTimeout(90_000);

describe.each(drivers)('socle serve forwards accepted statements to LRS_ENDPOINT on %s', (driver) => {
  let lrs: FakeLrs;
  let server: TestServer;
  beforeAll(async () => {
    lrs = await startFakeLrs();
    server = await startTestServer(driver, { lrs: { endpoint: lrs.endpoint, key: 'lrs-key', secret: 'lrs-secret' } });
  });
  afterAll(async () => {
    await server.destroy();
    await lrs.close();
  });

  it('delivers a Moodle batch under the ids it answered, once, and stops cleanly', async () => {
    await ensurePlatform(server.ctx.store.db, MOODLE);
    const key = await createXapiKey(server.ctx.store.db, MOODLE);
    const post = () =>
      fetch(`${server.url}/xapi/statements`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
        body: JSON.stringify(moodleBatch('21')),
      });
    const ids = (await (await post()).json()) as string[];
    await post(); // Moodle resending the same batch
    for (let i = 0; i < 500 && lrs.stored.size < ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect([...lrs.stored.keys()].sort()).toEqual([...ids].sort());
    expect(lrs.received).toHaveLength(ids.length);
    const forwarded = lrs.stored.get(ids[0] as string) as { actor: { account: unknown }; stored?: string };
    expect(forwarded.actor.account).toEqual({ homePage: MOODLE, name: '4' });
  });
});
