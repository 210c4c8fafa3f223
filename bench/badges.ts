/**
 * `npm run bench -- badges`: Open Badges issuing at national scale on a real PostgreSQL (not a test: it prints
 * figures). BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): a database is created and
 * dropped.
 *
 * 1. Issuing: BENCH_BADGE_CREDENTIALS (10,000) credentials, 6 per learner (the 5 domains of a 28 h référentiel and
 *    the whole référentiel), issued and stored through the coverage's path (`applyBadges`, one transaction per
 *    BENCH_BADGE_BATCH = 30,000 credentials: a recompute chunk of 5,000 learners), with `earned` statements queued.
 *    References in the same run: the bare jose signature of the same payload with the same key, and plain
 *    multi-row INSERTs of the same rows into a table without indexes (sign then insert: what the floor allows).
 * 2. First recompute: BENCH_BADGE_COHORT (70,000) learners whose completions earn the 6 badges each
 *    (`socle coverage recompute`'s function, badges on), against the same recompute with badges off (reference).
 *    BENCH_BADGE_COHORT_RUN measures a fraction of the cohort and extrapolates linearly (said so in the output).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { decodeJwt, SignJWT } from 'jose';
import { achievementDefinition } from '../src/badges/achievements';
import { activeSigningKey } from '../src/badges/keys';
import { type Config, DEFAULT_RATE_LIMITS } from '../src/config';
import { applyBadges, type BadgePlan } from '../src/coverage/badges';
import { coverageDeps } from '../src/coverage/deps';
import { recomputeAll } from '../src/coverage/recompute';
import { memoised, type ReferentialSource } from '../src/coverage/referentials';
import { type Database, openStore, queryRows } from '../src/db/store';
import type { ReferentialVersion } from '../src/domain/coverage';
import type { ReferentialOutline } from '../src/domain/referential';
import { ensureCourse, ensurePlatform } from '../src/identity/records';
import { createLogger } from '../src/logger';
import { createContext } from '../src/app/context';
import { figure } from './figure';
import { withBenchDatabase } from './database';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CREDENTIALS = Number(process.env.BENCH_BADGE_CREDENTIALS ?? 10_000);
const BATCH = Number(process.env.BENCH_BADGE_BATCH ?? 30_000);
const COHORT = Number(process.env.BENCH_BADGE_COHORT ?? 70_000);
const COHORT_RUN = Math.min(COHORT, Number(process.env.BENCH_BADGE_COHORT_RUN ?? COHORT));
const WWWROOT = 'https://moodle.univ-exemple.fr';
const PER_LEARNER = 6;

const shape: [string, number][] = [
  ['1', 6],
  ['2', 5],
  ['3', 5],
  ['4', 6],
  ['5', 6],
];
const referential: ReferentialVersion = {
  id: 'socle-sante-28h',
  version: 'V1.1.2022',
  title: 'Référentiel socle (28 h)',
  requiredMinutes: 28 * 60,
  domains: shape.map(([code, hours]) => ({
    code,
    title: `Domaine ${code} du socle numérique en santé`,
    requiredMinutes: hours * 60,
    competencies: [1, 2, 3].map((k) => ({ key: `${code}.${k}`, code: `${code}.${k}`, title: `Compétence ${code}.${k}`, requiredMinutes: null })),
  })),
};
const outline = referential as unknown as ReferentialOutline;

const print = (line: string) => process.stdout.write(`${line}\n`);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;


async function seedUsers(db: Database, platformId: number, n: number, prefix: string): Promise<number[]> {
  const rows = await queryRows<{ id: number }>(
    db,
    sql`INSERT INTO users (platform_id, sub) SELECT ${platformId}::int, ${prefix}::text || g FROM generate_series(1, ${n}) g RETURNING id`,
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Part 1: credentials/s through `applyBadges`, and the references (jose alone, plain INSERTs of the same rows). */
async function issuing(db: Database, ctx: ReturnType<typeof createContext>, platformId: number): Promise<void> {
  const learners = Math.ceil(CREDENTIALS / PER_LEARNER);
  const userIds = await seedUsers(db, platformId, learners, 'issue-');
  const paths = [...shape.map(([code]) => code), null].map((code) => ({ code, def: achievementDefinition(outline, code) }));
  const items: BadgePlan['issue'] = [];
  for (const userId of userIds) {
    for (const { code, def } of paths) {
      if (items.length >= CREDENTIALS) break;
      const minutes = def?.requiredMinutes ?? 0;
      items.push({ userId, path: def?.path ?? '', referential: outline, domainCode: code, minutes });
    }
  }
  // the signing key exists beforehand (created on first use otherwise)
  await activeSigningKey(db, ctx.config.ltiKey);
  await db.execute(sql`ANALYZE`);
  const now = new Date();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let issued = 0;
  for (let i = 0; i < items.length; i += BATCH) {
    const plan: BadgePlan = { issue: items.slice(i, i + BATCH), revoke: [] };
    const result = await db.transaction((tx) => applyBadges(tx, { config: ctx.config }, plan, now));
    issued += result.issued;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rate = issued / wall;
  print(`issuing: ${issued} credentials in ${wall.toFixed(2)} s → ${Math.round(rate)} credentials/s (node CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); load ${load()}`);

  // reference 1: jose alone, the same payload and key
  const [sample] = await queryRows<{ jwt: string }>(db, sql`SELECT jwt FROM badge_credentials LIMIT 1`);
  const key = await activeSigningKey(db, ctx.config.ltiKey);
  const payload = decodeJwt(sample?.jwt ?? '');
  const signs = Math.min(CREDENTIALS, 5_000);
  const s0 = performance.now();
  for (let i = 0; i < signs; i++) {
    await new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  }
  const signRate = signs / ((performance.now() - s0) / 1000);
  print(`reference: jose ${key.alg} sign of the same payload (${(sample?.jwt.length ?? 0).toLocaleString('en')} characters): ${Math.round(signRate)}/s`);

  // reference 2: plain multi-row INSERTs of the same rows into a table without indexes or constraints
  await db.execute(sql`CREATE TABLE plain_credentials (id uuid, user_id int, achievement_id int, status text, kid text, jwt text,
    credits_earned_minutes int, issued_at timestamptz)`);
  const rows = await queryRows<{ id: string; user_id: number; achievement_id: number; kid: string; jwt: string; m: number; at: Date }>(
    db,
    sql`SELECT id::text, user_id, achievement_id, kid, jwt, credits_earned_minutes AS m, issued_at AS at FROM badge_credentials`,
  );
  const i0 = performance.now();
  for (let i = 0; i < rows.length; i += 1_000) {
    const part = rows.slice(i, i + 1_000);
    await db.execute(sql`INSERT INTO plain_credentials VALUES ${sql.join(
      part.map((r) => sql`(${r.id}::uuid, ${r.user_id}, ${r.achievement_id}, 'active', ${r.kid}, ${r.jwt}, ${r.m}, ${r.at})`),
      sql`, `,
    )}`);
  }
  const insertRate = rows.length / ((performance.now() - i0) / 1000);
  const floor = 1 / (1 / signRate + 1 / insertRate);
  print(`reference: plain INSERTs of the same ${rows.length} rows (1,000 a statement): ${Math.round(insertRate)}/s; sign then insert: ${Math.round(floor)}/s`);
  figure({
    name: 'badge issuing',
    value: Math.round(rate),
    unit: 'credentials/s',
    target: '>= 500',
    reference: `jose ${key.alg} sign ${Math.round(signRate)}/s then plain INSERT ${Math.round(insertRate)}/s = ${Math.round(floor)}/s`,
    ratio: round(rate / floor, 3),
    meets: rate >= 500,
  });
}

/** Part 2: the first recompute of a cohort earning 6 badges each, against the same recompute without badges. */
async function cohort(db: Database, config: Config, platformId: number): Promise<void> {
  const course = await ensureCourse(db, platformId, '10', 'Socle numérique');
  // one activity per domain worth the domain's hours, plus one more per domain (so credits exceed the thresholds)
  const mappings = shape.flatMap(([code, hours], d) => [
    { cmid: 1000 + d * 2, key: `${code}.1`, minutes: hours * 60 },
    { cmid: 1001 + d * 2, key: `${code}.2`, minutes: 30 },
  ]);
  const iri = (cmid: number) => `${WWWROOT}/mod/page/view.php?id=${cmid}`;
  await db.execute(sql`INSERT INTO activity_mappings (course_id, activity_iri, referential_id, referential_version, competency_key, minutes) VALUES
    ${sql.join(mappings.map((m) => sql`(${course.id}, ${iri(m.cmid)}, ${referential.id}, ${referential.version}, ${m.key}, ${m.minutes})`), sql`, `)}`);
  // the learners of part 1 are on another platform, so the recompute sees this cohort only
  await seedUsers(db, platformId, COHORT_RUN, '');
  await db.execute(sql`
    INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds,
                                   statement_timestamp, position, voided)
    SELECT gen_random_uuid(), ${platformId}::int, u.id, ${course.id}::int, ${`${WWWROOT}/mod/page/view.php?id=`}::text || (1000 + a), 'completed',
           NULL, 900, timestamptz '2026-01-01' + (random() * 365 * 86400) * interval '1 second', a, false
    FROM users u CROSS JOIN generate_series(0, ${mappings.length - 1}) a WHERE u.platform_id = ${platformId}`);
  await db.execute(sql`ANALYZE`);
  const referentials: ReferentialSource = () =>
    memoised(async (id, version) => (id === referential.id && (version === undefined || version === referential.version) ? referential : undefined));
  const store = { db } as never;
  const bare = createContext(config, store, createLogger('silent'), { referentials, badges: undefined });
  const issuing = createContext(config, store, createLogger('silent'), { referentials });

  const r0 = performance.now();
  await recomputeAll(db, coverageDeps(bare, db), { platformId });
  const without = (performance.now() - r0) / 1000;
  await db.execute(sql`DELETE FROM learner_coverage`);
  await db.execute(sql`DELETE FROM score_publications`);
  print(`reference: first recompute of ${COHORT_RUN} learners without badges: ${without.toFixed(1)} s; load ${load()}`);

  const c0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await recomputeAll(db, coverageDeps(issuing, db), { platformId });
  const wall = (performance.now() - c0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [counts] = await queryRows<{ credentials: number; outbox: number }>(
    db,
    sql`SELECT (SELECT count(*)::int FROM badge_credentials c JOIN users u ON u.id = c.user_id WHERE u.platform_id = ${platformId}) AS credentials,
               (SELECT count(*)::int FROM xapi_outbox) AS outbox`,
  );
  const credentials = counts?.credentials ?? 0;
  const scale = COHORT / COHORT_RUN;
  const projected = wall * scale;
  print(
    `first recompute of ${result.learners} learners with badges: ${wall.toFixed(1)} s, ${credentials} credentials (${Math.round(credentials / wall)}/s), ` +
      `${counts?.outbox ?? 0} statements queued, node CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; load ${load()}`,
  );
  if (scale !== 1) print(`  measured on ${COHORT_RUN} of ${COHORT} learners: ${COHORT} extrapolated linearly to ${(projected / 60).toFixed(1)} min`);
  figure({
    name: `first recompute ${COHORT} learners x 6 badges${scale !== 1 ? ` (extrapolated from ${COHORT_RUN})` : ''}`,
    value: round(projected / 60, 2),
    unit: 'min',
    target: '<= 15 min',
    reference: `the same recompute without badges ${round((without * scale) / 60, 2)} min`,
    ratio: round(projected / (without * scale), 2),
    meets: projected <= 15 * 60,
  });
}

async function main(): Promise<void> {
  await withBenchDatabase(ADMIN_URL, async (databaseUrl, name) => {
    const config: Config = {
      port: 0,
      host: '127.0.0.1',
      publicUrl: 'https://socle.univ-exemple.fr',
      databaseUrl,
      dataDir: '/nonexistent',
      ltiKey: 'bench-lti-key-0123456789abcdef0123456789',
      lrs: undefined,
      logLevel: 'silent',
      ltiSession: 'same-site',
      rateLimits: { ...DEFAULT_RATE_LIMITS },
    };
    const store = await openStore({ databaseUrl });
    try {
      print(`database ${name}; load ${load()}; ${CREDENTIALS} credentials, cohort ${COHORT_RUN}${COHORT_RUN !== COHORT ? ` of ${COHORT}` : ''} learners × 6 badges`);
      const ctx = createContext(config, store, createLogger('silent'), {});
      if (CREDENTIALS > 0) await issuing(store.db, ctx, (await ensurePlatform(store.db, 'https://moodle.autre-exemple.fr')).id);
      if (COHORT_RUN > 0) await cohort(store.db, config, (await ensurePlatform(store.db, WWWROOT)).id);
    } finally {
      await store.close();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
