import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Runs `measure` on a new database of the PostgreSQL server at `adminUrl` (its URL and name are given), then drops
 * it, whatever happened.
 */
export async function withBenchDatabase<T>(adminUrl: string, measure: (databaseUrl: string, name: string) => Promise<T>): Promise<T> {
  const name = `socle_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await measure(url.toString(), name);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
