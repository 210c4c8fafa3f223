import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { type Executor, openStore, queryRows, type Store } from '../../src/db/store';

export type Driver = 'pglite' | 'postgres';

/** PGlite always; a real PostgreSQL server too when TEST_DATABASE_URL is set (CI sets it). */
export const drivers: Driver[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** `describe` for tests that need a PostgreSQL server: skipped without TEST_DATABASE_URL (the run says so once). */
// (read from globalThis: scripts outside jest, such as scripts/screenshots.ts, import this module too)
export const describeWithServer = (process.env.TEST_DATABASE_URL ? globalThis.describe : globalThis.describe?.skip) as jest.Describe;

export interface TestStore {
  store: Store;
  /** What a Config needs to open the same database again (`databaseUrl` or `dataDir`). */
  options: { databaseUrl: string } | { dataDir: string };
  /** Closes the store and deletes the database or directory. */
  destroy(): Promise<void>;
}

/** A new, migrated, empty database of the given driver, for one test file. */
export async function createTestDatabase(driver: Driver): Promise<Omit<TestStore, 'store'>> {
  if (driver === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-test-'));
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
    return { options: { dataDir }, destroy: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `socle_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    options: { databaseUrl: url.toString() },
    destroy: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function openTestStore(driver: Driver): Promise<TestStore> {
  const database = await createTestDatabase(driver);
  const store = await openStore(database.options);
  return {
    store,
    options: database.options,
    destroy: async () => {
      await store.close().catch(() => undefined);
      await database.destroy();
    },
  };
}

/** The rows of every table an xAPI batch writes, in one query: a refused batch leaves them as they were. */
export async function ingestTableCounts(ex: Executor): Promise<Record<string, number> | undefined> {
  const [counts] = await queryRows<Record<string, number>>(
    ex,
    sql`SELECT (SELECT count(*)::int FROM xapi_statements) AS statements, (SELECT count(*)::int FROM completion_events) AS events,
               (SELECT count(*)::int FROM xapi_outbox) AS outbox, (SELECT count(*)::int FROM xapi_activities) AS activities,
               (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM courses) AS courses`,
  );
  return counts;
}
