import nock from 'nock';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import type { AppContext } from '../../src/context';
import { queryRows } from '../../src/db/store';
import {
  createOutboxWorker,
  enqueueStatements,
  outboxStatus,
  pseudonymousAccount,
  retryDead,
  type WorkerOptions,
  type XapiStatement,
} from '../../src/forwarding/outbox';
import { deterministicStatementId } from '../../src/domain/statement-ids';
import { testConfig, testContext } from '../support/app';
import { drivers, openTestStore, type TestStore, describeWithServer } from '../support/db';
import { type FakeLrs, startFakeLrs } from '../support/fake-lrs';
import { generatedBatch, MOODLE } from '../xapi/support';

jest.setTimeout(90_000);

const NOCK_LRS = 'http://lrs.nock.test';
const fast: WorkerOptions = { baseDelayMs: 1, maxDelayMs: 5, pollMs: 5 };

function statements(n: number, sub: string, start: number): XapiStatement[] {
  return generatedBatch(n, sub, start).map((s) => ({ ...s, id: deterministicStatementId(s) }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(drivers)('xAPI outbox on %s', (driver) => {
  let t: TestStore;
  const ctx = (endpoint: string, extra: Partial<AppContext['config']> = {}): AppContext =>
    testContext(t.store, {}, testConfig({ lrs: { endpoint, key: 'k', secret: 's' }, ...extra }));
  /** Runs the worker until nothing is pending (or `ms` elapse). */
  async function drain(worker: { runOnce(): Promise<number> }, ms = 30_000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const n = await worker.runOnce();
      if (n === 0) {
        if ((await outboxStatus(t.store.db)).pending === 0) return;
        await sleep(5);
      }
    }
    throw new Error(`outbox not drained: ${JSON.stringify(await queryRows(t.store.db, sql`SELECT status, attempts, last_error, next_attempt_at FROM xapi_outbox LIMIT 3`))}`);
  }

  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(() => t.destroy());
  beforeEach(async () => {
    await t.store.db.execute(sql`TRUNCATE xapi_outbox`);
  });
  afterEach(() => {
    nock.cleanAll();
  });

  it('retries with backoff while the LRS is down, then delivers every statement exactly once', async () => {
    const batch = statements(30, '4', 0);
    await enqueueStatements(t.store.db, batch);
    await enqueueStatements(t.store.db, batch); // queued once per id
    const delivered: string[] = [];
    const scope = nock(NOCK_LRS)
      .post('/xapi/statements')
      .reply(503, 'down')
      .post('/xapi/statements')
      .reply(502, 'bad gateway')
      .post('/xapi/statements')
      .reply(429, 'slow down')
      .post('/xapi/statements')
      .times(10)
      .reply(200, (_uri, body) => {
        const ids = (body as XapiStatement[]).map((s) => s.id);
        delivered.push(...ids);
        return ids;
      });
    const worker = createOutboxWorker(ctx(`${NOCK_LRS}/xapi/`), { ...fast, batchSize: 50 });
    await drain(worker);
    expect(delivered.sort()).toEqual(batch.map((s) => s.id).sort());
    const [row] = await queryRows<{ attempts: number }>(t.store.db, sql`SELECT max(attempts)::int AS attempts FROM xapi_outbox`);
    expect(row?.attempts).toBe(4);
    expect(await outboxStatus(t.store.db)).toMatchObject({ pending: 0, delivered: 30, dead: 0 });
    expect(scope.pendingMocks()).toHaveLength(1); // the remaining `times(10)` interceptor
  });

  it('keeps statements pending, with the error, while the LRS cannot be reached at all', async () => {
    const batch = statements(3, '4', 900);
    await enqueueStatements(t.store.db, batch);
    const worker = createOutboxWorker(ctx('http://127.0.0.1:9/xapi/'), { ...fast, batchSize: 50 });
    expect(await worker.runOnce()).toBeGreaterThan(0);
    const rows = await queryRows<{ status: string; attempts: number; last_error: string | null }>(
      t.store.db,
      sql`SELECT status, attempts, last_error FROM xapi_outbox WHERE statement_id::text IN (${sql.join(batch.map((b) => sql`${b.id}`), sql`, `)})`,
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r).toMatchObject({ status: 'pending', attempts: 1 });
      expect(r.last_error).toMatch(/ECONNREFUSED|connect/i);
    }
    await t.store.db.execute(sql`DELETE FROM xapi_outbox WHERE statement_id::text IN (${sql.join(batch.map((b) => sql`${b.id}`), sql`, `)})`);
  });

  it('dead-letters the statement the LRS refuses (4xx) and delivers the others', async () => {
    const batch = statements(6, '4', 100);
    const poison = batch[3] as XapiStatement;
    await enqueueStatements(t.store.db, batch);
    const delivered: string[] = [];
    nock(NOCK_LRS)
      .post('/xapi/statements')
      .times(20)
      .reply((_uri, body) => {
        const list = body as XapiStatement[];
        if (list.some((s) => s.id === poison.id)) return [400, { message: 'statement rejected by policy' }];
        delivered.push(...list.map((s) => s.id));
        return [200, list.map((s) => s.id)];
      });
    await drain(createOutboxWorker(ctx(`${NOCK_LRS}/xapi`), fast));
    expect(delivered.sort()).toEqual(batch.filter((s) => s !== poison).map((s) => s.id).sort());
    const dead = await queryRows<{ statement_id: string; last_error: string }>(
      t.store.db,
      sql`SELECT statement_id::text, last_error FROM xapi_outbox WHERE status = 'dead'`,
    );
    expect(dead).toEqual([{ statement_id: poison.id, last_error: expect.stringContaining('HTTP 400') }]);
    expect(await retryDead(t.store.db)).toBe(1);
    expect(await outboxStatus(t.store.db)).toMatchObject({ pending: 1, dead: 0 });
  });

  describe('with a loopback LRS', () => {
    let lrs: FakeLrs;
    beforeEach(async () => {
      lrs = await startFakeLrs();
    });
    afterEach(() => lrs.close());

    it('redelivers under the same ids when a reply is lost (sender gone before acknowledging): no duplicate in the LRS', async () => {
      const batch = statements(9, '4', 200);
      await enqueueStatements(t.store.db, batch);
      lrs.beforeReply = () => false; // the LRS stores the statements, but the answer never comes back
      const lost = createOutboxWorker(ctx(lrs.endpoint), { ...fast, leaseMs: 300, requestTimeoutMs: 5_000 });
      // The first worker sends and never gets its answer: it stands for a process killed before acknowledging.
      const abandoned = lost.runOnce().catch(() => undefined);
      for (let i = 0; i < 200 && lrs.received.length < 9; i++) await sleep(10);
      expect(lrs.received).toHaveLength(9);
      lrs.beforeReply = undefined;
      const second = createOutboxWorker(ctx(lrs.endpoint), { ...fast, leaseMs: 300 });
      expect(await second.runOnce()).toBe(0); // leased rows are not taken before the lease ends
      await sleep(350);
      await drain(second);
      expect(lrs.received.sort()).toEqual([...batch, ...batch].map((s) => s.id).sort());
      expect(lrs.stored.size).toBe(9);
      expect(await outboxStatus(t.store.db)).toMatchObject({ pending: 0, delivered: 9 });
      // When the lost request finally fails, the late worker does not bring the delivered rows back.
      await lrs.close();
      await abandoned;
      expect(await outboxStatus(t.store.db)).toMatchObject({ pending: 0, delivered: 9 });
    });

    it('never sends a row twice when several workers run at once (SKIP LOCKED + lease)', async () => {
      const batch = [...statements(30, '5', 300), ...statements(30, '6', 300), ...statements(30, '7', 300)];
      await enqueueStatements(t.store.db, batch);
      const workers = [1, 2, 3].map(() => createOutboxWorker(ctx(lrs.endpoint), { ...fast, batchSize: 7 }));
      await Promise.all(workers.map((w) => drain(w)));
      expect(lrs.received).toHaveLength(90);
      expect(new Set(lrs.received).size).toBe(90);
    });

    it('pseudonymises actors for the LRS when XAPI_PSEUDONYM_KEY is set (stable HMAC of issuer + sub)', async () => {
      const key = 'a-pseudonym-key-of-at-least-32-characters!';
      await enqueueStatements(t.store.db, statements(3, '4', 400));
      await drain(createOutboxWorker(ctx(lrs.endpoint, { xapiPseudonymKey: key }), fast));
      const actors = [...lrs.stored.values()].map((s) => s.actor as { account: { homePage: string; name: string }; name?: string });
      const expected = pseudonymousAccount(key, MOODLE, '4');
      expect(expected.name).not.toBe('4');
      expect(pseudonymousAccount(key, `${MOODLE}/`, '4')).toEqual(expected);
      expect(pseudonymousAccount(`${key}x`, MOODLE, '4')).not.toEqual(expected);
      for (const actor of actors) {
        expect(actor.account).toEqual(expected);
        expect(actor.name).toBeUndefined();
      }
    });
  });
});


describeWithServer('xAPI outbox when PostgreSQL is lost between a send and its record', () => {
  it('records the delivery when the database answers again, without sending the batch again', async () => {
    const t = await openTestStore('postgres');
    const name = new URL((t.options as { databaseUrl: string }).databaseUrl).pathname.slice(1);
    const admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    const lrs = await startFakeLrs();
    const allow = (yes: boolean) => admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS ${yes}`);
    try {
      const batch = statements(20, '7', 0);
      await enqueueStatements(t.store.db, batch);
      // the LRS stores the batch; before it answers, the database goes away (no connection taken, the pool's closed)
      lrs.beforeReply = async () => {
        await allow(false);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        return true;
      };
      const worker = createOutboxWorker(testContext(t.store, {}, testConfig({ lrs: { endpoint: lrs.endpoint, key: 'k', secret: 's' } })), fast);
      await expect(worker.runOnce()).rejects.toThrow();
      lrs.beforeReply = undefined;
      await allow(true);
      // the next tick records what the LRS accepted first: nothing is pending, nothing was sent twice
      expect(await worker.runOnce()).toBe(0);
      expect(await outboxStatus(t.store.db)).toMatchObject({ pending: 0, delivered: 20 });
      expect(lrs.received.sort()).toEqual(batch.map((s) => s.id).sort());
    } finally {
      await allow(true);
      await admin.end();
      await lrs.close();
      await t.destroy();
    }
  });
});
