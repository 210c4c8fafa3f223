/**
 * The learner's next step ("Ma progression": the activities still to do) on a real PostgreSQL (not a test: it
 * prints figures).
 *
 *   npx tsx bench/next-step.ts [learners=20000]   # BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres by default
 *
 * Creates its own database (and drops it): one platform, 400 courses of 30 mapped activities each, `learners`
 * learners enrolled in 5 courses each, 20 completion events per learner. Measures `pendingActivities` for one
 * learner (median of 200 calls), next to a reference measured in this run: the same query once the index on
 * course_members(user_id) is dropped (what a learner's courses cost without it).
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { pendingActivities, pendingQuery } from '../src/coverage/read';
import { openStore, queryRows } from '../src/db/store';
import { withBenchDatabase } from './database';
import { figure } from './figure';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LEARNERS = Number(process.env.BENCH_LEARNERS ?? process.argv[2] ?? 20_000);
const COURSES = 400;
const ACTIVITIES = 30;
const WWWROOT = 'https://moodle.univ-exemple.fr';

async function median(run: () => Promise<unknown>, times: number): Promise<number> {
  const took: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await run();
    took.push(performance.now() - start);
  }
  took.sort((a, b) => a - b);
  return took[Math.floor(times / 2)] ?? NaN;
}

async function main() {
  await withBenchDatabase(ADMIN_URL, async (databaseUrl) => {
    const store = await openStore({ databaseUrl });
    try {
      const db = store.db;
      await db.execute(sql`INSERT INTO platforms (issuer) VALUES (${WWWROOT})`);
      const [platform] = await queryRows<{ id: number }>(db, sql`SELECT id FROM platforms`);
      const platformId = Number(platform?.id);
      await db.execute(sql`INSERT INTO courses (platform_id, context_id, title)
                           SELECT ${platformId}, c::text, 'Cours ' || c FROM generate_series(1, ${COURSES}) c`);
      await db.execute(sql`INSERT INTO users (platform_id, sub, name) SELECT ${platformId}, u::text, 'Apprenant ' || u FROM generate_series(1, ${LEARNERS}) u`);
      // each learner in 5 courses, spread over all courses
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles)
                           SELECT c.id, u.id, ARRAY['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner']
                           FROM users u CROSS JOIN generate_series(0, 4) k
                           JOIN courses c ON c.context_id = (((u.id * 7 + k * 53) % ${COURSES}) + 1)::text
                           ON CONFLICT DO NOTHING`);
      await db.execute(sql`INSERT INTO activity_mappings (course_id, activity_iri, referential_id, referential_version, competency_key, minutes)
                           SELECT c.id, ${WWWROOT} || '/mod/page/view.php?id=' || (c.id * 100 + a), 'socle-sante-niveaux-4-8', 'V1.1.2022',
                                  ((a % 5) + 1) || '.1', 60
                           FROM courses c CROSS JOIN generate_series(1, ${ACTIVITIES}) a`);
      // 20 completions per learner, of activities of their courses
      await db.execute(sql`INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, statement_timestamp, position)
                           SELECT gen_random_uuid(), ${platformId}, m.user_id, m.course_id,
                                  ${WWWROOT} || '/mod/page/view.php?id=' || (m.course_id * 100 + a), 'completed', now() - (a || ' hours')::interval, 0
                           FROM course_members m CROSS JOIN generate_series(1, 4) a`);
      await db.execute(sql`ANALYZE`);
      const [counts] = await queryRows<{ members: number; mappings: number; events: number }>(
        db,
        sql`SELECT (SELECT count(*) FROM course_members)::int AS members, (SELECT count(*) FROM activity_mappings)::int AS mappings,
                   (SELECT count(*) FROM completion_events)::int AS events`,
      );
      process.stdout.write(`seeded: ${LEARNERS} learners, ${counts?.members} enrolments, ${counts?.mappings} mapped pairs, ${counts?.events} completion events\n`);
      const userId = Math.floor(LEARNERS / 2);
      const referential = { id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022' };
      const pending = await pendingActivities(db, platformId, userId, referential);
      process.stdout.write(`learner ${userId}: ${pending.length} pending pairs\n`);
      const withIndex = await median(() => pendingActivities(db, platformId, userId, referential), 200);
      // the server's own execution time of the query's plan (without the round trip and the pool)
      const plan = await queryRows<{ 'QUERY PLAN': string }>(db, sql`EXPLAIN (ANALYZE, FORMAT TEXT) ${pendingQuery(platformId, userId, referential)}`);
      const executed = plan.map((r) => r['QUERY PLAN']).find((l) => l.startsWith('Execution Time')) ?? '';
      const seqScans = plan.map((r) => r['QUERY PLAN']).filter((l) => /Seq Scan on (course_members|activity_mappings|completion_events)/.test(l));
      process.stdout.write(`server: ${executed}; sequential scans of the big tables: ${seqScans.length ? seqScans.join(' | ') : 'none'}\n`);
      await db.execute(sql`DROP INDEX course_members_user_idx`);
      const withoutIndex = await median(() => pendingActivities(db, platformId, userId, referential), 50);
      figure({
        name: `next step of one learner (${LEARNERS} learners, ${counts?.members} enrolments), median`,
        value: withIndex,
        unit: 'ms',
        target: '< 10 ms',
        reference: `${withoutIndex.toFixed(2)} ms without the index on course_members(user_id)`,
        ratio: withIndex / withoutIndex,
        meets: withIndex < 10,
      });
    } finally {
      await store.close();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
