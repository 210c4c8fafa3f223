/**
 * `npm run bench -- rate-limit`: what the rate limit adds to a request (not a test): the mean latency of the
 * counter's upsert against the same connection's `SELECT 1` (one round trip), then a request taken from the budgets
 * a process reserves (`RateBudgets`, at the default xAPI limit), sequentially, on a real PostgreSQL
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a database is created and dropped)
 * and on PGlite (a temporary directory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openStore, type StoreOptions } from '../src/db/store';
import { DEFAULT_RATE_LIMITS } from '../src/config';
import { hitRateLimit, leaseSize, RateBudgets } from '../src/rate-limit';
import { figure } from './figure';
import { withBenchDatabase } from './database';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.BENCH_REQUESTS ?? 2000);

async function measure(label: string, options: StoreOptions): Promise<void> {
  const store = await openStore(options);
  try {
    for (let i = 0; i < 200; i++) {
      await store.db.execute(sql`SELECT 1`);
      await hitRateLimit(store.db, `xapi:warm-${i % 5}`, 60);
    }
    let started = performance.now();
    for (let i = 0; i < N; i++) await store.db.execute(sql`SELECT 1`);
    const ping = (performance.now() - started) / N;
    started = performance.now();
    for (let i = 0; i < N; i++) await hitRateLimit(store.db, `xapi:key-${i % 5}`, 60);
    const hit = (performance.now() - started) / N;
    // what a request costs with the process's budgets, at the default xAPI limit (leases of 30)
    const budgets = new RateBudgets();
    started = performance.now();
    for (let i = 0; i < N; i++) await budgets.take(store.db, `xapi:budget-${i % 5}`, DEFAULT_RATE_LIMITS.xapi, DEFAULT_RATE_LIMITS.windowSeconds);
    const take = (performance.now() - started) / N;
    const us = (ms: number) => `${Math.round(ms * 1000)} µs`;
    process.stdout.write(
      `${label}: SELECT 1 ${us(ping)}, rate-limit upsert ${us(hit)}, with the budgets of a process (leases of ${leaseSize(DEFAULT_RATE_LIMITS.xapi)}) ${us(take)} per request (mean of ${N}, sequential)\n`,
    );
    figure({
      name: `rate-limit upsert, ${label}`,
      value: Math.round(hit * 1000),
      unit: 'µs/request',
      reference: `SELECT 1 on the same connection: ${us(ping)}`,
      ratio: Number((hit / ping).toFixed(2)),
    });
    figure({
      name: `rate limit with leases, ${label}`,
      value: Math.round(take * 1000),
      unit: 'µs/request',
      reference: `one upsert a request: ${us(hit)}; SELECT 1: ${us(ping)}`,
      ratio: Number((take / hit).toFixed(3)),
    });
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  await withBenchDatabase(ADMIN_URL, (databaseUrl) => measure('postgres', { databaseUrl }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-bench-rl-'));
  try {
    await measure('pglite', { dataDir: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
