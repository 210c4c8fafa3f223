import { eq, sql } from 'drizzle-orm';
import { auditEvents, completionEvents, users, xapiStatements } from '../../src/db/schema';
import { openStore, queryRows } from '../../src/db/store';
import { ensurePlatform, ensureUser, findPlatform, findUser } from '../../src/identity/records';
import { eraseLearner, exportLearner, personalTables, purgeOlderThan } from '../../src/privacy/service';
import { createXapiKey } from '../../src/xapi/keys';
import { outboxStatus } from '../../src/forwarding/outbox';
import { startTestServer, type TestServer } from '../support/app';
import { runCliInProcess } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';
import { type FakeLrs, startFakeLrs } from '../support/fake-lrs';
import { basic, generatedBatch, MOODLE, moodleBatch } from '../xapi/support';

jest.setTimeout(90_000);

describe.each(drivers)('privacy: export and erasure of a learner on %s', (driver) => {
  let lrs: FakeLrs;
  let server: TestServer;
  beforeAll(async () => {
    lrs = await startFakeLrs();
    server = await startTestServer(driver, { lrs: { endpoint: lrs.endpoint, key: 'k', secret: 's' } });
    await ensurePlatform(server.ctx.store.db, MOODLE);
    const key = await createXapiKey(server.ctx.store.db, MOODLE);
    const post = async (body: unknown) => {
      const res = await fetch(`${server.url}/xapi/statements`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: basic(key.key, key.secret) },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
    };
    await post(moodleBatch('10')); // student1 (sub 4): manual completion of the book
    await post(generatedBatch(30, '5')); // another learner
    // Delivered = recorded as delivered in the outbox (the LRS may have the statements a moment before).
    for (let i = 0; i < 1000 && (await outboxStatus(server.ctx.store.db)).pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
  });
  afterAll(async () => {
    await server.destroy();
    await lrs.close();
  });

  it('finds every table that holds rows about a user', () => {
    const names = personalTables().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['completion_events', 'course_members', 'xapi_statements']));
    expect(names).not.toContain('users');
  });

  it('exports everything held on the learner and nothing of another', async () => {
    const data = await exportLearner(server.ctx.store.db, `${MOODLE}/`, '4');
    expect(data.user).toMatchObject({ sub: '4' });
    expect(data.tables.xapi_statements?.length).toBeGreaterThan(0);
    expect(data.tables.completion_events?.length).toBeGreaterThan(0);
    expect(data.outbox.length).toBe(data.tables.xapi_statements?.length);
    expect(JSON.stringify(data)).not.toContain('"name":"5"');
  });

  it('refuses an unknown platform or user with a clear error and changes nothing', async () => {
    await expect(exportLearner(server.ctx.store.db, 'https://nowhere.example', '4')).rejects.toThrow('no platform https://nowhere.example');
    await expect(eraseLearner(server.ctx.store.db, MOODLE, '999', { actor: 'cli' })).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('no user 999') });
  });

  it('erases the learner, voids their delivered statements in the LRS and keeps the other learner', async () => {
    const db = server.ctx.store.db;
    const platform = await findPlatform(db, MOODLE);
    const user = await findUser(db, platform?.id ?? 0, '4');
    const delivered = await db.select({ id: xapiStatements.id }).from(xapiStatements).where(eq(xapiStatements.userId, user?.id ?? 0));
    expect(delivered.length).toBeGreaterThan(0);
    await db.insert(auditEvents).values({ actor: `lti:${MOODLE}#4`, action: 'mapping.save', subject: 'course:1' });

    const report = await eraseLearner(db, MOODLE, '4', { actor: 'cli' });
    expect(report.voidingStatementsQueued).toBe(delivered.length);
    expect(report.tables.xapi_statements).toBe(delivered.length);

    for (const { name } of personalTables()) {
      const [row] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${sql.identifier(name)} WHERE user_id = ${user?.id ?? 0}`);
      expect({ name, n: row?.n }).toEqual({ name, n: 0 });
    }
    expect(await db.select().from(users).where(eq(users.sub, '4'))).toEqual([]);
    expect(await db.select().from(auditEvents).where(eq(auditEvents.actor, `lti:${MOODLE}#4`))).toEqual([]);
    expect((await db.select().from(auditEvents).where(eq(auditEvents.action, 'privacy.erase'))).length).toBe(1);
    const other = await findUser(db, platform?.id ?? 0, '5');
    expect(other).toBeDefined();
    expect((await db.select().from(completionEvents).where(eq(completionEvents.userId, other?.id ?? 0))).length).toBeGreaterThan(0);

    // The worker delivers the voiding statements: the LRS now has each delivered statement voided.
    const voided = () =>
      [...lrs.stored.values()].filter((s) => (s as { verb: { id: string } }).verb.id === 'http://adlnet.gov/expapi/verbs/voided');
    for (let i = 0; i < 1000 && voided().length < delivered.length; i++) await new Promise((r) => setTimeout(r, 10));
    const targets = voided().map((s) => (s as { object: { id: string } }).object.id).sort();
    expect(targets).toEqual(delivered.map((d) => d.id).sort());
  });

  it('purges facts older than the retention period', async () => {
    const future = new Date(Date.now() + 1000 * 86_400_000);
    const result = await purgeOlderThan(server.ctx.store.db, future);
    expect(result.statements).toBeGreaterThan(0);
    expect(result.completionEvents).toBeGreaterThanOrEqual(0);
    expect(await server.ctx.store.db.select().from(xapiStatements)).toEqual([]);
  });
});

describe('socle privacy commands', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    env = { DATA_DIR: (database.options as { dataDir: string }).dataDir };
    const store = await openStore(database.options);
    const platform = await ensurePlatform(store.db, MOODLE);
    await ensureUser(store.db, platform.id, '4', { name: 'Student One' });
    await store.close();
  });
  afterAll(() => database.destroy());

  it('exports, refuses to erase without --yes, erases with it', async () => {
    const exported = await runCliInProcess(['privacy', 'export', '--platform', MOODLE, '--user', '4'], env);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout).user).toMatchObject({ sub: '4', name: 'Student One' });
    const unconfirmed = await runCliInProcess(['privacy', 'erase', '--platform', MOODLE, '--user', '4'], env);
    expect(unconfirmed).toMatchObject({ code: 1, stderr: 'socle: erasure cannot be undone: add --yes to confirm\n' });
    const erased = await runCliInProcess(['privacy', 'erase', '--platform', MOODLE, '--user', '4', '--yes', '--json'], env);
    expect(erased.code).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ voidingStatementsQueued: 0 });
    const again = await runCliInProcess(['privacy', 'export', '--platform', MOODLE, '--user', '4'], env);
    expect(again).toMatchObject({ code: 1, stderr: `socle: no user 4 on ${MOODLE}\n` });
  });

  it('names a wrong retention period', async () => {
    const result = await runCliInProcess(['privacy', 'purge', '--older-than-years', 'ten'], env);
    expect(result).toMatchObject({ code: 1, stderr: 'socle: --older-than-years: expected a whole number from 1 to 50, got "ten"\n' });
  });
});
