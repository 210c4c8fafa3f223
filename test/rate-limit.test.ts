import { sql } from 'drizzle-orm';
import { type Config, DEFAULT_RATE_LIMITS } from '../src/config';
import { startServer } from '../src/app/server';
import { queryRows } from '../src/db/store';
import { createApiToken } from '../src/identity/api-tokens';
import { ensurePlatform } from '../src/identity/records';
import { createLogger } from '../src/logger';
import { hitRateLimit, leaseSize, purgeRateLimits, RateBudgets } from '../src/rate-limit';
import { createXapiKey } from '../src/xapi/keys';
import { startTestServer, testConfig, type TestServer } from './support/app';
import { createTestDatabase, drivers, openTestStore, describeWithServer } from './support/db';
import { basic, generatedBatch, MOODLE } from './xapi/support';

/** An hour-long window, so a burst is counted in one window: wait if the current one ends within 10 s. */
const WINDOW = 3600;
async function awayFromWindowEnd(): Promise<void> {
  const left = WINDOW - ((Date.now() / 1000) % WINDOW);
  if (left < 10) await new Promise((r) => setTimeout(r, (left + 1) * 1000));
}

const xapiPost = (url: string, key: { key: string; secret: string }, sub: string) =>
  fetch(`${url}/xapi/statements`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
    body: JSON.stringify(generatedBatch(2, sub)),
  });

describe.each(drivers)('the rate-limit counter on %s', (driver) => {
  it('counts the requests of a key in the window, resets in the next one, and purges old windows', async () => {
    const { store, destroy } = await openTestStore(driver);
    try {
      // one-second windows: start just after a second begins, so four hits fall in one window
      await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 20));
      const hits = [];
      for (let i = 0; i < 4; i++) hits.push(await hitRateLimit(store.db, 'xapi:k1', 1));
      expect(hits.map((h) => h.hits)).toEqual([1, 2, 3, 4]);
      expect(hits.every((h) => h.resetSeconds === 1)).toBe(true);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await hitRateLimit(store.db, 'xapi:k1', 1)).hits).toBe(1);
      // an hour-long window says how long until it ends
      const long = await hitRateLimit(store.db, 'xapi:hour', 3600);
      expect(long.hits).toBe(1);
      expect(long.resetSeconds).toBeGreaterThan(0);
      expect(long.resetSeconds).toBeLessThanOrEqual(3600);
      expect(long.endsInMs).toBeGreaterThan((long.resetSeconds - 1) * 1000);
      expect(long.endsInMs).toBeLessThanOrEqual(long.resetSeconds * 1000);
      await new Promise((r) => setTimeout(r, 2_100));
      await hitRateLimit(store.db, 'xapi:k2', 1);
      // k1's window ended more than two windows ago (and the hour's began long before): gone; k2's is current
      expect(await purgeRateLimits(store.db, 1)).toBe(2);
      const keys = await queryRows<{ key: string }>(store.db, sql`SELECT key FROM rate_limits ORDER BY key`);
      expect(keys.map((k) => k.key)).toEqual(['xapi:k2']);
    } finally {
      await destroy();
    }
  });
});

describe.each(drivers)('the budgets a process reserves of a rate limit on %s', (driver) => {
  const counted = async (db: Parameters<typeof hitRateLimit>[0], key: string) =>
    (await queryRows<{ hits: number }>(db, sql`SELECT hits FROM rate_limits WHERE key = ${key}`))[0]?.hits ?? 0;

  it('reserves 1 % of the limit at once (1 to 100): one round trip for that many requests', async () => {
    expect([1, 99, 100, 250, 3000, 10_000, 1e9].map(leaseSize)).toEqual([1, 1, 1, 2, 30, 100, 100]);
    const { store, destroy } = await openTestStore(driver);
    try {
      await awayFromWindowEnd();
      const budgets = new RateBudgets();
      const verdicts = [];
      for (let i = 0; i < 10; i++) {
        verdicts.push(await budgets.take(store.db, 'xapi:lease', 300, WINDOW));
        // the database counts what was reserved: 3, 6, 9, 12
        expect(await counted(store.db, 'xapi:lease')).toBe(3 * Math.ceil((i + 1) / 3));
      }
      expect(verdicts).toEqual(Array(10).fill(undefined));
      // concurrent requests of one client wait for one reservation: 20 at once, 2 reservations of 10
      const many = new RateBudgets();
      expect(await Promise.all(Array.from({ length: 20 }, () => many.take(store.db, 'xapi:burst', 1000, WINDOW)))).toEqual(Array(20).fill(undefined));
      expect(await counted(store.db, 'xapi:burst')).toBe(20);
    } finally {
      await destroy();
    }
  });

  it('never admits more than the limit across processes, and leaves at most a lease unused in each', async () => {
    const { store, destroy } = await openTestStore(driver);
    try {
      await awayFromWindowEnd();
      // three processes' budgets of one key, limit 250 (leases of 2), requests spread over them
      const processes = [new RateBudgets(), new RateBudgets(), new RateBudgets()];
      let admitted = 0;
      const refusals: number[] = [];
      for (let i = 0; i < 400; i++) {
        const verdict = await (processes[i % 3] as RateBudgets).take(store.db, 'xapi:shared', 250, WINDOW);
        if (verdict === undefined) admitted++;
        else refusals.push(verdict);
      }
      expect(admitted).toBeLessThanOrEqual(250);
      expect(admitted).toBeGreaterThanOrEqual(250 - 3 * (leaseSize(250) - 1));
      expect(refusals.every((seconds) => seconds >= 1 && seconds <= WINDOW)).toBe(true);
      // a refusal once the budget is spent is answered from memory: the count stops at what was reserved
      const reserved = await counted(store.db, 'xapi:shared');
      await processes[0]?.take(store.db, 'xapi:shared', 250, WINDOW);
      expect(await counted(store.db, 'xapi:shared')).toBe(reserved);
    } finally {
      await destroy();
    }
  });

  it('starts again in the next window: what was reserved and unused in the last one is not carried over', async () => {
    const { store, destroy } = await openTestStore(driver);
    try {
      await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 20));
      const budgets = new RateBudgets();
      // limit 300 a second (leases of 3): two requests of the first window's lease used
      expect(await budgets.take(store.db, 'xapi:next', 300, 1)).toBeUndefined();
      expect(await budgets.take(store.db, 'xapi:next', 300, 1)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1_100));
      expect(await budgets.take(store.db, 'xapi:next', 300, 1)).toBeUndefined();
      // a new lease of the new window: 3 counted, not 3 + 3
      expect(await counted(store.db, 'xapi:next')).toBe(3);
    } finally {
      await destroy();
    }
  });
});

describe.each(drivers)('rate limits of one server on %s', (driver) => {
  let server: TestServer;
  const limits = { windowSeconds: WINDOW, xapi: 5, api: 3, login: 4, public: 4 };
  beforeAll(async () => {
    server = await startTestServer(driver, { rateLimits: limits });
  });
  afterAll(() => server?.destroy());

  it('answers a burst of one xAPI key 429 with Retry-After past its limit, in the JSON error shape; another key is not affected', async () => {
    await ensurePlatform(server.ctx.store.db, MOODLE);
    const key = await createXapiKey(server.ctx.store.db, MOODLE);
    const other = await createXapiKey(server.ctx.store.db, MOODLE);
    await awayFromWindowEnd();
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await xapiPost(server.url, key, `burst-${i}`);
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
      else await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    if (!refused) throw new Error('no 429');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    expect(await refused.json()).toEqual({
      error: { status: 429, code: 'rate_limited', message: expect.stringMatching(/at most 5 per 3600 s/), requestId: expect.any(String) },
    });
    // the refused batches stored nothing
    const [stored] = await queryRows<{ n: number }>(server.ctx.store.db, sql`SELECT count(*)::int AS n FROM xapi_statements`);
    expect(stored?.n).toBe(10);
    expect((await xapiPost(server.url, other, 'other')).status).toBe(200);
    // wrong secrets are not counted against the key
    const wrong = await xapiPost(server.url, { key: other.key, secret: 'wrong' }, 'x');
    expect(wrong.status).toBe(401);
  });

  it('counts per API token on /api/v1', async () => {
    const a = await createApiToken(server.ctx.store.db, { name: 'warehouse-a', role: 'admin', platformId: null });
    const b = await createApiToken(server.ctx.store.db, { name: 'warehouse-b', role: 'admin', platformId: null });
    await awayFromWindowEnd();
    const get = (token: string) => fetch(`${server.url}/api/v1/credentials`, { headers: { Authorization: `Bearer ${token}` } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(a.token)).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
    expect((await get(b.token)).status).toBe(400);
    const report = await fetch(`${server.url}/api/v1/indicators?platform=${encodeURIComponent(MOODLE)}`, { headers: { Authorization: `Bearer ${a.token}` } });
    expect(report.status).toBe(429);
    expect(report.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('counts per address on /lti/login and on the public verification pages, separately', async () => {
    await awayFromWindowEnd();
    const login = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/lti/login`, { method: 'POST', redirect: 'manual' });
      login.push(res.status);
    }
    expect(login.slice(0, 4)).not.toContain(429);
    expect(login[4]).toBe(429);
    const pages = [];
    for (const path of ['/badges/nope', '/attestations/nope', '/achievements/x/y', '/badges/issuer', '/badges/jwks.json']) {
      pages.push((await fetch(`${server.url}${path}`, { headers: { Accept: 'application/json' } })).status);
    }
    expect(pages).toEqual([404, 404, 404, 200, 429]);
  });
});

// Two servers on one PostgreSQL database, as two processes behind a load balancer: one client's budget is shared.
describeWithServer('rate limits shared by two servers on one PostgreSQL', () => {
  it('refuses the burst of one xAPI key once the two servers together reach its limit', async () => {
    const database = await createTestDatabase('postgres');
    const config: Config = testConfig({
      databaseUrl: (database.options as { databaseUrl: string }).databaseUrl,
      rateLimits: { ...DEFAULT_RATE_LIMITS, windowSeconds: WINDOW, xapi: 6 },
    });
    const [a, b] = await Promise.all([startServer(config, { logger: createLogger('silent') }), startServer(config, { logger: createLogger('silent') })]);
    try {
      await ensurePlatform(a.ctx.store.db, MOODLE);
      const key = await createXapiKey(a.ctx.store.db, MOODLE);
      await awayFromWindowEnd();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await xapiPost(i % 2 === 0 ? a.url : b.url, key, `shared-${i}`);
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429, 429]);
    } finally {
      await Promise.all([a.close(1_000), b.close(1_000)]);
      await database.destroy();
    }
  }, 60_000);
});
