import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { Router } from 'express';
import type { z } from 'zod';
import { databaseFault } from '../db/faults';
import { migrationsFolder, queryRows } from '../db/store';
import { registry } from '../metrics';
import type { AppContext } from '../context';
import { version } from '../version';
import type { health } from './schemas';
import { asyncHandler, RETRY_AFTER_SECONDS } from '../web/http';
import { unauthorized } from '../domain/errors';

const startedAt = Date.now();

/** Whether `header` is `Bearer <token>`, compared in constant time (on digests, so lengths do not leak either). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const sent = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!sent) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(sent), digest(token));
}
const PING_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What `database` says when the ping failed: the kind of outage, or the error's own message. */
function unreachable(error: unknown): string {
  return `unreachable: ${databaseFault(error)?.message ?? (error as Error).message}`;
}

/** The migrations this build ships, as drizzle records them (`created_at` = the journal's `when`). */
function expectedMigration(): { count: number; last: number } {
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  return { count: journal.entries.length, last: Math.max(...journal.entries.map((e) => e.when)) };
}

export type HealthStatus = z.infer<typeof health>;

/** What `/health` (and the home page) say of the service: up, its database answering or not, its version. */
export async function healthStatus({ store, logger }: AppContext): Promise<HealthStatus> {
  const body: HealthStatus = {
    status: 'ok',
    database: 'ok',
    driver: store.driver,
    version,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
  try {
    await withTimeout(store.ping(), PING_TIMEOUT_MS);
  } catch (error) {
    logger.warn({ err: error }, 'health check: database unreachable');
    body.status = 'error';
    body.database = unreachable(error);
  }
  return body;
}

/**
 * `GET /health` (liveness, with the database status): 200 when the service and its database answer, 503 naming the
 * failing part otherwise. `GET /ready`: 200 only when the database answers and carries every migration of this build.
 * `GET /metrics`: Prometheus text format; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`
 * (401 with WWW-Authenticate otherwise).
 */
export function healthRouter(ctx: AppContext): Router {
  const { store, config } = ctx;
  const router = Router();
  router.get(
    '/health',
    asyncHandler(async (_req, res) => {
      const body = await healthStatus(ctx);
      if (body.status !== 'ok') res.set('Retry-After', String(RETRY_AFTER_SECONDS));
      res
        .status(body.status === 'ok' ? 200 : 503)
        .set('Cache-Control', 'no-store')
        .json(body);
    }),
  );
  router.get(
    '/ready',
    asyncHandler(async (_req, res) => {
      const expected = expectedMigration();
      try {
        const [applied] = await withTimeout(
          queryRows<{ count: number; last: string | null }>(
            store.db,
            sql`SELECT count(*)::int AS count, max(created_at)::text AS last FROM drizzle.__drizzle_migrations`,
          ),
          PING_TIMEOUT_MS,
        );
        const upToDate = applied !== undefined && Number(applied.last) >= expected.last;
        res
          .status(upToDate ? 200 : 503)
          .set('Cache-Control', 'no-store')
          .json({
            status: upToDate ? 'ready' : 'not_ready',
            database: 'ok',
            migrations: { applied: applied?.count ?? 0, expected: expected.count, upToDate },
          });
      } catch (error) {
        res
          .status(503)
          .set({ 'Cache-Control': 'no-store', 'Retry-After': String(RETRY_AFTER_SECONDS) })
          .json({ status: 'not_ready', database: unreachable(error) });
      }
    }),
  );
  router.get(
    '/metrics',
    asyncHandler(async (req, res) => {
      if (config.metricsToken && !bearerMatches(req.get('authorization'), config.metricsToken)) {
        throw unauthorized('METRICS_TOKEN is set: send it as Authorization: Bearer <token>.', 'Bearer realm="socle-metrics"');
      }
      res.set('Content-Type', registry.contentType).send(await registry.metrics());
    }),
  );
  return router;
}
