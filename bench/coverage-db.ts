/**
 * Coverage at national scale on a real PostgreSQL (not a test: it prints figures).
 *
 *   npx tsx bench/coverage-db.ts [learners=70000]   # or BENCH_LEARNERS; BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres by default
 *
 * Creates its own database (and drops it), generates 70,000 learners, 40 activities mapped across the 5 domains
 * of the 28 h référentiel in 3 courses, ~1.5 million completion events (INSERT … SELECT generate_series), then
 * measures: the full recompute (`socle coverage recompute`'s function), the ingestion hook per statement, the
 * single-learner coverage read through the HTTP API on loopback (p50/p95), the course view of 500 learners (a
 * 500-learner course, and pages anywhere in a 70,000-learner course) and the administrators' dashboard. Each headline
 * figure is printed next to a reference measured in this run (a plain read of the same facts, plain indexed SELECTs),
 * and as a `FIGURE {json}` line; the recompute's memory is this whole process's peak RSS. CPU time is reported for
 * this process and for the PostgreSQL backends (from /proc), as the machine is shared.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import os from 'node:os';
import { createApiToken } from '../src/identity/api-tokens';
import { afterCompletionStatements } from '../src/coverage/freshness';
import { recomputeAll } from '../src/coverage/recompute';
import { coverageDeps } from '../src/coverage/deps';
import { memoised, type ReferentialSource } from '../src/coverage/referentials';
import { type Database, openStore, queryRows } from '../src/db/store';
import type { ReferentialVersion } from '../src/domain/coverage';
import { ensureCourse, ensurePlatform } from '../src/identity/records';
import { createLogger } from '../src/logger';
import { createContext } from '../src/app/context';
import { startServer } from '../src/app/server';
import { type Config, DEFAULT_RATE_LIMITS } from '../src/config';
import { prepareStatements, storeStatements } from '../src/xapi/ingest';
import { DEFAULT_REFERENTIAL } from '../src/reports/source';
import { reportsPanel } from '../lti/reports';
import { type CohortCursor, cohortPage, parseCursor, type SortKey } from '../src/gradebook/cohort';
import { figure } from './figure';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LEARNERS = Number(process.env.BENCH_LEARNERS ?? process.argv[2] ?? 70_000);
const EVENTS_PER_LEARNER = 21;
const WWWROOT = 'https://moodle.univ-exemple.fr';

const shape: [string, number, string[]][] = [
  ['1', 6, ['1.1', '1.2', '1.3', '1.4']],
  ['2', 5, ['2.1', '2.2']],
  ['3', 5, ['3.1', '3.2', '3.3']],
  ['4', 6, ['4.1', '4.2', '4.3', '4.4']],
  ['5', 6, ['5.1', '5.2']],
];
const referential: ReferentialVersion = {
  // the reports' default référentiel id, so that the dashboard reads this bench's coverage
  id: DEFAULT_REFERENTIAL,
  version: 'V1.1.2022',
  title: 'Référentiel socle (28 h)',
  requiredMinutes: 28 * 60,
  domains: shape.map(([code, hours, keys]) => ({
    code,
    title: `Domaine ${code}`,
    requiredMinutes: hours * 60,
    competencies: keys.map((key) => ({ key, code: key, title: key, requiredMinutes: null })),
  })),
};

const print = (line: string) => process.stdout.write(`${line}\n`);
const iri = (cmid: number) => `${WWWROOT}/mod/page/view.php?id=${cmid}`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
/** Peak resident set size of this whole process so far, in MB. */
const peakRss = () => process.resourceUsage().maxRSS / 1024;


/** p95 of `run` over `n` sequential calls (after 3 warm-up calls), in ms. */
async function p95Of(n: number, run: (i: number) => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await run(i);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p95: pct(times, 95) };
}

/** utime + stime (ms) of the PostgreSQL backends serving the bench database, from /proc. */
async function backendCpu(db: Database, name: string): Promise<number> {
  const rows = await queryRows<{ pid: number }>(db, sql`SELECT pid FROM pg_stat_activity WHERE datname = ${name}`);
  let total = 0;
  const tick = 10; // USER_HZ 100
  for (const { pid } of rows) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // a backend that ended
    }
  }
  return total;
}

async function measure<T>(label: string, db: Database, name: string, run: () => Promise<T>): Promise<{ result: T; wall: number }> {
  const cpu0 = process.cpuUsage();
  const pg0 = await backendCpu(db, name);
  const t0 = performance.now();
  const result = await run();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const pg = (await backendCpu(db, name)) - pg0;
  print(`${label}: ${ms(wall)} wall, node CPU ${ms((cpu.user + cpu.system) / 1000)}, PostgreSQL backends CPU ≈ ${ms(pg)} (pooled backends seen at the end)`);
  return { result, wall };
}

async function main() {
  const name = `socle_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const referentials: ReferentialSource = () =>
    memoised(async (id, version) => (id === referential.id && (version === undefined || version === referential.version) ? referential : undefined));
  const config: Config = { port: 0, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:0', databaseUrl, dataDir: '/nonexistent', ltiKey: 'bench-lti-key-0123456789abcdef0123456789', lrs: undefined, logLevel: 'silent', ltiSession: 'same-site', rateLimits: { ...DEFAULT_RATE_LIMITS } };
  const store = await openStore({ databaseUrl });
  const db = store.db;
  // the coverage rules alone (no badge issuing) over the bench's référentiel
  const ctx = createContext(config, store, createLogger('silent'), { referentials, badges: undefined });
  try {
    print(`load average ${load()}; ${os.cpus().length} CPUs`);
    print(`database ${name}; ${LEARNERS} learners, 40 activities, ~${(LEARNERS * EVENTS_PER_LEARNER).toLocaleString('en')} completion events`);
    const platform = await ensurePlatform(db, WWWROOT);
    // courses 10 and 11 for everyone (20 + 15 activities), course 12 (5 activities) with a roster of 500
    const courseA = await ensureCourse(db, platform.id, '10', 'Socle numérique (tronc commun)');
    const courseB = await ensureCourse(db, platform.id, '11', 'Socle numérique (approfondissement)');
    const courseC = await ensureCourse(db, platform.id, '12', 'Télésanté en présentiel');
    const keys = shape.flatMap(([, , k]) => k);
    const mappings: { courseId: number; cmid: number; key: string; minutes: number }[] = [];
    for (let a = 0; a < 40; a++) {
      const courseId = a < 20 ? courseA.id : a < 35 ? courseB.id : courseC.id;
      const domain = shape[a % 5] as [string, number, string[]];
      const key = domain[2][Math.floor(a / 5) % domain[2].length] as string;
      mappings.push({ courseId, cmid: 1000 + a, key, minutes: 45 + (a % 4) * 15 });
      if (a % 4 === 0) mappings.push({ courseId, cmid: 1000 + a, key: keys[(keys.indexOf(key) + 3) % keys.length] as string, minutes: 30 });
    }
    await db.execute(sql`INSERT INTO activity_mappings (course_id, activity_iri, referential_id, referential_version, competency_key, minutes) VALUES
      ${sql.join(mappings.map((m) => sql`(${m.courseId}, ${iri(m.cmid)}, ${referential.id}, ${referential.version}, ${m.key}, ${m.minutes})`), sql`, `)}`);
    await db.execute(sql`INSERT INTO course_settings (course_id, require_success) VALUES (${courseB.id}, true)`);

    const gen = await measure('generate users, events, roster', db, name, async () => {
      await db.execute(sql`INSERT INTO users (platform_id, sub) SELECT ${platform.id}::int, g::text FROM generate_series(1, ${LEARNERS}) g`);
      // each learner: 21 events on activities drawn over the 40 (course by activity), ~8% un-completions,
      // success false on 10%, durations, timestamps over a year, ~1% voided
      await db.execute(sql`
        INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds,
                                       statement_timestamp, position, voided)
        SELECT gen_random_uuid(), ${platform.id}::int, u.id,
               CASE WHEN a < 20 THEN ${courseA.id}::int WHEN a < 35 THEN ${courseB.id}::int ELSE ${courseC.id}::int END,
               ${`${WWWROOT}/mod/page/view.php?id=`}::text || (1000 + a),
               CASE WHEN r < 0.08 THEN 'uncompleted' ELSE 'completed' END,
               CASE WHEN r2 < 0.1 THEN false WHEN r2 < 0.5 THEN true ELSE NULL END,
               CASE WHEN r2 < 0.7 THEN (600 + r * 5400)::int ELSE NULL END,
               timestamptz '2026-01-01' + (r3 * 365 * 86400) * interval '1 second', k % 30, r4 < 0.01
        FROM users u
        CROSS JOIN LATERAL (
          SELECT k, CASE WHEN u.id <= 500 AND k > 18 THEN 35 + (u.id + k) % 5 ELSE (u.id * 7 + k * 13) % 35 END AS a,
                 random() AS r, random() AS r2, random() AS r3, random() AS r4
          FROM generate_series(1, ${EVENTS_PER_LEARNER}) k) e
        WHERE u.platform_id = ${platform.id}`);
      await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles)
                           SELECT ${courseC.id}::int, id, ARRAY['Learner'] FROM users WHERE platform_id = ${platform.id} ORDER BY id LIMIT 500`);
      await db.execute(sql`ANALYZE`);
    });
    void gen;
    const [count] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM completion_events`);
    print(`completion events: ${count?.n.toLocaleString('en')}`);

    // 1. full recompute (first: the process's peak RSS is then its own), then a plain read of the same facts
    const rssBefore = peakRss();
    print(`  whole-process peak RSS before the recompute: ${rssBefore.toFixed(0)} MB; load average ${load()}`);
    const full = await measure('full recompute', db, name, () => recomputeAll(db, coverageDeps(ctx, db)));
    const rss = peakRss();
    // the reference: the same columns, in 2,000-learner ranges as the recompute
    const plain = await measure('reference: plain read of every completion event in 2,000-learner ranges', db, name, async () => {
      let rows = 0;
      for (let from = 1; from <= LEARNERS; from += 2_000) {
        rows += (
          await queryRows(
            db,
            sql`SELECT id::float8 AS seq, user_id, course_id, activity_iri, kind, success, duration_seconds,
                       (extract(epoch FROM statement_timestamp) * 1000)::float8 AS ts, voided
                  FROM completion_events WHERE platform_id = ${platform.id} AND user_id BETWEEN ${from} AND ${from + 1_999}`,
          )
        ).length;
      }
      return rows;
    });
    // what autovacuum does after such a bulk write: the reads below are planned on the stored coverages' statistics
    await db.execute(sql`ANALYZE learner_coverage`);
    const [stored] = await queryRows<{ n: number; complete: number }>(db, sql`SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'complete')::int AS complete FROM learner_coverage`);
    print(`  ${full.result.learners} learners, ${stored?.n} coverages stored (${stored?.complete} complete) → ${Math.round(full.result.learners / (full.wall / 1000))} learners/s; whole-process peak RSS ${rss.toFixed(0)} MB; load average ${load()}`);
    figure({
      name: `full recompute, ${LEARNERS} learners`,
      value: full.wall / 1000,
      unit: 's',
      target: '<= 20 s',
      reference: `plain read of the same ${plain.result.toLocaleString('en')} events: ${(plain.wall / 1000).toFixed(2)} s`,
      ratio: full.wall / plain.wall,
      meets: full.wall <= 20_000,
    });
    figure({
      name: 'full recompute, whole-process peak RSS',
      value: rss,
      unit: 'MB',
      target: '<= 500 MB',
      reference: `peak RSS of this process before the recompute: ${rssBefore.toFixed(0)} MB`,
      ratio: rss / rssBefore,
      meets: rss <= 500,
    });

    // 2. incremental cost: the ingestion hook alone (one statement's learner recomputed in its transaction), then the
    //    whole ingestion of single-statement batches and of 30-statement batches (Moodle's default)
    const ids = await queryRows<{ id: string }>(db, sql`SELECT statement_id::text AS id FROM completion_events ORDER BY random() LIMIT 300`);
    const hook: number[] = [];
    for (const { id } of ids) {
      const t0 = performance.now();
      await db.transaction((tx) => afterCompletionStatements(tx, coverageDeps(ctx, tx), platform.id, [id]));
      hook.push(performance.now() - t0);
    }
    hook.sort((a, b) => a - b);
    print(`ingestion hook per statement (transaction included): p50 ${ms(pct(hook, 50))}, p95 ${ms(pct(hook, 95))}; target ≤ 5 ms`);
    const authority = { objectType: 'Agent', account: { homePage: WWWROOT, name: 'bench' } };
    const statement = (sub: number, cmid: number, at: number) => ({
      id: randomUUID(),
      actor: { objectType: 'Agent', account: { homePage: WWWROOT, name: String(sub) } },
      verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
      object: { objectType: 'Activity', id: iri(cmid), definition: { name: { fr: `Page ${cmid}` } } },
      result: { completion: true },
      context: { contextActivities: { parent: [{ objectType: 'Activity', id: `${WWWROOT}/course/view.php?id=10`, definition: { type: 'https://w3id.org/xapi/cmi5/activitytype/course' } }] } },
      timestamp: new Date(Date.UTC(2027, 0, 1) + at * 1000).toISOString(),
    });
    for (const size of [1, 30]) {
      const batches = size === 1 ? 200 : 20;
      const withHook: number[] = [];
      for (let b = 0; b < batches; b++) {
        const body = Array.from({ length: size }, (_, i) => statement(1 + Math.floor(Math.random() * LEARNERS), 1000 + ((b + i) % 20), b * 60 + i));
        const prepared = prepareStatements(body, platform, authority, new Date());
        const t0 = performance.now();
        await storeStatements(db, platform, prepared);
        withHook.push((performance.now() - t0) / size);
      }
      withHook.sort((a, b) => a - b);
      print(`whole ingestion, batches of ${size}: per statement p50 ${ms(pct(withHook, 50))}, p95 ${ms(pct(withHook, 95))} (statement, event, activity, outbox row and dirty mark in one statement; the coverage follows in the worker)`);
    }

    // 3. reads through the HTTP API on loopback
    const server = await startServer(config, { logger: createLogger('silent'), services: { referentials } });
    try {
      const { token } = await createApiToken(db, { name: 'bench', role: 'admin', platformId: null });
      const headers = { authorization: `Bearer ${token}` };
      const reads: number[] = [];
      const get = async (query: string) => {
        const t0 = performance.now();
        const res = await fetch(`${server.url}/api/v1/coverage?${query}`, { headers });
        const body = await res.text();
        if (res.status !== 200) throw new Error(`${res.status} ${body}`);
        return { ms: performance.now() - t0, body };
      };
      for (let i = 0; i < 20; i++) await get(`platform=${encodeURIComponent(WWWROOT)}&user=${1 + i}&referential=${referential.id}`);
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < 500; i++) {
        const sub = 1 + Math.floor(Math.random() * LEARNERS);
        reads.push((await get(`platform=${encodeURIComponent(WWWROOT)}&user=${sub}&referential=${referential.id}`)).ms);
      }
      const cpu = process.cpuUsage(cpu0);
      reads.sort((a, b) => a - b);
      const oneLearner = await p95Of(200, () => queryRows(db, sql`SELECT * FROM completion_events WHERE user_id = ${1 + Math.floor(Math.random() * LEARNERS)}`));
      print(`learner read (HTTP, 500 sequential): p50 ${ms(pct(reads, 50))}, p95 ${ms(pct(reads, 95))}, node CPU ${ms((cpu.user + cpu.system) / 1000 / 500)} per read; target p95 ≤ 20 ms; load average ${load()}`);
      figure({
        name: 'learner read p95 (HTTP)',
        value: pct(reads, 95),
        unit: 'ms',
        target: '<= 20 ms',
        reference: `plain indexed SELECT of one learner's events, p95 ${ms(oneLearner.p95)}`,
        ratio: pct(reads, 95) / oneLearner.p95,
        meets: pct(reads, 95) <= 20,
      });
      const course: number[] = [];
      let learners = 0;
      for (let i = 0; i < 20; i++) {
        const r = await get(`platform=${encodeURIComponent(WWWROOT)}&context=12&limit=500`);
        course.push(r.ms);
        learners = (JSON.parse(r.body) as { learners: unknown[] }).learners.length;
      }
      course.sort((a, b) => a - b);
      print(`course view (${learners} learners, HTTP): p50 ${ms(pct(course, 50))}, p95 ${ms(pct(course, 95))}; target ≤ 300 ms`);
      // any page of the course that every learner follows: 40 pages from random cursors, against a plain indexed
      // SELECT of 500 stored coverages
      const anywhere = () => Math.floor(Math.random() * Math.max(1, LEARNERS - 500));
      const big = await p95Of(40, () => get(`platform=${encodeURIComponent(WWWROOT)}&context=10&limit=500&after=${anywhere()}`));
      const sample = await get(`platform=${encodeURIComponent(WWWROOT)}&context=10&limit=500&after=${anywhere()}`);
      const shown = (JSON.parse(sample.body) as { learners: unknown[] }).learners.length;
      const plainPage = await p95Of(40, () => queryRows(db, sql`SELECT * FROM learner_coverage WHERE user_id > ${anywhere()} ORDER BY user_id LIMIT 500`));
      print(`course view of a ${LEARNERS}-learner course, one ${shown}-learner page (HTTP): p50 ${ms(big.p50)}, p95 ${ms(big.p95)}; target p95 ≤ 100 ms; load average ${load()}`);
      figure({
        name: `course view, a 500-learner page of a ${LEARNERS}-learner course, p95 (HTTP)`,
        value: big.p95,
        unit: 'ms',
        target: '<= 100 ms',
        reference: `plain indexed SELECT of 500 stored coverages, p95 ${ms(plainPage.p95)}`,
        ratio: big.p95 / plainPage.p95,
        meets: big.p95 <= 100,
      });

      // the instructors' cohort page (heatmap) of the course every learner follows: 500-learner pages sorted by missing
      // hours (the default), from cursors anywhere in the course (every cursor collected by one walk of the whole
      // course, which also checks that the pages hold each learner once); then the sorts by name and by a domain
      // (offset pages sorted by PostgreSQL)
      const cohortDeps = coverageDeps(server.ctx, db);
      const page = (sort: SortKey, after?: CohortCursor) =>
        cohortPage(db, cohortDeps, platform, courseA, { sort, dir: sort === 'name' ? 'asc' : 'desc', limit: 500, ...(after ? { after } : {}) });
      const cursors: (CohortCursor | undefined)[] = [undefined];
      const seen = new Set<string>();
      let walkedTotal = 0;
      let returned = 0;
      for (let p = await page('missing'); ; ) {
        walkedTotal = p.total;
        returned += p.learners.length;
        for (const l of p.learners) seen.add(l.user.sub);
        if (!p.next) break;
        const next = parseCursor(p.next.after);
        cursors.push(next);
        p = await page('missing', next);
      }
      print(`cohort of course 10: ${walkedTotal} learners, ${returned} returned, ${seen.size} distinct, over ${cursors.length} pages of 500 (missing hours, most first)`);
      const anyCursor = () => cursors[Math.floor(Math.random() * cursors.length)];
      const cohortMissing = await p95Of(40, () => page('missing', anyCursor()));
      const anyOffset = (): CohortCursor => ({ kind: 'offset', offset: 500 * Math.floor(Math.random() * Math.max(1, cursors.length)) });
      const cohortName = await p95Of(5, () => page('name', anyOffset()));
      const cohortDomain = await p95Of(5, () => page('domain:2', anyOffset()));
      const plainCohort = await p95Of(40, () => queryRows(db, sql`SELECT * FROM learner_coverage WHERE user_id > ${anywhere()} ORDER BY user_id LIMIT 500`));
      print(`cohort page of a ${walkedTotal}-learner course, 500 learners: by missing hours p50 ${ms(cohortMissing.p50)}, p95 ${ms(cohortMissing.p95)}; by name p95 ${ms(cohortName.p95)}; by domain 2 p95 ${ms(cohortDomain.p95)}; load average ${load()}`);
      figure({
        name: `cohort page (heatmap), 500 learners of a ${LEARNERS}-learner course by missing hours, p95`,
        value: cohortMissing.p95,
        unit: 'ms',
        target: '<= 100 ms',
        reference: `plain indexed SELECT of 500 stored coverages, p95 ${ms(plainCohort.p95)}`,
        ratio: cohortMissing.p95 / plainCohort.p95,
        meets: cohortMissing.p95 <= 100 && seen.size === walkedTotal && returned === walkedTotal,
      });
      figure({
        name: `cohort page, 500 learners of a ${LEARNERS}-learner course by name (offset), p95`,
        value: cohortName.p95,
        unit: 'ms',
        reference: `plain indexed SELECT of 500 stored coverages, p95 ${ms(plainCohort.p95)}`,
        ratio: cohortName.p95 / plainCohort.p95,
      });

      // the administrators' dashboard (the admin page's reports panel: counts, compliance per domain, recent exports)
      const principal = { actor: 'bench', platformId: platform.id, issuer: WWWROOT, courses: 'all' as const, locale: 'fr' as const };
      let panel: Awaited<ReturnType<typeof reportsPanel>> | undefined;
      const dashboard = await p95Of(20, async () => (panel = await reportsPanel(server.ctx, principal, 'bench')));
      const plainCount = await p95Of(20, () => queryRows(db, sql`SELECT status, count(*) FROM learner_coverage GROUP BY status`));
      print(`admin dashboard (${panel?.dashboard.learners} learners, ${panel?.dashboard.compliant} compliant, ${panel?.dashboard.domains.length} domains): p50 ${ms(dashboard.p50)}, p95 ${ms(dashboard.p95)}; target p95 ≤ 200 ms; load average ${load()}`);
      figure({
        name: `admin dashboard p95, ${LEARNERS} learners`,
        value: dashboard.p95,
        unit: 'ms',
        target: '<= 200 ms',
        reference: `plain count of the stored coverages by status, p95 ${ms(plainCount.p95)}`,
        ratio: dashboard.p95 / plainCount.p95,
        meets: dashboard.p95 <= 200,
      });
    } finally {
      await server.close(1_000);
    }
  } finally {
    await store.close();
    const c = new Client({ connectionString: ADMIN_URL });
    await c.connect();
    if (process.env.BENCH_KEEP_DATABASE) print(`database ${name} kept (BENCH_KEEP_DATABASE)`);
    else await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
