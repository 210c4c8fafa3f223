/**
 * Keeping the stored coverage fresh. Small changes recompute the learners concerned at once, in the caller's
 * transaction; large ones (a mapping or policy change touching many learners) only mark them dirty, in one
 * set-based statement, and the next read, the background worker or `socle coverage recompute` catches up.
 * Crediting and changes of mappings or policies are ordered by the platform's crediting lock (`creditingLock`): a
 * change never commits between a crediting transaction's read of the mappings and its commit.
 */
import { sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { type Executor, inList, queryRows } from '../db/store';
import { type CoverageDeps, coverageDeps, type CoverageServices } from './deps';
import { startWorker, type Worker } from '../worker';
import { creditingLock, refreshLearners } from './engine';

/** Above this many learners, a change marks them dirty instead of recomputing them in the request. */
export const IMMEDIATE_LIMIT = 200;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The hook by statement ids (completion statements stored or voided): recomputes their learners in `tx`. */
export async function afterCompletionStatements(tx: Executor, deps: CoverageDeps, platformId: number, statementIds: readonly string[]): Promise<void> {
  const ids = statementIds.filter((id) => UUID.test(id));
  if (ids.length === 0) return;
  const rows = await queryRows<{ user_id: number }>(
    tx,
    // compared as uuid so that the unique index on statement_id is used
    sql`SELECT DISTINCT user_id FROM completion_events WHERE statement_id = ANY(string_to_array(${ids.join(',')}, ',')::uuid[])`,
  );
  if (rows.length) await refreshLearners(tx, deps, platformId, rows.map((r) => r.user_id));
}

async function markOrRefresh(ex: Executor, deps: CoverageDeps, platformId: number, learners: SQLUsers, limit: number): Promise<{ learners: number; deferred: boolean }> {
  // after the crediting transactions in flight have committed, so that their new facts are among the learners chosen
  await creditingLock(ex, platformId, 'exclusive');
  const marked = await queryRows<{ user_id: number }>(
    ex,
    sql`INSERT INTO coverage_dirty (user_id, platform_id) ${learners}
        ON CONFLICT (user_id) DO UPDATE SET marked_at = now(), generation = DEFAULT RETURNING user_id`,
  );
  if (marked.length > limit) return { learners: marked.length, deferred: true };
  await refreshLearners(ex, deps, platformId, marked.map((r) => r.user_id));
  return { learners: marked.length, deferred: false };
}

type SQLUsers = ReturnType<typeof sql>;

/** Mapping hook: `changedActivities` of a course (from saveMapping): only the learners with events on them. */
export async function afterMappingChange(ex: Executor, deps: CoverageDeps, courseId: number, changedActivities: readonly string[], limit = IMMEDIATE_LIMIT) {
  if (changedActivities.length === 0) return { learners: 0, deferred: false };
  const [course] = await queryRows<{ platform_id: number }>(ex, sql`SELECT platform_id FROM courses WHERE id = ${courseId}`);
  if (!course) return { learners: 0, deferred: false };
  return markOrRefresh(
    ex,
    deps,
    course.platform_id,
    sql`SELECT DISTINCT user_id, platform_id FROM completion_events
        WHERE course_id = ${courseId} AND activity_iri IN (${inList(changedActivities)})`,
    limit,
  );
}

/** Course policy hook (requireSuccess, capToMeasuredDuration changed): the learners with events in the course. */
export async function afterCoursePolicyChange(ex: Executor, deps: CoverageDeps, courseId: number, limit = IMMEDIATE_LIMIT) {
  const [course] = await queryRows<{ platform_id: number }>(ex, sql`SELECT platform_id FROM courses WHERE id = ${courseId}`);
  if (!course) return { learners: 0, deferred: false };
  return markOrRefresh(ex, deps, course.platform_id, sql`SELECT DISTINCT user_id, platform_id FROM completion_events WHERE course_id = ${courseId}`, limit);
}

/** Platform default policy hook: every learner of the platform with events. */
export async function afterPlatformPolicyChange(ex: Executor, deps: CoverageDeps, platformId: number, limit = IMMEDIATE_LIMIT) {
  return markOrRefresh(ex, deps, platformId, sql`SELECT DISTINCT user_id, platform_id FROM completion_events WHERE platform_id = ${platformId}`, limit);
}

/** A change to these learners' facts (a référentiel transition moved their mappings and credits). */
export async function afterLearnersChange(ex: Executor, deps: CoverageDeps, platformId: number, userIds: readonly number[], limit = IMMEDIATE_LIMIT) {
  if (userIds.length === 0) return { learners: 0, deferred: false };
  return markOrRefresh(ex, deps, platformId, sql`SELECT unnest(string_to_array(${userIds.join(',')}, ',')::int[]), ${platformId}::int`, limit);
}

/** Recomputes up to `limit` dirty learners (of one platform when given), oldest first; returns how many. */
export async function drainDirty(ex: Executor, deps: CoverageDeps, limit = 500, platformId?: number): Promise<number> {
  const rows = await queryRows<{ user_id: number; platform_id: number }>(
    ex,
    sql`SELECT user_id, platform_id FROM coverage_dirty ${platformId === undefined ? sql`` : sql`WHERE platform_id = ${platformId}`}
        ORDER BY marked_at, user_id LIMIT ${limit}`,
  );
  const byPlatform = new Map<number, number[]>();
  for (const r of rows) {
    const list = byPlatform.get(r.platform_id);
    if (list) list.push(r.user_id);
    else byPlatform.set(r.platform_id, [r.user_id]);
  }
  for (const [platformId, userIds] of byPlatform) await refreshLearners(ex, deps, platformId, userIds);
  return rows.length;
}

/**
 * Credits the platform's learners still marked dirty, a transaction per 500: what reads the stored coverage of many
 * learners at once (a compliance report) then counts every statement received before it.
 */
export async function creditMarked(ex: Executor, services: CoverageServices, platformId: number): Promise<void> {
  while ((await ex.transaction((tx) => drainDirty(tx, coverageDeps(services, tx), 500, platformId))) === 500) {
    // the next 500
  }
}

/** How long after a batch's wake the worker credits (the learners of the batches that arrive meanwhile with it). */
export const COVERAGE_WAKE_DELAY_MS = 100;

/** Drains dirty learners in the background, a batch per transaction, until none is left; then waits `intervalMs`. */
export function startCoverageWorker(ctx: AppContext, intervalMs = 5_000): Worker {
  return startWorker({
    name: 'coverage',
    logger: ctx.logger,
    intervalMs,
    firstDelayMs: intervalMs,
    // woken by every batch with completions: the batches of the next moment are credited together
    wakeDelayMs: COVERAGE_WAKE_DELAY_MS,
    tick: async () => (await ctx.store.db.transaction((tx) => drainDirty(tx, coverageDeps(ctx, tx), 500))) > 0,
  });
}
