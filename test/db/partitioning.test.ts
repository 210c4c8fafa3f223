import { Client } from 'pg';
import { openStore } from '../../src/db/store';
import { createTestDatabase, describeWithServer } from '../support/db';

// Declarative partitioning of the statements on the real server (docs/scaling.md, "Partitioning"): tables with the
// columns of Socle's xapi_statements (copied from the migrated schema with LIKE), partitioned by month of `stored`,
// by platform then month, or by hash of the id; Socle's statement queries in their shapes, with EXPLAIN showing which
// partitions each one reads. Socle's own schema is not changed.

const MONTHS = 12; // 2026-01 … 2026-12
const PER_MONTH = 500; // statements per platform and month
const month = (m: number) => `2026-${String(m + 1).padStart(2, '0')}-01`;
const nextMonth = (m: number) => (m + 1 < MONTHS ? month(m + 1) : '2027-01-01');

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops'?: number;
  'Subplans Removed'?: number;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, visit: (n: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

describeWithServer('statements partitioned on PostgreSQL', () => {
  jest.setTimeout(120_000);
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;

  /** The plan of `query`: the tables it reads (partitions by name), the indexes and the subplans pruned at start. */
  async function plan(query: string, values: unknown[] = [], analyze = false) {
    const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (${analyze ? 'ANALYZE, ' : ''}FORMAT JSON) ${query}`, values);
    const root = rows[0]?.['QUERY PLAN'][0]?.Plan as PlanNode;
    const scanned = new Set<string>();
    const executed = new Set<string>();
    const indexes = new Set<string>();
    let removed = 0;
    walk(root, (n) => {
      if (n['Relation Name'] && n['Node Type'] !== 'ModifyTable') {
        scanned.add(n['Relation Name']);
        if ((n['Actual Loops'] ?? 0) > 0) executed.add(n['Relation Name']);
      }
      if (n['Index Name']) indexes.add(n['Index Name']);
      removed += n['Subplans Removed'] ?? 0;
    });
    return { scanned: [...scanned].sort(), executed: [...executed].sort(), indexes: [...indexes], removed };
  }

  const count = async (query: string, values: unknown[] = []) => Number((await client.query<{ n: string }>(query, values)).rows[0]?.n);

  /** Rows of `month` for both platforms, spread over the month by `stored` (timestamp an hour earlier). */
  async function seed(table: string): Promise<void> {
    for (let m = 0; m < MONTHS; m++) {
      await client.query(
        `INSERT INTO ${table} (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
         SELECT gen_random_uuid(), p, (p - 1) * 100 + 1 + g % 100, 'http://adlnet.gov/expapi/verbs/completed',
                'http://moodle/mod/page/view.php?id=' || (g % 40), t, t - interval '1 hour', md5(g::text),
                jsonb_build_object('verb', jsonb_build_object('id', 'http://adlnet.gov/expapi/verbs/completed'), 'n', g)
         FROM generate_series(1, 2) p, generate_series(1, $2::int) g,
              LATERAL (SELECT $1::timestamptz + (g * interval '1 minute') AS t) x`,
        [month(m), PER_MONTH],
      );
    }
    await client.query(`ANALYZE ${table}`);
  }

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const store = await openStore(database.options); // Socle's migrated schema, for its columns
    await store.close();
    client = new Client({ connectionString: (database.options as { databaseUrl: string }).databaseUrl });
    await client.connect();
    await client.query(`INSERT INTO platforms (id, issuer) VALUES (1, 'https://moodle.univ-a.fr'), (2, 'https://moodle.univ-b.fr')`);
    await client.query(`INSERT INTO users (id, platform_id, sub) SELECT g, 1 + (g - 1) / 100, g::text FROM generate_series(1, 200) g`);
  });
  afterAll(async () => {
    await client?.end();
    await database?.destroy();
  });

  it("cannot keep Socle's keys: a primary key or unique id without the partition key is refused", async () => {
    await expect(client.query(`CREATE TABLE st_as_is (LIKE xapi_statements INCLUDING ALL) PARTITION BY RANGE (stored)`)).rejects.toMatchObject({
      code: '0A000',
      message: expect.stringMatching(/unique constraint on partitioned table must include all partitioning columns/),
    });
  });

  describe('by month of stored, with a table of ids for their global uniqueness', () => {
    beforeAll(async () => {
      // the statements: every key includes `stored`; the foreign keys to platforms and users stay as they are
      await client.query(`CREATE TABLE st_month (LIKE xapi_statements INCLUDING DEFAULTS,
        PRIMARY KEY (seq, stored), UNIQUE (id, stored),
        FOREIGN KEY (platform_id) REFERENCES platforms (id) ON DELETE CASCADE,
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE) PARTITION BY RANGE (stored)`);
      await client.query(`CREATE INDEX ON st_month (platform_id, seq)`);
      await client.query(`CREATE INDEX ON st_month (object_id)`);
      for (let m = 0; m < MONTHS; m++) {
        await client.query(`CREATE TABLE st_month_${m + 1} PARTITION OF st_month FOR VALUES FROM ('${month(m)}') TO ('${nextMonth(m)}')`);
      }
      // xAPI ids are global: one small table holds each id once, with where its statement is (and its hash)
      await client.query(`CREATE TABLE st_ids (id uuid PRIMARY KEY, platform_id int NOT NULL, stored timestamptz NOT NULL, content_hash text NOT NULL)`);
      await seed('st_month');
      await client.query(`INSERT INTO st_ids SELECT id, platform_id, stored, content_hash FROM st_month`);
      await client.query(`ANALYZE st_ids`);
    });

    it('loses the uniqueness of id alone: ON CONFLICT (id) has no target, and one id is stored in two months', async () => {
      const row = `'11111111-1111-4111-8111-111111111111'::uuid, 1, 1, 'v', 'o', $1::timestamptz, $1::timestamptz, 'h', '{}'::jsonb`;
      await expect(
        client.query(`INSERT INTO st_month (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
                      VALUES (${row}) ON CONFLICT (id) DO NOTHING`, ['2026-03-02']),
      ).rejects.toMatchObject({ code: '42P10' });
      await client.query(`BEGIN`);
      try {
        for (const at of ['2026-03-02', '2026-04-02']) {
          await client.query(`INSERT INTO st_month (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
                              VALUES (${row}) ON CONFLICT (id, stored) DO NOTHING`, [at]);
        }
        expect(await count(`SELECT count(*) AS n FROM st_month WHERE id = '11111111-1111-4111-8111-111111111111'`)).toBe(2);
      } finally {
        await client.query(`ROLLBACK`);
      }
    });

    it("stores a batch in one statement through the ids table: new ids only, a resend stores nothing, and the already-stored lookup reads no partition", async () => {
      // a batch of 30: 10 ids already stored (in March), 20 new ones, as Socle's JSON parameter of rows
      const known = (await client.query<{ id: string; content_hash: string }>(`SELECT id, content_hash FROM st_month_3 ORDER BY seq LIMIT 10`)).rows;
      const fresh = Array.from({ length: 20 }, (_, i) => ({ id: `22222222-2222-4222-8222-${String(i).padStart(12, '0')}`, h: `new-${i}` }));
      const batch = JSON.stringify([...known.map((k) => ({ id: k.id, h: k.content_hash })), ...fresh].map((r) => ({ ...r, s: '2026-12-20T10:00:00Z' })));
      const insert = `WITH r AS (SELECT (x->>'id')::uuid AS id, (x->>'s')::timestamptz AS stored, x->>'h' AS hash, n
                                 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(x, n)),
                           ids AS (INSERT INTO st_ids (id, platform_id, stored, content_hash) SELECT id, 1, stored, hash FROM r ORDER BY n
                                   ON CONFLICT (id) DO NOTHING RETURNING id)
                      INSERT INTO st_month (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
                      SELECT r.id, 1, 1, 'http://adlnet.gov/expapi/verbs/completed', 'o', r.stored, r.stored, r.hash, '{}'::jsonb
                      FROM r JOIN ids USING (id) ORDER BY r.n RETURNING id::text AS id`;
      const first = await client.query<{ id: string }>(insert, [batch]);
      expect(first.rows.map((r) => r.id).sort()).toEqual(fresh.map((f) => f.id).sort());
      expect(await count(`SELECT count(*) AS n FROM st_month_12 WHERE content_hash LIKE 'new-%'`)).toBe(20);
      const again = await client.query(insert, [batch]);
      expect(again.rowCount).toBe(0);
      // the resend's comparison of content reads the ids table by its primary key, not the statements
      const ids = [...known.map((k) => k.id), ...fresh.map((f) => f.id)];
      const lookup = await plan(`SELECT id::text AS id, content_hash FROM st_ids WHERE id = ANY($1::uuid[])`, [ids]);
      expect(lookup.scanned).toEqual(['st_ids']);
      expect(lookup.indexes).toEqual(['st_ids_pkey']);
    });

    it('reads a time range from the months it covers only, planned with the dates or pruned at start with parameters', async () => {
      const range = `SELECT seq, statement FROM st_month WHERE platform_id = 1 AND stored > $1 AND stored <= $2 ORDER BY seq LIMIT 100`;
      const literal = await plan(range.replace('$1', `'2026-03-15'::timestamptz`).replace('$2', `'2026-05-10'::timestamptz`));
      expect(literal.scanned).toEqual(['st_month_3', 'st_month_4', 'st_month_5']);
      // a prepared statement's generic plan (what a pool may reuse) keeps every month in the plan and prunes at start
      await client.query(`PREPARE range_read(timestamptz, timestamptz) AS ${range}`);
      await client.query(`SET plan_cache_mode = force_generic_plan`);
      try {
        const generic = await plan(`EXECUTE range_read('2026-03-15', '2026-05-10')`, [], true);
        expect(generic.removed).toBe(MONTHS - 3);
        expect(generic.executed).toEqual(['st_month_3', 'st_month_4', 'st_month_5']);
      } finally {
        await client.query(`RESET plan_cache_mode`);
        await client.query(`DEALLOCATE range_read`);
      }
      // an open range (`since` only, the LRS client's usual query) reads from that month on
      const since = await plan(`SELECT seq FROM st_month WHERE platform_id = 1 AND stored > '2026-10-01' ORDER BY seq LIMIT 100`);
      expect(since.scanned).toEqual(['st_month_10', 'st_month_11', 'st_month_12']);
    });

    it('finds or voids a statement by id alone in every month, and in one month when the ids table gives its stored time', async () => {
      const [target] = (await client.query<{ id: string }>(`SELECT id::text AS id FROM st_month_7 LIMIT 1`)).rows;
      const byId = await plan(`SELECT statement FROM st_month WHERE id = $1 AND platform_id = 1`, [target?.id]);
      expect(byId.scanned).toHaveLength(MONTHS);
      // joined to the ids table, the id is pushed into every month and the time is only a filter: all are read
      const joined = await plan(
        `SELECT s.statement FROM st_ids i JOIN st_month s ON s.id = i.id AND s.stored = i.stored WHERE i.id = $1 AND s.platform_id = 1`,
        [target?.id],
        true,
      );
      expect(joined.executed).toHaveLength(1 + MONTHS);
      // as a value of the query (an InitPlan), the time prunes the months at run time: one is read
      const viaIds = await plan(
        `SELECT statement FROM st_month WHERE id = $1 AND platform_id = 1 AND stored = (SELECT stored FROM st_ids WHERE id = $1)`,
        [target?.id],
        true,
      );
      expect(viaIds.scanned).toHaveLength(1 + MONTHS);
      expect(viaIds.executed).toEqual(['st_ids', 'st_month_7']);
      const targets = (await client.query<{ id: string }>(`(SELECT id::text AS id FROM st_month_2 LIMIT 2) UNION ALL (SELECT id::text FROM st_month_9 LIMIT 1)`)).rows;
      // the voiding update of a batch: its targets' times first (ids table), then an update planned on those months only
      const times = (await client.query<{ stored: Date }>(`SELECT stored FROM st_ids WHERE id = ANY($1::uuid[])`, [targets.map((t) => t.id)])).rows;
      await client.query('BEGIN');
      try {
        const voiding = `UPDATE st_month SET voided = true
                         WHERE id = ANY($1::uuid[]) AND stored = ANY($2::timestamptz[]) AND platform_id = 1 AND verb <> 'http://adlnet.gov/expapi/verbs/voided'`;
        const values = [targets.map((t) => t.id), times.map((t) => t.stored)];
        expect((await plan(voiding, values)).scanned).toEqual(['st_month_2', 'st_month_9']);
        expect((await client.query(voiding, values)).rowCount).toBe(3);
      } finally {
        await client.query('ROLLBACK');
      }
    });

    it("drops a month whole, but Socle's retention deletes by statement time, which reads every month", async () => {
      const retention = await plan(`DELETE FROM st_month WHERE "timestamp" < '2026-03-01'`);
      expect(retention.scanned).toHaveLength(MONTHS);
      const byStored = await plan(`DELETE FROM st_month WHERE stored < '2026-03-01'`);
      expect(byStored.scanned).toEqual(['st_month_1', 'st_month_2']);
      await client.query('BEGIN');
      try {
        await client.query(`DELETE FROM st_ids WHERE stored < '2026-02-01'`);
        await client.query(`ALTER TABLE st_month DETACH PARTITION st_month_1`);
        await client.query(`DROP TABLE st_month_1`);
        expect(await count(`SELECT count(*) AS n FROM st_month WHERE stored < '2026-02-01'`)).toBe(0);
        expect(await count(`SELECT count(*) AS n FROM st_ids WHERE stored < '2026-02-01'`)).toBe(0);
      } finally {
        await client.query('ROLLBACK');
      }
    });
  });

  describe('by platform, then by month', () => {
    beforeAll(async () => {
      await client.query(`CREATE TABLE st_pm (LIKE xapi_statements INCLUDING DEFAULTS, PRIMARY KEY (platform_id, seq, stored), UNIQUE (platform_id, id, stored))
                          PARTITION BY LIST (platform_id)`);
      for (const p of [1, 2]) {
        await client.query(`CREATE TABLE st_pm_p${p} PARTITION OF st_pm FOR VALUES IN (${p}) PARTITION BY RANGE (stored)`);
        for (let m = 0; m < MONTHS; m++) {
          await client.query(`CREATE TABLE st_pm_p${p}_${m + 1} PARTITION OF st_pm_p${p} FOR VALUES FROM ('${month(m)}') TO ('${nextMonth(m)}')`);
        }
      }
      await seed('st_pm');
    });

    it("reads a platform's range from that platform's months only; a query across platforms reads them all", async () => {
      const own = await plan(`SELECT seq FROM st_pm WHERE platform_id = 2 AND stored > '2026-06-15' AND stored <= '2026-07-10' ORDER BY seq LIMIT 100`);
      expect(own.scanned).toEqual(['st_pm_p2_6', 'st_pm_p2_7']);
      const everyone = await plan(`SELECT count(*) FROM st_pm WHERE stored > '2026-06-15' AND stored <= '2026-07-10'`);
      expect(everyone.scanned).toEqual(['st_pm_p1_6', 'st_pm_p1_7', 'st_pm_p2_6', 'st_pm_p2_7']);
      const anyTime = await plan(`SELECT count(*) FROM st_pm WHERE object_id = 'http://moodle/mod/page/view.php?id=3'`);
      expect(anyTime.scanned).toHaveLength(2 * MONTHS);
    });
  });

  describe('by hash of the id', () => {
    beforeAll(async () => {
      await client.query(`CREATE TABLE st_hash (LIKE xapi_statements INCLUDING DEFAULTS, PRIMARY KEY (id)) PARTITION BY HASH (id)`);
      for (let r = 0; r < 8; r++) await client.query(`CREATE TABLE st_hash_${r} PARTITION OF st_hash FOR VALUES WITH (MODULUS 8, REMAINDER ${r})`);
      await client.query(`CREATE INDEX ON st_hash (platform_id, seq)`);
      await seed('st_hash');
    });

    it("keeps ON CONFLICT (id) and reads one partition by id, but a time range reads every partition", async () => {
      const [target] = (await client.query<{ id: string; stored: Date }>(`SELECT id::text AS id, stored FROM st_hash LIMIT 1`)).rows;
      const resend = await client.query(
        `INSERT INTO st_hash (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
         VALUES ($1, 1, 1, 'v', 'o', now(), now(), 'h', '{}') ON CONFLICT (id) DO NOTHING`,
        [target?.id],
      );
      expect(resend.rowCount).toBe(0);
      const byId = await plan(`SELECT statement FROM st_hash WHERE id = $1`, [target?.id]);
      expect(byId.scanned).toHaveLength(1);
      const range = await plan(`SELECT seq FROM st_hash WHERE platform_id = 1 AND stored > '2026-03-15' AND stored <= '2026-05-10' ORDER BY seq LIMIT 100`);
      expect(range.scanned).toHaveLength(8);
    });
  });
});
