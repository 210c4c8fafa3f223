import { type Config, DEFAULT_RATE_LIMITS } from '../../src/config';
import type { AppContext, Services } from '../../src/context';
import { queryRows, type Store } from '../../src/db/store';
import { sql } from 'drizzle-orm';
import { createLogger } from '../../src/logger';
import { createContext } from '../../src/app/context';
import { type RunningServer, startServer } from '../../src/app/server';
import { createTestDatabase, type Driver } from './db';

/** A configuration for tests: a free port, quiet logs, a fixed LTI secret. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    publicUrl: 'http://127.0.0.1:0',
    databaseUrl: undefined,
    dataDir: '/nonexistent',
    ltiKey: 'test-lti-key-0123456789abcdef0123456789',
    lrs: undefined,
    logLevel: 'silent',
    ltiSession: 'same-site',
    rateLimits: { ...DEFAULT_RATE_LIMITS },
    ...overrides,
  };
}

/** A context over a test store: the test configuration, silent logs, the default services unless replaced. */
export function testContext(store: Store, services: Partial<Services> = {}, config: Config = testConfig()): AppContext {
  return createContext(config, store, createLogger('silent'), services);
}

export interface TestServer extends RunningServer {
  destroy(): Promise<void>;
}

/** The real service on a loopback port over a fresh database of `driver` (with `services` replacing the defaults). */
export async function startTestServer(
  driver: Driver,
  overrides: Partial<Config> = {},
  services: Partial<Services> = {},
  logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
): Promise<TestServer> {
  const database = await createTestDatabase(driver);
  const config = testConfig({
    ...('databaseUrl' in database.options
      ? { databaseUrl: database.options.databaseUrl }
      : { dataDir: database.options.dataDir }),
    ...overrides,
  });
  const server = await startServer(config, { logger, services });
  return {
    ...server,
    destroy: async () => {
      await server.close(1_000);
      await database.destroy();
    },
  };
}

/**
 * Waits until the coverage worker has credited every learner a batch marked (the xAPI resource answers before it):
 * for tests that read what crediting writes besides the coverage pages (badges, score publications).
 */
export async function coverageSettled(store: Store, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const [row] = await queryRows<{ n: number }>(store.db, sql`SELECT count(*)::int AS n FROM coverage_dirty`);
    if (!row?.n) return;
    if (Date.now() > end) throw new Error(`${row.n} learner(s) still marked dirty after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
