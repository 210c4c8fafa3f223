import type { AppContext } from '../context';
import { startWorker, type Worker } from '../worker';
import { purgeOlderThan } from './service';

const DAY_MS = 86_400_000;

export function retentionCutoff(years: number, now = new Date()): Date {
  const cutoff = new Date(now);
  cutoff.setFullYear(cutoff.getFullYear() - years);
  return cutoff;
}

/**
 * The retention setting at work: with RETENTION_YEARS set, each instance purges facts older than the period a
 * minute after start and then daily (the deletes are idempotent, so instances need not coordinate).
 */
export function startRetention(ctx: AppContext, afterPurge?: (affectedUsers: number[]) => Promise<void>): Worker | undefined {
  const years = ctx.config.retentionYears;
  if (!years) return undefined;
  return startWorker({
    name: 'retention',
    logger: ctx.logger,
    intervalMs: DAY_MS,
    firstDelayMs: 60_000,
    tick: async () => {
      const result = await purgeOlderThan(ctx.store.db, retentionCutoff(years));
      if (afterPurge && result.affectedUsers.length) await afterPurge(result.affectedUsers);
      ctx.logger.info({ ...result, affectedUsers: result.affectedUsers.length, years }, 'retention purge');
    },
  });
}
