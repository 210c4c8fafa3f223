import { sql } from 'drizzle-orm';
import { type Executor, namedStatement, queryNamed, queryRows } from './db/store';

export interface RateLimitHit {
  /** Requests of this client in the current window, this one included. */
  hits: number;
  /** Seconds until the current window ends (at least 1). */
  resetSeconds: number;
}

/**
 * Counts one request of `key` in the current fixed window of `windowSeconds` and returns the window's count.
 *
 * One statement, one round trip, on both drivers: `INSERT … ON CONFLICT DO UPDATE … RETURNING` on the
 * `rate_limits` row of the client. The window is aligned on the database's clock (`clock_timestamp()`), so every
 * Socle process on the database counts in the same window, whatever its own clock. A row is per client, not per
 * window: it is reset when a new window starts, and rows of clients gone quiet are purged (`purgeRateLimits`).
 *
 * Why not `rate-limiter-flexible`: its PostgreSQL store needs a node-postgres Pool (not PGlite, the default store)
 * and creates its own table outside the migrations; this counter is the same algorithm as its fixed-window store,
 * in one statement over Socle's own store.
 */
export async function hitRateLimit(ex: Executor, key: string, windowSeconds: number): Promise<RateLimitHit> {
  const [row] = await queryNamed<{ hits: number; reset: number }>(ex, HIT, { key, window: Math.max(1, Math.floor(windowSeconds)) });
  if (!row) throw new Error('rate_limits: the upsert returned no row');
  return { hits: Number(row.hits), resetSeconds: Number(row.reset) };
}

/** The counter's one statement, prepared (it runs on every counted request). */
const HIT = namedStatement(
  'socle_rate_limit_hit',
  (() => {
    const window = sql`${sql.placeholder('window')}::int`;
    return sql`INSERT INTO rate_limits AS r (key, window_start, hits)
        VALUES (${sql.placeholder('key')}::text, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / ${window}) * ${window}), 1)
        ON CONFLICT (key) DO UPDATE SET
          hits = CASE WHEN r.window_start >= excluded.window_start THEN r.hits + 1 ELSE 1 END,
          window_start = greatest(r.window_start, excluded.window_start)
        RETURNING hits,
          greatest(1, ceil(extract(epoch FROM (window_start + make_interval(secs => ${window}) - clock_timestamp()))))::int AS reset`;
  })(),
);

/** Deletes the counters of windows that ended more than `windowSeconds` ago; returns how many. */
export async function purgeRateLimits(ex: Executor, windowSeconds: number): Promise<number> {
  const rows = await queryRows<{ key: string }>(
    ex,
    sql`DELETE FROM rate_limits WHERE window_start < clock_timestamp() - make_interval(secs => ${2 * Math.max(1, Math.floor(windowSeconds))}::int) RETURNING key`,
  );
  return rows.length;
}
