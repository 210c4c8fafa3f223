import type { Request, RequestHandler } from 'express';
import type { RateLimits } from '../config';
import type { AppContext } from '../context';
import { rateLimited } from '../domain/errors';
import { rateLimited as rateLimitedTotal } from '../metrics';
import { asyncHandler } from './http';

/** The kinds of clients counted: an xAPI key, an API token, an address (LTI login, public verification pages). */
export type RateLimitKind = Exclude<keyof RateLimits, 'windowSeconds'>;

/**
 * Counts one request of `client` (of `kind`) and throws `rate_limited` (429 with Retry-After) past the configured
 * limit of the window. A limit of 0 counts nothing. The counter is in the database: the limit holds across every
 * Socle process on it (each takes its share of a window's budget at once: `RateBudgets`).
 */
export async function enforceRateLimit(ctx: AppContext, kind: RateLimitKind, client: string): Promise<void> {
  await countRequest(ctx, kind, client).check();
}

/** A request counted against its client's limit: `check()` throws `rate_limited` past the limit (the same each call). */
export interface RequestAllowance {
  check(): Promise<void>;
}

/**
 * Starts counting one request of `client` (of `kind`) and does not wait for the count: it runs on its own connection
 * while the request does its work, and the request calls `check()` before it commits anything and before it answers
 * an error (the count, the limit and the answer are those of `enforceRateLimit`; only the waiting overlaps).
 */
export function countRequest(ctx: AppContext, kind: RateLimitKind, client: string): RequestAllowance {
  const { windowSeconds, [kind]: limit } = ctx.config.rateLimits;
  if (limit === 0) return { check: () => Promise.resolve() };
  const counted = ctx.rateBudgets.take(ctx.store.db, `${kind}:${client}`, limit, windowSeconds);
  // an outage is reported by check(), not as an unhandled rejection when the request failed before calling it
  counted.catch(() => undefined);
  let refused = false;
  return {
    check: async () => {
      const resetSeconds = await counted;
      if (resetSeconds === undefined) return;
      if (!refused) rateLimitedTotal.inc({ kind });
      refused = true;
      throw rateLimited(`Too many requests: at most ${limit} per ${windowSeconds} s for this client. Retry after ${resetSeconds} s.`, resetSeconds);
    },
  };
}

/** The client's address (behind a trusted proxy, the forwarded one: see `trust proxy` in src/app/http.ts). */
const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** A middleware counting requests per client address against the `kind` limit. */
export function rateLimitByAddress(ctx: AppContext, kind: RateLimitKind): RequestHandler {
  return asyncHandler(async (req, _res, next) => {
    await enforceRateLimit(ctx, kind, addressOf(req));
    next();
  });
}
