/**
 * `npm run bench -- storage`: what Socle's rows weigh in PostgreSQL, for the sizing in docs/scaling.md (not a test).
 * A fresh database migrated with Socle's own schema; the 66 statements of the 34 captured Moodle 4.3
 * logstore_xapi batches, in the form Socle stores them (`prepareStatements`: id, stored, authority), are the
 * templates; BENCH_STORAGE_LEARNERS learners (default 3,000) each get a copy of all 66 (actor, id, times varied),
 * generated in SQL, with their completion facts, one learner_coverage row (5 domains) and one delivered outbox row
 * per statement. After VACUUM ANALYZE: bytes per row of each table, heap, TOAST and indexes, against the
 * statement's JSON text as the reference.
 */
import { sql } from 'drizzle-orm';
import { openStore, queryRows } from '../src/db/store';
import { ensureCourse, ensurePlatform } from '../src/identity/records';
import { prepareStatements } from '../src/xapi/ingest';
import { MOODLE, moodleBatches } from '../test/xapi/support';
import { figure } from './figure';
import { withBenchDatabase } from './database';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LEARNERS = Number(process.env.BENCH_STORAGE_LEARNERS ?? 3000);
const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  await withBenchDatabase(ADMIN_URL, async (databaseUrl, name) => {
    const store = await openStore({ databaseUrl });
    const db = store.db;
    try {
      const platform = await ensurePlatform(db, MOODLE);
      const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
      const authority = { objectType: 'Agent', name: 'Socle', account: { homePage: 'https://socle.univ.example', name: 'moodle-logstore' } };
      const templates = moodleBatches().flatMap(({ body }) => prepareStatements(body, platform, authority, new Date('2026-11-22T16:50:00Z')));
      const rows = JSON.stringify(
        templates.map((p, n) => ({
          n,
          v: p.verb,
          o: p.objectId,
          t: p.timestamp.toISOString(),
          h: p.hash,
          j: p.statement,
          k: p.verb.endsWith('/completed') || p.verb.endsWith('/uncompleted') ? (p.verb.endsWith('/completed') ? 'completed' : 'uncompleted') : null,
        })),
      );
      print(`database ${name}; ${templates.length} captured statements × ${LEARNERS.toLocaleString('en')} learners`);
      const t0 = performance.now();
      await db.execute(sql`INSERT INTO users (platform_id, sub) SELECT ${platform.id}::int, (100000 + g)::text FROM generate_series(1, ${LEARNERS}) g`);
      await db.execute(sql`CREATE TEMPORARY TABLE template AS
        SELECT (r->>'n')::int AS n, r->>'v' AS verb, r->>'o' AS object_id, (r->>'t')::timestamptz AS ts, r->>'h' AS hash, r->'j' AS statement, r->>'k' AS kind
        FROM jsonb_array_elements(${rows}::jsonb) r`);
      // one copy of the template per learner: its own actor and id, its statements spread over the year
      await db.execute(sql`INSERT INTO xapi_statements (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
        SELECT x.id, ${platform.id}::int, u.id, t.verb, t.object_id, x.ts, x.ts, encode(sha256(x.id::text::bytea), 'base64'),
               jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.statement, '{id}', to_jsonb(x.id::text)), '{actor,account,name}', to_jsonb(u.sub)),
                         '{timestamp}', to_jsonb(x.ts)), '{stored}', to_jsonb(x.ts))
        FROM users u CROSS JOIN template t
        CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id, t.ts - ((u.id % 365) * interval '1 day') AS ts) x
        ORDER BY u.id, t.n`);
      await db.execute(sql`INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds, statement_timestamp, position)
        SELECT s.id, s.platform_id, s.user_id, ${course.id}::int, s.object_id, t.kind, (s.statement->'result'->>'success')::boolean, NULL, s."timestamp", t.n % 30
        FROM xapi_statements s JOIN template t ON t.verb = s.verb AND t.object_id = s.object_id AND t.hash IS NOT NULL
        WHERE t.kind IS NOT NULL AND s.statement->>'timestamp' IS NOT NULL AND (s.statement->'object'->>'id') = t.object_id
          AND s.seq % ${templates.length} = (t.n + 1) % ${templates.length}`);
      await db.execute(sql`INSERT INTO learner_coverage (platform_id, user_id, referential_id, referential_version, required_minutes, credited_minutes, validated_minutes,
                                                         covered_competencies, total_competencies, status, domains)
        SELECT ${platform.id}::int, u.id, 'socle-sante-niveaux-4-8', '1.1.2022', 1680, m, m - 60, 12, 18, 'in_progress',
               (SELECT jsonb_agg(jsonb_build_object('code', d::text, 'requiredMinutes', 360, 'creditedMinutes', m / 5, 'validatedMinutes', m / 5 - 12)) FROM generate_series(1, 5) d)
        FROM users u CROSS JOIN LATERAL (SELECT 600 + (u.id % 900) AS m) c`);
      await db.execute(sql`INSERT INTO xapi_outbox (statement_id, statement, status, attempts, delivered_at)
        SELECT id, statement, 'delivered', 1, stored FROM xapi_statements`);
      await db.execute(sql`VACUUM ANALYZE`);
      print(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const [json] = await queryRows<{ text: number; jsonb: number }>(
        db,
        sql`SELECT avg(octet_length(statement::text))::float AS text, avg(pg_column_size(statement))::float AS jsonb FROM xapi_statements`,
      );
      const reference = `the statement's JSON text: ${Math.round(json?.text ?? 0)} B (jsonb as stored: ${Math.round(json?.jsonb ?? 0)} B)`;
      for (const table of ['xapi_statements', 'completion_events', 'learner_coverage', 'xapi_outbox']) {
        const [s] = await queryRows<{ rows: number; total: number; heap: number; toast: number; indexes: number }>(
          db,
          sql`SELECT (SELECT count(*) FROM ${sql.identifier(table)})::float AS rows, pg_total_relation_size(c.oid)::float AS total,
                     pg_relation_size(c.oid)::float AS heap, coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)::float AS toast,
                     pg_indexes_size(c.oid)::float AS indexes
              FROM pg_class c WHERE c.oid = ${table}::regclass`,
        );
        if (!s || !s.rows) continue;
        const per = (bytes: number) => Math.round(bytes / s.rows);
        print(`${table}: ${s.rows.toLocaleString('en')} rows, ${(s.total / 1048576).toFixed(1)} MiB: ${per(s.total)} B/row (heap ${per(s.heap)}, TOAST ${per(s.toast)}, indexes ${per(s.indexes)})`);
        figure({
          name: `${table} bytes per row`,
          value: per(s.total),
          unit: 'B/row',
          reference: table === 'xapi_statements' || table === 'xapi_outbox' ? reference : `heap ${per(s.heap)} B, indexes ${per(s.indexes)} B`,
          ratio: table === 'xapi_statements' || table === 'xapi_outbox' ? Number((per(s.total) / (json?.text ?? 1)).toFixed(2)) : null,
        });
      }
    } finally {
      await store.close();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
