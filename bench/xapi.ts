/**
 * `npm run bench`: xAPI throughput on this machine (not a test).
 *  1. inbound: batches of 30 logstore_xapi-shaped statements POSTed to /xapi/statements of a real server over a
 *     real PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a database is
 *     created and dropped for the run);
 *  2. outbox: delivery of everything accepted to a loopback LRS.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { ensurePlatform } from '../src/identity/records';
import { createLogger } from '../src/logger';
import { startServer } from '../src/app/server';
import { createXapiKey } from '../src/xapi/keys';
import { createOutboxWorker, outboxStatus } from '../src/forwarding/outbox';
import { startFakeLrs } from '../test/support/fake-lrs';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const ISSUER = 'http://127.0.0.1:8181';

type Statement = Record<string, unknown> & { actor: { name?: string; account: { homePage: string; name: string } }; timestamp: string };

/** Every statement Moodle sent during the capture (logins, views, completions, answers…), in order. */
function capturedStatements(): Statement[] {
  const dir = path.join(__dirname, '..', 'test', 'fixtures', 'moodle-4.3');
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'logstore-xapi-batches.index.json'), 'utf8')) as { file: string }[];
  return index.flatMap(({ file }) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Statement[]);
}

/** Batch `n` of 30: the captured mix replayed by learner `1000 + n`, shifted in time so every statement is new. */
function batch(n: number, pool: Statement[]): Statement[] {
  const out: Statement[] = [];
  for (let i = 0; i < 30; i++) {
    const s = structuredClone(pool[(n * 30 + i) % pool.length] as Statement);
    s.actor = { account: { homePage: ISSUER, name: String(1000 + n) } };
    s.timestamp = new Date(Date.parse(s.timestamp) + n * 86_400_000 + i).toISOString();
    out.push(s);
  }
  return out;
}

async function admin<T>(run: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const name = `socle_bench_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  // the rate limit counts every batch (its cost is in the figures) but does not stop the bench;
  // BENCH_RATE_LIMIT_XAPI=0 measures without it
  const rateLimit = process.env.BENCH_RATE_LIMIT_XAPI ?? '1000000000';
  const config = loadConfig({ DATABASE_URL: url.toString(), LTI_KEY: 'bench-lti-key-0123456789abcdef0123456789', PORT: '0', LOG_LEVEL: 'silent', RATE_LIMIT_XAPI: rateLimit });
  const server = await startServer(config, { logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent') });
  const lrs = await startFakeLrs();
  try {
    await ensurePlatform(server.ctx.store.db, ISSUER);
    const key = await createXapiKey(server.ctx.store.db, ISSUER);
    const headers = {
      'Content-Type': 'application/json',
      'X-Experience-API-Version': '1.0.3',
      Authorization: `Basic ${Buffer.from(`${key.key}:${key.secret}`).toString('base64')}`,
    };
    const pool = capturedStatements();
    const bodies = Array.from({ length: BATCHES }, (_, n) => JSON.stringify(batch(n, pool)));
    const latencies: number[] = [];
    let next = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const t = performance.now();
          const res = await fetch(`${server.url}/xapi/statements`, { method: 'POST', headers, body });
          if (res.status !== 200) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
          latencies.push(performance.now() - t);
        }
      }),
    );
    const inboundSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const total = BATCHES * 30;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);

    const ctx = { ...server.ctx, config: { ...config, lrs: { endpoint: lrs.endpoint, key: 'k', secret: 's' } } };
    const pending = (await outboxStatus(server.ctx.store.db)).pending;
    const workers = [1, 2].map(() => createOutboxWorker(ctx, { batchSize: 100 }));
    const outStarted = performance.now();
    await Promise.all(workers.map(async (w) => {
      while ((await w.runOnce()) > 0) {
        // keep delivering
      }
    }));
    const outboundSeconds = (performance.now() - outStarted) / 1000;
    const after = await outboxStatus(server.ctx.store.db);

    const os = await import('node:os');
    const lines = [
      `xAPI bench on PostgreSQL ${new URL(ADMIN_URL).host} (node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)} at the end)`,
      `inbound : ${total} statements in ${BATCHES} batches of 30, ${CONCURRENCY} concurrent clients: ${inboundSeconds.toFixed(2)} s = ${Math.round(total / inboundSeconds)} statements/s (batch latency p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms)`,
      `          Node CPU (server + bench clients) ${cpuSeconds.toFixed(2)} s = ${Math.round(total / cpuSeconds)} statements per CPU-second of this process (PostgreSQL's own CPU not included)`,
      `outbox  : ${pending} statements delivered to a loopback LRS by 2 workers (batches of 100): ${outboundSeconds.toFixed(2)} s = ${Math.round(pending / outboundSeconds)} statements/s; LRS received ${lrs.received.length}, distinct ${new Set(lrs.received).size}; left pending ${after.pending}, dead ${after.dead}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await lrs.close();
    await server.close(1_000);
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
