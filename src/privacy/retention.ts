import type { AppContext } from '../context';
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
export function startRetention(ctx: AppContext, afterPurge?: (affectedUsers: number[]) => Promise<void>): { stop(): void } {
  const years = ctx.config.retentionYears;
  if (!years) return { stop: () => undefined };
  const run = async () => {
    try {
      const result = await purgeOlderThan(ctx.store.db, retentionCutoff(years));
      if (afterPurge && result.affectedUsers.length) await afterPurge(result.affectedUsers);
      ctx.logger.info({ ...result, affectedUsers: result.affectedUsers.length, years }, 'retention purge');
    } catch (error) {
      ctx.logger.error({ err: error }, 'retention purge failed');
    }
  };
  const first = setTimeout(run, 60_000);
  const daily = setInterval(run, DAY_MS);
  first.unref();
  daily.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(daily);
    },
  };
}
