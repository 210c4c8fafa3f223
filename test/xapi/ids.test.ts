/**
 * The ids Socle derives for Moodle's statements (sent without one): time-ordered in a new store, and in a store
 * that held statements when it was migrated, the version-5 ids of the statements stored before (and during the day
 * after) stay theirs when Moodle sends them again (the migration's own rule, run here on such a store).
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrationsFolder, queryRows } from '../../src/db/store';
import { statementContent, uuidV5 } from '../../src/domain/statement-ids';
import { ensurePlatform } from '../../src/identity/records';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { StatementIdScheme } from '../../src/xapi/ids';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { generatedBatch, MOODLE, platformKeyAuth, type Statement } from './support';

jest.setTimeout(60_000);

const V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timeOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

/** The statement of migration 0009 that sets when the store begins (after its CREATE TABLE). */
function migrationRule(): string {
  const text = fs.readFileSync(path.join(migrationsFolder, '0009_statement_id_scheme.sql'), 'utf8');
  const rule = text.split('--> statement-breakpoint').find((s) => /INSERT INTO "statement_id_scheme"/.test(s));
  if (!rule) throw new Error('migration 0009 has no INSERT INTO statement_id_scheme');
  return rule;
}

describe.each(drivers)('derived statement ids on %s', (driver) => {
  let server: TestServer;
  let auth: string;
  const post = (body: unknown) =>
    fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth },
      body: JSON.stringify(body),
    });
  const stored = async () => (await queryRows<{ n: number }>(server.ctx.store.db, sql`SELECT count(*)::int AS n FROM xapi_statements`))[0]?.n;

  beforeEach(async () => {
    server = await startTestServer(driver);
    auth = await platformKeyAuth(server.ctx.store.db);
  });
  afterEach(() => server.destroy());

  test('a new store gives time-ordered ids from the start: each begins with its statement instant, and a resent batch is recognised', async () => {
    expect(await new StatementIdScheme().timeOrderedSince(server.ctx.store.db)).toBe(0);
    const batch = generatedBatch(9, 's1');
    const res = await post(batch);
    expect(res.status).toBe(200);
    const ids = (await res.json()) as string[];
    expect(ids.every((id) => V8.test(id))).toBe(true);
    expect(ids.map(timeOf)).toEqual(batch.map((s) => Date.parse(s.timestamp as string)));
    const again = await post(batch);
    expect(await again.json()).toEqual(ids);
    expect(await stored()).toBe(9);
  });

  test('a store migrated with statements keeps their version-5 ids when Moodle sends them again; later statements get time-ordered ones', async () => {
    const platform = await ensurePlatform(server.ctx.store.db, MOODLE);
    const old = generatedBatch(6, 's2');
    const authority = { objectType: 'Agent', account: { homePage: MOODLE, name: 'before' } };
    // stored as the previous version did (every derived id a version-5 one)
    const before = await storeStatements(server.ctx.store.db, platform, prepareStatements(JSON.parse(JSON.stringify(old)), platform, authority, new Date(), undefined, '1.0.3', Infinity));
    expect(before.ids).toEqual(old.map((s) => uuidV5(statementContent(s))));
    await server.ctx.store.db.execute(sql`DELETE FROM statement_id_scheme`);
    const migratedAt = Date.now();
    await server.ctx.store.db.execute(sql.raw(migrationRule()));
    const since = await new StatementIdScheme().timeOrderedSince(server.ctx.store.db);
    // a day after the migration: the processes of the previous version agree with the new ones meanwhile
    expect(since).toBeGreaterThanOrEqual(migratedAt + 86_400_000 - 1_000);
    expect(since).toBeLessThan(Date.now() + 86_400_000 + 1_000);

    const res = await post(old);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(before.ids);
    expect(await stored()).toBe(6);

    const later = { ...(generatedBatch(1, 's2')[0] as Statement), timestamp: new Date(since + 60_000).toISOString() };
    const [id] = (await (await post([later])).json()) as string[];
    expect(id).toMatch(V8);
    expect(timeOf(id as string)).toBe(since + 60_000);
    expect(await stored()).toBe(7);
  });
});
