import { sql } from 'drizzle-orm';
import { type Executor, namedStatement, queryNamed, queryRows } from './db/store';

export interface RateLimitHit {
  /** Requests of this client in the current window, these ones included. */
  hits: number;
  /** Seconds until the current window ends (at least 1). */
  resetSeconds: number;
  /** Milliseconds until the current window ends, by the database's clock when it counted (may be 0 or less). */
  endsInMs: number;
}

/**
 * Counts `count` requests of `key` in the current fixed window of `windowSeconds` and returns the window's count.
 *
 * One statement, one round trip, on both drivers: `INSERT … ON CONFLICT DO UPDATE … RETURNING` on the
 * `rate_limits` row of the client. The window is aligned on the database's clock (`clock_timestamp()`), so every
 * Socle process on the database counts in the same window, whatever its own clock. A row is per client, not per
 * window: it is reset when a new window starts, and rows of clients gone quiet are purged (`purgeRateLimits`).
 *
 * Why not `rate-limiter-flexible`: its PostgreSQL store needs a node-postgres Pool (not PGlite, the default store)
 * and creates its own table outside the migrations; this counter is the same algorithm as its fixed-window store,
 * in one statement over Socle's own store, and `RateBudgets` adds what it has no equivalent of (a process taking
 * a share of the window's budget at once, without ever letting the limit be exceeded).
 */
export async function hitRateLimit(ex: Executor, key: string, windowSeconds: number, count = 1): Promise<RateLimitHit> {
  const [row] = await queryNamed<{ hits: number; reset: number; ends_in_ms: number }>(ex, HIT, {
    key,
    window: Math.max(1, Math.floor(windowSeconds)),
    count: Math.max(1, Math.floor(count)),
  });
  if (!row) throw new Error('rate_limits: the upsert returned no row');
  return { hits: Number(row.hits), resetSeconds: Number(row.reset), endsInMs: Number(row.ends_in_ms) };
}

/** The counter's one statement, prepared (it runs on every counted request). */
const HIT = namedStatement(
  'socle_rate_limit_hit',
  (() => {
    const window = sql`${sql.placeholder('window')}::int`;
    const count = sql`${sql.placeholder('count')}::int`;
    const left = sql`window_start + make_interval(secs => ${window}) - clock_timestamp()`;
    return sql`INSERT INTO rate_limits AS r (key, window_start, hits)
        VALUES (${sql.placeholder('key')}::text, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / ${window}) * ${window}), ${count})
        ON CONFLICT (key) DO UPDATE SET
          hits = CASE WHEN r.window_start >= excluded.window_start THEN r.hits + excluded.hits ELSE excluded.hits END,
          window_start = greatest(r.window_start, excluded.window_start)
        RETURNING hits,
          greatest(1, ceil(extract(epoch FROM (${left}))))::int AS reset,
          (extract(epoch FROM (${left})) * 1000)::float8 AS ends_in_ms`;
  })(),
);

/** How many requests a process reserves at once under `limit`: 1 % of it, from 1 to 100. */
export function leaseSize(limit: number): number {
  return Math.max(1, Math.min(100, Math.floor(limit / 100)));
}

/** Requests of one client this process reserved in the current window and has not used yet. */
interface Lease {
  left: number;
  /** When the window ends, on this process's monotonic clock (a little before the database's end, never after). */
  endsAt: number;
  /** The window's whole budget is reserved (by this process or others): once `left` is used, the answer is 429. */
  spent: boolean;
}

/** Leases kept at most: past it, those of ended windows are dropped, then the oldest (their requests go unused). */
const MAX_LEASES = 10_000;

/**
 * The rate limits of this process: instead of counting every request in the database, a process reserves
 * `leaseSize(limit)` requests of a client at once (`hitRateLimit` with that count) and admits them from memory, so
 * all but one request in a hundred (at the default limits: one in 30 of an xAPI key, one in 6 of the others) skip
 * the counter's round trip. The database still counts every request admitted before it is admitted, so the limit
 * holds across every Socle process: a client never gets more than `limit` requests in a window. What a lease may
 * cost is the other way: requests a process reserved and did not use before the window ended, at most
 * `leaseSize - 1` per process (1 % of the limit), are refused to the client elsewhere. Concurrent requests of one
 * client wait for one reservation, not one each. Kept in the app context (`rateBudgets`), one per process.
 */
export class RateBudgets {
  private readonly leases = new Map<string, Lease>();
  private readonly reserving = new Map<string, Promise<Lease>>();
  private readonly now = () => performance.now();

  /** Takes one request of `key` under `limit` per `windowSeconds`: undefined when admitted, else the seconds until the window ends. */
  async take(ex: Executor, key: string, limit: number, windowSeconds: number): Promise<number | undefined> {
    for (;;) {
      const held = this.leases.get(key);
      const current = held !== undefined && this.now() < held.endsAt;
      const lease = current ? held : await this.reserve(ex, key, limit, windowSeconds);
      if (lease.left > 0) {
        lease.left--;
        return undefined;
      }
      if (lease.spent) return Math.max(1, Math.ceil((lease.endsAt - this.now()) / 1000));
      // concurrent requests used this reservation up before this one: the next is reserved
      if (lease === held) this.leases.delete(key);
    }
  }

  private reserve(ex: Executor, key: string, limit: number, windowSeconds: number): Promise<Lease> {
    const pending = this.reserving.get(key);
    if (pending) return pending;
    const size = leaseSize(limit);
    const asked = this.now();
    const reservation = hitRateLimit(ex, key, windowSeconds, size)
      .then(({ hits, endsInMs }) => {
        const lease = { left: Math.max(0, Math.min(size, limit - (hits - size))), endsAt: asked + endsInMs, spent: hits >= limit };
        this.keep(key, lease);
        return lease;
      })
      .finally(() => this.reserving.delete(key));
    this.reserving.set(key, reservation);
    return reservation;
  }

  private keep(key: string, lease: Lease): void {
    this.leases.delete(key);
    if (this.leases.size >= MAX_LEASES) {
      const now = this.now();
      for (const [k, l] of this.leases) if (l.endsAt <= now) this.leases.delete(k);
      for (const k of this.leases.keys()) {
        if (this.leases.size < MAX_LEASES) break;
        this.leases.delete(k);
      }
    }
    this.leases.set(key, lease);
  }
}

/** Deletes the counters of windows that ended more than `windowSeconds` ago; returns how many. */
export async function purgeRateLimits(ex: Executor, windowSeconds: number): Promise<number> {
  const rows = await queryRows<{ key: string }>(
    ex,
    sql`DELETE FROM rate_limits WHERE window_start < clock_timestamp() - make_interval(secs => ${2 * Math.max(1, Math.floor(windowSeconds))}::int) RETURNING key`,
  );
  return rows.length;
}
