import { openStore } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey } from '../../src/xapi/keys';
import { startServe, waitForExit } from '../support/cli';
import { createTestDatabase, describeWithServer } from '../support/db';
import { type FakeLrs, startFakeLrs } from '../support/fake-lrs';
import { basic, generatedBatch, MOODLE } from '../xapi/support';

// Two real `socle serve` processes on one PostgreSQL database, as behind a load balancer: statements accepted by
// either are delivered to the LRS by whichever worker claims them, each exactly once.

describeWithServer('two Socle instances on one PostgreSQL', () => {
  jest.setTimeout(180_000);
  let lrs: FakeLrs;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    lrs = await startFakeLrs();
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await lrs.close();
    await database.destroy();
  });

  it('share the outbox without double delivery, and both stop cleanly', async () => {
    const store = await openStore(database.options);
    await ensurePlatform(store.db, MOODLE);
    const key = await createXapiKey(store.db, MOODLE);
    await store.close();
    const env = {
      DATABASE_URL: (database.options as { databaseUrl: string }).databaseUrl,
      LTI_KEY: 'k'.repeat(40),
      PORT: '0',
      LRS_ENDPOINT: lrs.endpoint,
      LRS_KEY: 'lrs',
      LRS_SECRET: 'lrs-secret',
    };
    const [a, b] = await Promise.all([startServe(env), startServe(env)]);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const target = i % 2 === 0 ? a : b;
        const res = await fetch(`${target.url}/xapi/statements`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
          body: JSON.stringify(generatedBatch(30, String(100 + i))),
        });
        expect(res.status).toBe(200);
        ids.push(...((await res.json()) as string[]));
      }
      for (let i = 0; i < 600 && lrs.stored.size < ids.length; i++) await new Promise((r) => setTimeout(r, 50));
      expect(lrs.stored.size).toBe(ids.length);
      expect(lrs.received.length).toBe(ids.length);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect(await waitForExit(a.child)).toBe(0);
      expect(await waitForExit(b.child)).toBe(0);
    }
  });
});
