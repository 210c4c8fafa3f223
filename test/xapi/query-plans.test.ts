/**
 * The resend and voiding paths at a size where an index matters: the exact SQL the ingestion runs, EXPLAINed on the
 * real PostgreSQL server over 200,000 stored statements (and 20,000 completion events), statistics up to date,
 * every planner method allowed: the statements are found through their unique index on `id`, never by a scan of
 * the table; a platform's learners (20,000 of them) and courses through their own unique indexes, by their keys.
 * The batch statement is a prepared one: its plan is checked as planned for the batch's values (the first runs on a
 * connection) and as the generic plan PostgreSQL keeps for it after that.
 */
import { fillPlaceholders, sql, type SQL } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import type { Platform } from '../../src/identity/records';
import { type BatchQuery, ingestQuery, prepareStatements, storeStatements, voidStatementsQuery } from '../../src/xapi/ingest';
import { openTestStore, type TestStore, describeWithServer } from '../support/db';
import { generatedBatch, MOODLE } from './support';


interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

const INDEX_SCANS = ['Index Scan', 'Index Only Scan', 'Bitmap Index Scan'];

describeWithServer('query plans of the ingestion on the real server', () => {
  jest.setTimeout(120_000);
  let t: TestStore;
  let platform: Platform;
  let platformId: number;
  /** 30 stored ids, as a resent batch carries them. */
  let stored: string[];
  /** A batch of 30 statements under those ids (their stored hashes made equal to these statements'). */
  let resent: ReturnType<typeof prepareStatements>;

  const plan = async (query: SQL) => {
    const [row] = await queryRows<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(t.store.db, sql`EXPLAIN (FORMAT JSON) ${query}`);
    return nodes((row?.['QUERY PLAN'][0] as { Plan: PlanNode }).Plan);
  };
  const literal = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`);
  /** The plans of a batch statement: for its values, and the generic one (PREPARE, then EXPLAIN EXECUTE under force_generic_plan). */
  const batchPlans = async (query: BatchQuery) => {
    const values = fillPlaceholders(query.statement.params, query.values);
    const custom = await plan(sql.raw(query.statement.text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1]))));
    const generic = await t.store.db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL plan_cache_mode = force_generic_plan`);
      await tx.execute(sql.raw(`PREPARE plan_check AS ${query.statement.text}`));
      const [row] = await queryRows<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(tx, sql.raw(`EXPLAIN (FORMAT JSON) EXECUTE plan_check(${values.map(literal).join(', ')})`));
      await tx.execute(sql`DEALLOCATE plan_check`);
      return nodes((row?.['QUERY PLAN'][0] as { Plan: PlanNode }).Plan);
    });
    return { custom, generic };
  };
  /** No node scans `table` whole, and one reads it through `index`. */
  const expectIndexed = (all: PlanNode[], table: string, index: string) => {
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table)).toEqual([]);
    const indexed = all.filter((n) => INDEX_SCANS.includes(n['Node Type']) && n['Index Name'] === index);
    expect(indexed.length).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    t = await openTestStore('postgres');
    platform = await ensurePlatform(t.store.db, MOODLE);
    platformId = platform.id;
    await t.store.db.execute(sql`INSERT INTO users (platform_id, sub) SELECT ${platformId}, 'u' || g FROM generate_series(1, 1000) g`);
    // a platform's other learners: a university's, whose statements are not in this batch
    await t.store.db.execute(sql`INSERT INTO users (platform_id, sub) SELECT ${platformId}, 'v' || g FROM generate_series(1, 20000) g`);
    await t.store.db.execute(sql`INSERT INTO courses (platform_id, context_id) SELECT ${platformId}, 'c' || g FROM generate_series(1, 2000) g`);
    await t.store.db.execute(sql`ANALYZE users`);
    await t.store.db.execute(sql`ANALYZE courses`);
    await t.store.db.execute(sql`
      WITH ins AS (
        INSERT INTO xapi_statements (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
        SELECT overlay(overlay(md5('s' || g) placing '4' from 13) placing '8' from 17)::uuid, ${platformId}, (SELECT min(id) FROM users) + g % 1000, 'http://adlnet.gov/expapi/verbs/completed',
               ${MOODLE} || '/mod/page/view.php?id=' || g % 500, now(), now(), md5(g::text),
               jsonb_build_object('id', overlay(overlay(md5('s' || g) placing '4' from 13) placing '8' from 17)::uuid, 'verb', jsonb_build_object('id', 'http://adlnet.gov/expapi/verbs/completed'))
        FROM generate_series(1, 200000) g RETURNING id, user_id, object_id)
      INSERT INTO completion_events (statement_id, platform_id, user_id, activity_iri, kind, statement_timestamp, position)
      SELECT id, ${platformId}, user_id, object_id, 'completed', now(), 0 FROM ins WHERE ('x' || substr(id::text, 1, 2))::bit(8)::int % 10 = 0`);
    await t.store.db.execute(sql`ANALYZE xapi_statements`);
    await t.store.db.execute(sql`ANALYZE completion_events`);
    const rows = await queryRows<{ id: string }>(t.store.db, sql`SELECT id::text AS id FROM xapi_statements ORDER BY seq DESC LIMIT 30`);
    stored = rows.map((r) => r.id);
    expect(stored).toHaveLength(30);
    const authority = { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } };
    // as a request body arrives (parsed JSON: structuredClone's objects come from another realm under jest)
    const body = JSON.parse(JSON.stringify(generatedBatch(30, 'u1').map((s, i) => ({ ...s, id: stored[i] })))) as unknown;
    resent = prepareStatements(body, platform, authority, new Date());
    for (const p of resent) await t.store.db.execute(sql`UPDATE xapi_statements SET content_hash = ${p.hash} WHERE id = ${p.id}::uuid`);
    await t.store.db.execute(sql`ANALYZE xapi_statements`);
  });

  afterAll(async () => {
    await t?.destroy();
  });

  test('a resent batch: its one statement finds the stored statements through the unique index on id', async () => {
    const { custom, generic } = await batchPlans(ingestQuery(platformId, resent));
    for (const all of [custom, generic]) expectIndexed(all, 'xapi_statements', 'xapi_statements_id_unique');
  });

  test('a new batch finds its learners and courses by their keys, not by reading every learner of the platform', async () => {
    const authority = { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } };
    const fresh = prepareStatements(JSON.parse(JSON.stringify(generatedBatch(30, 'u2'))) as unknown, platform, authority, new Date());
    const { custom, generic } = await batchPlans(ingestQuery(platformId, fresh));
    const keys = [
      ['users', 'users_platform_sub_idx', 'sub'],
      ['courses', 'courses_platform_context_idx', 'context_id'],
    ] as const;
    for (const [all, [table, index, key]] of [custom, generic].flatMap((all) => keys.map((k) => [all, k] as const))) {
      expectIndexed(all, table, index);
      // the index is searched by the key, not only by the platform (which is every row of the platform)
      for (const n of all.filter((n) => n['Index Name'] === index)) expect(n['Index Cond']).toMatch(new RegExp(key));
    }
  });

  test('a resent batch stores nothing and is answered; the same ids with another content are refused, nothing written', async () => {
    const count = async () => (await queryRows<{ n: number }>(t.store.db, sql`SELECT count(*)::int AS n FROM xapi_statements`))[0]?.n;
    const before = await count();
    await expect(storeStatements(t.store.db, platform, resent)).resolves.toMatchObject({ stored: 0, marked: 0 });
    const other = resent.map((p, i) => (i === 7 ? { ...p, hash: 'another' } : p));
    await expect(storeStatements(t.store.db, platform, other)).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`statements[${other[7]?.index}]`) });
    expect(await count()).toBe(before);
  });

  test('voiding finds its targets through the unique index on id, and their events through the one on statement_id', async () => {
    const all = await plan(voidStatementsQuery(platformId, stored));
    expectIndexed(all, 'xapi_statements', 'xapi_statements_id_unique');
    expectIndexed(all, 'completion_events', 'completion_events_statement_id_unique');
  });

  test('the voiding actually answers: the voided learners of those ids', async () => {
    const expected = await queryRows<{ user_id: number }>(
      t.store.db,
      sql`SELECT DISTINCT user_id FROM completion_events WHERE statement_id::text IN (${sql.join(stored.map((id) => sql`${id}`), sql`, `)}) ORDER BY user_id`,
    );
    await t.store.db.transaction(async (tx) => {
      const voided = await queryRows<{ user_id: number }>(tx, voidStatementsQuery(platformId, stored));
      expect(voided.map((r) => r.user_id).sort((a, b) => a - b)).toEqual(expected.map((r) => r.user_id));
      tx.rollback();
    }).catch((error: unknown) => {
      if (!/rollback/i.test(String((error as Error).message))) throw error;
    });
  });
});
