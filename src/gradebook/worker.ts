/**
 * The score worker: drains `score_publications` in the background, started and stopped with the server. Rows are
 * claimed for a lease in one statement (FOR UPDATE SKIP LOCKED: several processes share the queue, none publishes
 * a row another holds), published outside any transaction (the HTTP call must not hold a connection or a lock),
 * then deleted — unless re-queued meanwhile — or pushed back with a growing delay after a failure.
 */
import { sql } from 'drizzle-orm';
import type { ProviderInstance } from 'ltijs';
import type { AppContext } from '../context';
import { queryRows } from '../db/store';
import { loggableError } from '../logger';
import { backoffDelay, startWorker, type Worker } from '../worker';
import { publishLearner } from './publish';

/** Seconds a claimed row stays invisible to other workers (longer than one publication can take). */
export const LEASE_SECONDS = 120;
/** After this many failed attempts a publication is dropped (logged); the next coverage change queues it again. */
export const MAX_ATTEMPTS = 8;

export interface DrainResult {
  published: number;
  skipped: number;
  failed: number;
}

export async function drainScorePublications(ctx: AppContext, lti: ProviderInstance, limit = 50): Promise<DrainResult & { claimed: number }> {
  const claimed = await queryRows<{ course_id: number; user_id: number; version: number; attempts: number }>(
    ctx.store.db,
    sql`UPDATE score_publications p SET claimed_until = now() + make_interval(secs => ${LEASE_SECONDS}), attempts = p.attempts + 1
        FROM (SELECT course_id, user_id FROM score_publications
              WHERE not_before <= now() AND (claimed_until IS NULL OR claimed_until < now())
              ORDER BY not_before, course_id, user_id LIMIT ${limit} FOR UPDATE SKIP LOCKED) c
        WHERE p.course_id = c.course_id AND p.user_id = c.user_id
        RETURNING p.course_id, p.user_id, p.version, p.attempts`,
  );
  const result = { claimed: claimed.length, published: 0, skipped: 0, failed: 0 };
  for (const row of claimed) {
    let error: string | undefined;
    try {
      const outcome = await publishLearner(ctx, lti, row.course_id, row.user_id);
      if (outcome.status === 'published') result.published += 1;
      else if (outcome.status === 'failed') error = outcome.error;
      else result.skipped += 1;
    } catch (e) {
      error = (e as Error).message;
    }
    if (error === undefined || row.attempts >= MAX_ATTEMPTS) {
      if (error !== undefined) ctx.logger.error({ courseId: row.course_id, userId: row.user_id, error }, 'score publication abandoned');
      await ctx.store.db.execute(
        sql`DELETE FROM score_publications WHERE course_id = ${row.course_id} AND user_id = ${row.user_id} AND version = ${row.version}`,
      );
      await ctx.store.db.execute(
        sql`UPDATE score_publications SET claimed_until = NULL WHERE course_id = ${row.course_id} AND user_id = ${row.user_id}`,
      );
    } else {
      result.failed += 1;
      ctx.logger.warn({ courseId: row.course_id, userId: row.user_id, attempts: row.attempts, error }, 'score publication failed; retrying later');
      const delay = backoffDelay(row.attempts, 15, 3600); // seconds
      await ctx.store.db.execute(
        sql`UPDATE score_publications SET claimed_until = NULL, last_error = ${error.slice(0, 500)},
              not_before = now() + make_interval(secs => ${delay})
            WHERE course_id = ${row.course_id} AND user_id = ${row.user_id} AND version = ${row.version}`,
      );
      await ctx.store.db.execute(
        sql`UPDATE score_publications SET claimed_until = NULL WHERE course_id = ${row.course_id} AND user_id = ${row.user_id}`,
      );
    }
  }
  return result;
}

export interface ScoreWorker extends Worker {
  /** Drains now, between ticks; resolves when the queue has nothing due. */
  drain(): Promise<DrainResult>;
}

/** Drains the queue every `intervalMs` until nothing is due. */
export function startScoreWorker(ctx: AppContext, lti: ProviderInstance, intervalMs = 5_000): ScoreWorker {
  const worker = startWorker({
    name: 'scores',
    logger: ctx.logger,
    intervalMs,
    firstDelayMs: intervalMs,
    tick: async () => (await drainScorePublications(ctx, lti)).claimed > 0,
  });
  const drainAll = async (): Promise<DrainResult> => {
    const total = { published: 0, skipped: 0, failed: 0 };
    try {
      for (;;) {
        const r = await drainScorePublications(ctx, lti);
        total.published += r.published;
        total.skipped += r.skipped;
        total.failed += r.failed;
        if (r.claimed === 0) break;
      }
    } catch (error) {
      ctx.logger.error({ worker: 'scores', error: loggableError(error) }, 'worker failed; retrying later');
    }
    return total;
  };
  return { ...worker, drain: () => worker.exclusive(drainAll) };
}
