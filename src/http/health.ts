import { Router } from 'express';
import type { AppContext } from '../context';
import { version } from '../version';
import { asyncHandler } from './errors';

const startedAt = Date.now();
const PING_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `GET /health`: 200 when the service and its database answer, 503 naming the failing part otherwise. */
export function healthRouter({ store, logger }: AppContext): Router {
  const router = Router();
  router.get(
    '/health',
    asyncHandler(async (_req, res) => {
      const body = {
        status: 'ok' as 'ok' | 'error',
        database: 'ok' as string,
        driver: store.driver,
        version,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      };
      try {
        await withTimeout(store.ping(), PING_TIMEOUT_MS);
      } catch (error) {
        logger.warn({ err: error }, 'health check: database unreachable');
        body.status = 'error';
        body.database = `unreachable: ${(error as Error).message}`;
      }
      res
        .status(body.status === 'ok' ? 200 : 503)
        .set('Cache-Control', 'no-store')
        .json(body);
    }),
  );
  return router;
}
