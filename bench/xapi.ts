/**
 * `npm run bench -- xapi`: xAPI throughput on this machine (not a test). Each figure is printed with a reference
 * measured in the same run and the load average, then as one `FIGURE {...}` line.
 *  1. reference: the same statements as plain multi-row jsonb INSERTs (30 per INSERT, the same number of concurrent
 *     connections) into a table shaped like xapi_statements, on the same PostgreSQL server;
 *     the same bodies POSTed to a bare express handler doing those INSERTs: the floor of any endpoint in Node here;
 *  2. inbound: batches of 30 logstore_xapi-shaped statements POSTed to /xapi/statements of a real server over a
 *     real PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a database is
 *     created and dropped for the run), on a fresh store; then how long the coverage worker takes to credit the
 *     learners the batches marked;
 *  3. one statement per request, sequentially: p95 of the whole request, against a one-row INSERT's p95 and the bare
 *     handler's request p95;
 *  4. outbox: delivery of everything accepted to a loopback LRS;
 *  5. at each size of BENCH_SIZES (stored statements, default 100,000; "1000000,5000000" for the goals of issue 16,
 *     1 M seeded in under 3 min on 2 busy cores, in SQL with generate_series): new batches, then the same
 *     batches sent again (all already stored): resend/new, and new at the largest size against the fresh store (growth);
 *  6. the same inbound on embedded PGlite (a temporary directory), against the peer LRS's 675/s (issue 16).
 * Beside each rate: the WAL written and PostgreSQL's CPU per statement (the server's processes, when on this machine).
 * Environment: BENCH_BATCHES (300), BENCH_CONCURRENCY (4), BENCH_SINGLE (300 requests), BENCH_SIZES
 * ("100000"; empty: skip), BENCH_SIZE_BATCHES (as BENCH_BATCHES: the sized runs compare with the fresh one), BENCH_PGLITE_BATCHES (150; 0: skip), BENCH_KEEP_DATABASE (1: the
 * database is kept for inspection and its name printed).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Client, Pool } from 'pg';
import { loadConfig } from '../src/config';
import { ensurePlatform } from '../src/identity/records';
import { createLogger } from '../src/logger';
import { type RunningServer, startServer } from '../src/app/server';
import { createXapiKey } from '../src/xapi/keys';
import { createOutboxWorker, outboxStatus } from '../src/forwarding/outbox';
import { contentHash } from '../src/domain/statement-ids';
import { startFakeLrs } from '../test/support/fake-lrs';
import { figure } from './figure';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const SINGLE = Number(process.env.BENCH_SINGLE ?? 300);
const SIZES = (process.env.BENCH_SIZES ?? '100000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const SIZE_BATCHES = Number(process.env.BENCH_SIZE_BATCHES ?? BATCHES);
const PGLITE_BATCHES = Number(process.env.BENCH_PGLITE_BATCHES ?? 150);
const ISSUER = 'http://127.0.0.1:8181';
/** The peer LRS (Learning Locker's xapi-service in memory) on this machine, issue 16. */
const PEER = 675;

type Statement = Record<string, unknown> & { actor: { name?: string; account: { homePage: string; name: string } }; timestamp: string };

const load = () => os.loadavg()[0]?.toFixed(2) ?? '?';
const say = (line: string) => process.stdout.write(`${line}\n`);


/** Every statement Moodle sent during the capture (logins, views, completions, answers…), in order. */
function capturedStatements(): Statement[] {
  const dir = path.join(__dirname, '..', 'test', 'fixtures', 'moodle-4.3');
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'logstore-xapi-batches.index.json'), 'utf8')) as { file: string }[];
  return index.flatMap(({ file }) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Statement[]);
}

/** Statement `i` of batch `n`: the captured mix replayed by learner `1000 + n`, shifted in time (`shift` days more) so every statement is new. */
function statement(n: number, i: number, pool: Statement[], size = 30, shift = 0): Statement {
  const s = structuredClone(pool[(n * size + i) % pool.length] as Statement);
  s.actor = { account: { homePage: ISSUER, name: String(1000 + n) } };
  s.timestamp = new Date(Date.parse(s.timestamp) + (n + shift) * 86_400_000 + i).toISOString();
  return s;
}

function batch(n: number, pool: Statement[], shift = 0): Statement[] {
  return Array.from({ length: 30 }, (_, i) => statement(n, i, pool, 30, shift));
}

async function client(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

async function admin<T>(run: (c: Client) => Promise<T>): Promise<T> {
  const c = await client(ADMIN_URL);
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

interface Run {
  seconds: number;
  latencies: number[];
}

/**
 * What PostgreSQL spent: WAL written (`pg_current_wal_lsn`) and the CPU of the server's processes on this machine
 * (/proc; 0 when the server runs elsewhere). Taken around a phase, it says where the time of a statement goes on
 * the database's side, beside the Node process's own CPU.
 */
interface PgCost {
  wal: bigint;
  cpu: number;
}

function postgresCpuSeconds(): number {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const fields = stat.slice(close + 2).split(' ');
      // its own time and that of its children that ended (the postmaster's: the backends of closed connections)
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / 100;
}

async function pgCost(url: string): Promise<PgCost> {
  const c = await client(url);
  try {
    const [row] = (await c.query<{ lsn: string }>("SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn")).rows;
    return { wal: BigInt(row?.lsn ?? '0'), cpu: fs.existsSync('/proc/self/stat') ? postgresCpuSeconds() : 0 };
  } finally {
    await c.end();
  }
}

/** "WAL x kB and PostgreSQL CPU y µs per statement" between two readings. */
function perStatement(before: PgCost, after: PgCost, statements: number): string {
  const wal = Number(after.wal - before.wal) / statements / 1024;
  const cpu = ((after.cpu - before.cpu) / statements) * 1e6;
  return `WAL ${wal.toFixed(2)} kB and PostgreSQL CPU ${Math.round(cpu)} µs per statement`;
}

/** This process's CPU (`process.cpuUsage` over a phase) per statement, in µs. */
const nodeMicroseconds = (cpu: NodeJS.CpuUsage, statements: number) => Math.round((cpu.user + cpu.system) / statements);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/**
 * One POST of `body` to the statements resource over a kept-alive connection of `agent`: node:http rather than
 * fetch, whose streams cost this process about 0.4 ms of CPU a request that Moodle's curl does not spend in Socle.
 */
function post(url: URL, agent: http.Agent, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: '/xapi/statements', method: 'POST', agent, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `bodies` with `concurrency` clients, each on its own kept-alive connection; every answer must be `expected`. */
async function send(url: string, headers: Record<string, string>, bodies: string[], concurrency: number, expected = 200): Promise<Run> {
  const latencies: number[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const t = performance.now();
          const res = await post(target, agent, headers, body);
          if (res.status !== expected) throw new Error(`POST answered ${res.status}: ${res.text}`);
          latencies.push(performance.now() - t);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  latencies.sort((a, b) => a - b);
  return { seconds: (performance.now() - started) / 1000, latencies };
}

async function keyHeaders(server: RunningServer): Promise<Record<string, string>> {
  await ensurePlatform(server.ctx.store.db, ISSUER);
  const key = await createXapiKey(server.ctx.store.db, ISSUER);
  return {
    'Content-Type': 'application/json',
    'X-Experience-API-Version': '1.0.3',
    Authorization: `Basic ${Buffer.from(`${key.key}:${key.secret}`).toString('base64')}`,
  };
}

/** A statement as the nine values of a plain INSERT into a table shaped like xapi_statements, with a new id. */
function referenceRow(s: Statement, platformId: number, stored: string): unknown[] {
  const id = randomUUID();
  return [id, platformId, 1, (s.verb as { id: string }).id, (s.object as { id: string }).id, stored, s.timestamp, contentHash(s), JSON.stringify({ ...s, id, stored })];
}

/** The plain INSERT of `rows` (each `referenceRow`'s values) into `table`, in one statement. */
function referenceInsert(table: string, rows: unknown[][]): { text: string; values: unknown[] } {
  const tuples = rows.map((_, r) => `(${Array.from({ length: 9 }, (_, k) => `$${r * 9 + k + 1}`).join(', ')})`).join(', ');
  return {
    text: `INSERT INTO ${table} (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement) VALUES ${tuples}`,
    values: rows.flat(),
  };
}

async function platformOf(c: Client): Promise<number> {
  return (await c.query<{ id: number }>('SELECT id FROM platforms LIMIT 1')).rows[0]?.id ?? 1;
}

/** The same statements as plain multi-row jsonb INSERTs of 30 into a table shaped like xapi_statements, over `concurrency` connections. */
async function plainInserts(url: string, batches: Statement[][], concurrency: number): Promise<number> {
  const setup = await client(url);
  const platformId = await platformOf(setup);
  await setup.query('CREATE TABLE bench_reference (LIKE xapi_statements INCLUDING ALL)');
  const stored = new Date().toISOString();
  const inserts = batches.map((b) => referenceInsert('bench_reference', b.map((s) => referenceRow(s, platformId, stored))));
  const clients = await Promise.all(Array.from({ length: concurrency }, () => client(url)));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < inserts.length) {
        const insert = inserts[next++] as { text: string; values: unknown[] };
        await c.query(insert.text, insert.values);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  await setup.query('DROP TABLE bench_reference');
  await setup.end();
  return (batches.length * 30) / seconds;
}

/**
 * The floor of any xAPI endpoint written in Node on this machine: the same bodies POSTed by the same clients to a
 * bare express handler that parses the JSON and stores each statement with the plain INSERT above (no
 * authentication, validation, idempotence, facts, outbox or coverage), over a pool of `concurrency` connections;
 * `warm` is sent first, unmeasured.
 */
async function bareHandler(url: string, bodies: string[], concurrency: number, warm: string[] = []): Promise<Run> {
  const setup = await client(url);
  const platformId = await platformOf(setup);
  await setup.query('CREATE TABLE bench_bare (LIKE xapi_statements INCLUDING ALL)');
  const db = new Pool({ connectionString: url, max: concurrency });
  const app = express();
  app.use(express.json({ limit: '10mb' }));
  app.post('/xapi/statements', (req, res, next) => {
    const list = (Array.isArray(req.body) ? req.body : [req.body]) as Statement[];
    const rows = list.map((s) => referenceRow(s, platformId, new Date().toISOString()));
    const insert = referenceInsert('bench_bare', rows);
    db.query(insert.text, insert.values).then(() => res.json(rows.map((r) => r[0])), next);
  });
  const listening = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const target = `http://127.0.0.1:${(listening.address() as { port: number }).port}`;
  try {
    await send(target, { 'Content-Type': 'application/json' }, warm, 1);
    return await send(target, { 'Content-Type': 'application/json' }, bodies, concurrency);
  } finally {
    listening.closeAllConnections();
    await new Promise((resolve) => listening.close(resolve));
    await db.end();
    await setup.query('DROP TABLE bench_bare');
    await setup.end();
  }
}

/** p95 of a one-row INSERT of a statement into a table shaped like xapi_statements, sequentially (one round trip each). */
async function plainSingleInsert(url: string, statements: Statement[]): Promise<number> {
  const c = await client(url);
  await c.query('CREATE TABLE bench_single (LIKE xapi_statements INCLUDING ALL)');
  const latencies: number[] = [];
  for (const s of statements) {
    const insert = referenceInsert('bench_single', [referenceRow(s, 1, new Date().toISOString())]);
    const t = performance.now();
    await c.query(insert.text, insert.values);
    latencies.push(performance.now() - t);
  }
  await c.query('DROP TABLE bench_single');
  await c.end();
  latencies.sort((a, b) => a - b);
  return pct(latencies, 0.95);
}

/** Indexes and unique constraints of the two big tables, dropped while seeding and built again after (faster than row by row). */
const SEEDED_TABLES = ['xapi_statements', 'completion_events'];

/**
 * Seeds the store up to `target` statements, fully in SQL: the captured statements as templates (generate_series),
 * each with its own learner (70,000 of them), activity and instant, and the time-ordered id Socle derives (its
 * instant, then digest bits), one in ten with its completion event. The
 * seeding session skips the foreign-key triggers (`session_replication_role = replica`: every reference is to rows
 * it created) and the secondary indexes and unique constraints are built again once at the end, exactly as the
 * migrations define them; then VACUUM ANALYZE, as a store that has lived.
 */
async function seed(url: string, pool: Statement[], target: number): Promise<void> {
  const c = await client(url);
  try {
    const [{ n: have } = { n: 0 }] = (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM xapi_statements')).rows;
    if (have >= target) return;
    const started = performance.now();
    const [platform] = (await c.query<{ id: number }>('SELECT id FROM platforms WHERE issuer = $1', [ISSUER])).rows;
    const platformId = platform?.id ?? 1;
    await c.query(`INSERT INTO users (platform_id, sub) SELECT $1, 'seed-' || g FROM generate_series(0, 69999) g ON CONFLICT DO NOTHING`, [platformId]);
    const [{ first } = { first: 0 }] = (await c.query<{ first: number }>(`SELECT min(id)::int AS first FROM users WHERE platform_id = $1 AND sub LIKE 'seed-%'`, [platformId])).rows;
    await c.query("SET session_replication_role = replica; SET synchronous_commit = off; SET maintenance_work_mem = '512MB'");
    // what to build again: the constraints (unique) and plain indexes, as the migrations made them
    const { rows: constraints } = await c.query<{ tbl: string; name: string; def: string }>(
      `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
       WHERE conrelid::regclass::text = ANY($1) AND contype = 'u'`,
      [SEEDED_TABLES],
    );
    const { rows: indexes } = await c.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
       WHERE i.tablename = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)`,
      [SEEDED_TABLES],
    );
    for (const k of constraints) await c.query(`ALTER TABLE ${k.tbl} DROP CONSTRAINT ${k.name}`);
    for (const i of indexes) await c.query(`DROP INDEX ${i.name}`);
    // each template as JSON text around what every row has of its own (id, actor, object id, instants): one jsonb
    // parse a row, as a plain INSERT of the JSON would, instead of building it value by value
    const members = (o: Record<string, unknown>) => JSON.stringify(o).slice(1, -1);
    const rest = pool.map(({ id: _i, actor: _a, object: _o, timestamp: _t, stored: _s, ...others }) => members(others));
    const objectRest = pool.map((t) => {
      const { id: _id, ...others } = t.object as Record<string, unknown>;
      return members(others);
    });
    const verbs = pool.map((t) => (t.verb as { id: string }).id);
    const chunk = 1_000_000;
    for (let from = have; from < target; from += chunk) {
      const to = Math.min(target, from + chunk) - 1;
      await c.query(
        `WITH t AS (SELECT g, timestamptz '2025-09-01' + g * interval '3 seconds' AS at, md5('seed-' || g) AS h FROM generate_series($2::int, $3::int) g),
         g AS (SELECT g, (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '8' || substr(h, 14, 3) || '9' || substr(h, 18, 15))::uuid AS id,
                      (g % $6::int) + 1 AS k, g % 70000 AS learner, '${ISSUER}/mod/page/view.php?id=' || (g % 5000) AS object_id, at
               FROM t),
         j AS (SELECT g, id, learner, at, object_id, ($8::text[])[k] AS verb,
                      ('{"id":"' || id || '","actor":{"objectType":"Agent","account":{"homePage":"${ISSUER}","name":"seed-' || learner
                       || '"}},"object":{"id":"' || object_id || '"' || CASE WHEN ($7::text[])[k] = '' THEN '' ELSE ',' || ($7::text[])[k] END
                       || '},"timestamp":"' || ts || '","stored":"' || ts || '"' || CASE WHEN ($1::text[])[k] = '' THEN '' ELSE ',' || ($1::text[])[k] END || '}')::jsonb AS statement
               FROM (SELECT *, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ts FROM g) g),
         ins AS (INSERT INTO xapi_statements (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
                 SELECT id, $4, $5 + learner, verb, object_id, at, at, md5(g::text), statement FROM j RETURNING id, user_id, object_id, "timestamp")
         INSERT INTO completion_events (statement_id, platform_id, user_id, activity_iri, kind, statement_timestamp, position)
         SELECT id, $4, user_id, object_id, 'completed', "timestamp", 0 FROM ins WHERE get_byte(decode(replace(id::text, '-', ''), 'hex'), 15) % 10 = 0`,
        [rest, from, to, platformId, first, pool.length, objectRest, verbs],
      );
      say(`          seeded ${(to + 1).toLocaleString('en')} statements (${((performance.now() - started) / 1000).toFixed(0)} s, load ${load()})`);
    }
    for (const k of constraints) await c.query(`ALTER TABLE ${k.tbl} ADD CONSTRAINT ${k.name} ${k.def}`);
    for (const i of indexes) await c.query(i.def);
    await c.query('RESET session_replication_role');
    await c.query('VACUUM ANALYZE xapi_statements');
    await c.query('VACUUM ANALYZE completion_events');
    await checkpoint(c);
    say(`          indexes built, vacuumed and analysed: ${((performance.now() - started) / 1000).toFixed(0)} s in all (load ${load()})`);
  } finally {
    await c.end();
  }
}

/**
 * Writes every dirty page out before a measured phase: seeding writes gigabytes, and without this the server's
 * checkpoint of it would run during the measurement that follows, on the same disk and cores.
 */
async function checkpoint(c: Client): Promise<void> {
  await c.query('CHECKPOINT');
}

/** Seconds until no learner is left marked dirty (the coverage worker's backlog). */
async function catchUp(url: string): Promise<number> {
  const c = await client(url);
  const started = performance.now();
  try {
    while (((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM coverage_dirty')).rows[0]?.n ?? 0) > 0) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await c.end();
  }
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const name = `socle_bench_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  // the rate limit counts every batch (its cost is in the figures) but does not stop the bench;
  // BENCH_RATE_LIMIT_XAPI=0 measures without it
  const rateLimit = process.env.BENCH_RATE_LIMIT_XAPI ?? '1000000000';
  const config = loadConfig({ DATABASE_URL: dbUrl, LTI_KEY: 'bench-lti-key-0123456789abcdef0123456789', PORT: '0', LOG_LEVEL: 'silent', RATE_LIMIT_XAPI: rateLimit });
  const server = await startServer(config, { logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent') });
  const lrs = await startFakeLrs();
  const pool = capturedStatements();
  let fresh = 0;
  try {
    const headers = await keyHeaders(server);
    say(`xAPI bench on PostgreSQL ${new URL(ADMIN_URL).host} (node ${process.version}, ${os.cpus().length} cores, load average ${load()} at the start)`);

    // 1. the reference: plain INSERTs of the same statements
    const batches = Array.from({ length: BATCHES }, (_, n) => batch(n, pool));
    const beforeReference = await pgCost(dbUrl);
    const reference = await plainInserts(dbUrl, batches, CONCURRENCY);
    const afterReference = await pgCost(dbUrl);
    say(`reference: the same ${BATCHES * 30} statements as plain multi-row jsonb INSERTs of 30, ${CONCURRENCY} connections: ${Math.round(reference)} statements/s (load ${load()})`);
    say(`          ${perStatement(beforeReference, afterReference, BATCHES * 30)}`);

    const bodies = batches.map((b) => JSON.stringify(b));
    const beforeBare = await pgCost(dbUrl);
    const bareCpu = process.cpuUsage();
    const bare = await bareHandler(dbUrl, bodies, CONCURRENCY);
    const bareNode = nodeMicroseconds(process.cpuUsage(bareCpu), BATCHES * 30);
    const afterBare = await pgCost(dbUrl);
    const bareRate = (BATCHES * 30) / bare.seconds;
    say(`bare    : the same batches POSTed to a bare express handler doing those INSERTs: ${Math.round(bareRate)} statements/s = ${(bareRate / reference).toFixed(2)} of the plain INSERTs (load ${load()})`);
    say(`          Node CPU (handler + bench clients) ${bareNode} µs per statement; ${perStatement(beforeBare, afterBare, BATCHES * 30)}`);

    // 2. Socle, fresh store (its pages written out, as the sized stores' are after seeding)
    await admin(checkpoint);
    const beforeInbound = await pgCost(dbUrl);
    const cpuBefore = process.cpuUsage();
    const inbound = await send(server.url, headers, bodies, CONCURRENCY);
    const cpu = process.cpuUsage(cpuBefore);
    const afterInbound = await pgCost(dbUrl);
    const total = BATCHES * 30;
    fresh = total / inbound.seconds;
    say(
      `inbound : ${total} statements in ${BATCHES} batches of 30, ${CONCURRENCY} concurrent clients: ${inbound.seconds.toFixed(2)} s = ${Math.round(fresh)} statements/s = ${(fresh / reference).toFixed(2)} of the plain INSERTs, ${(fresh / bareRate).toFixed(2)} of the bare handler (batch latency p50 ${pct(inbound.latencies, 0.5).toFixed(1)} ms, p95 ${pct(inbound.latencies, 0.95).toFixed(1)} ms; load ${load()})`,
    );
    say(`          Node CPU (server + bench clients) ${nodeMicroseconds(cpu, total)} µs per statement; ${perStatement(beforeInbound, afterInbound, total)}`);
    // the coverage follows in the worker: how long after the last answer every marked learner is credited
    const caughtUp = await catchUp(dbUrl);
    say(`coverage: the worker credited every learner marked by the batches ${caughtUp.toFixed(2)} s after the last answer (load ${load()})`);
    figure({
      name: 'ingest postgres',
      value: fresh,
      unit: 'statements/s',
      target: '>= 0.4 of plain INSERTs',
      reference: `plain multi-row jsonb INSERTs ${Math.round(reference)}/s; a bare express handler doing them ${Math.round(bareRate)}/s = ${(bareRate / reference).toFixed(2)} of them, Socle ${(fresh / bareRate).toFixed(2)} of it (load ${load()})`,
      ratio: fresh / reference,
      meets: fresh / reference >= 0.4,
    });

    // 3. one statement per request, sequentially
    if (SINGLE > 0) {
      const singles = Array.from({ length: SINGLE }, (_, i) => statement(BATCHES + i, 0, pool, 1));
      const warm = Array.from({ length: 20 }, (_, i) => JSON.stringify(statement(BATCHES + SINGLE + i, 0, pool, 1)));
      await send(server.url, headers, warm, 1);
      const singleBodies = singles.map((s) => JSON.stringify(s));
      const one = await send(server.url, headers, singleBodies, 1);
      const completions = singles.filter((s) => /completed$/.test((s.verb as { id: string }).id)).length;
      const referenceP95 = await plainSingleInsert(dbUrl, singles);
      const bareP95 = pct((await bareHandler(dbUrl, singleBodies, 1, warm)).latencies, 0.95);
      const p95 = pct(one.latencies, 0.95);
      say(
        `single  : ${SINGLE} requests of one statement (${completions} completions), one client: p50 ${pct(one.latencies, 0.5).toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${pct(one.latencies, 1).toFixed(1)} ms; a one-row INSERT p95 ${referenceP95.toFixed(2)} ms, the bare handler's request p95 ${bareP95.toFixed(2)} ms (load ${load()})`,
      );
      figure({
        name: 'one statement p95 postgres',
        value: p95,
        unit: 'ms',
        target: '<= 5 ms',
        reference: `one-row plain INSERT p95 ${referenceP95.toFixed(2)} ms; through the bare handler ${bareP95.toFixed(2)} ms (load ${load()})`,
        ratio: p95 / referenceP95,
        meets: p95 <= 5,
      });
    }

    // 4. the outbox
    const ctx = { ...server.ctx, config: { ...config, lrs: { endpoint: lrs.endpoint, key: 'k', secret: 's' } } };
    const pending = (await outboxStatus(server.ctx.store.db)).pending;
    const workers = [1, 2].map(() => createOutboxWorker(ctx, { batchSize: 100 }));
    const outStarted = performance.now();
    await Promise.all(
      workers.map(async (w) => {
        while ((await w.runOnce()) > 0) {
          // keep delivering
        }
      }),
    );
    const outboundSeconds = (performance.now() - outStarted) / 1000;
    const after = await outboxStatus(server.ctx.store.db);
    say(
      `outbox  : ${pending} statements delivered to a loopback LRS by 2 workers (batches of 100): ${outboundSeconds.toFixed(2)} s = ${Math.round(pending / outboundSeconds)} statements/s; LRS received ${lrs.received.length}, distinct ${new Set(lrs.received).size}; left pending ${after.pending}, dead ${after.dead}`,
    );

    // 5. at size: new batches, then the same again
    let shift = 1_000;
    let largest: { size: number; rate: number } | undefined;
    for (const size of SIZES) {
      await seed(dbUrl, pool, size);
      const sized = Array.from({ length: SIZE_BATCHES }, (_, n) => JSON.stringify(batch(n, pool, shift)));
      shift += 1_000;
      const beforeNew = await pgCost(dbUrl);
      const created = await send(server.url, headers, sized, CONCURRENCY);
      const afterNew = await pgCost(dbUrl);
      const again = await send(server.url, headers, sized, CONCURRENCY);
      const afterAgain = await pgCost(dbUrl);
      const newRate = (SIZE_BATCHES * 30) / created.seconds;
      const resendRate = (SIZE_BATCHES * 30) / again.seconds;
      const label = size >= 1e6 ? `${size / 1e6} M` : `${size / 1e3} k`;
      say(
        `at ${label} stored: new batches ${Math.round(newRate)} statements/s (p95 ${pct(created.latencies, 0.95).toFixed(1)} ms), the same batches sent again ${Math.round(resendRate)} statements/s (p95 ${pct(again.latencies, 0.95).toFixed(1)} ms): resend/new ${(resendRate / newRate).toFixed(2)} (load ${load()})`,
      );
      say(`          new: ${perStatement(beforeNew, afterNew, SIZE_BATCHES * 30)}; again: ${perStatement(afterNew, afterAgain, SIZE_BATCHES * 30)}`);
      figure({
        name: `resend at ${label}`,
        value: resendRate,
        unit: 'statements/s',
        target: '>= 1 of new batches',
        reference: `new batches at ${label} stored ${Math.round(newRate)}/s (load ${load()})`,
        ratio: resendRate / newRate,
        meets: resendRate / newRate >= 1,
      });
      largest = { size, rate: newRate };
    }
    if (largest) {
      const label = largest.size >= 1e6 ? `${largest.size / 1e6} M` : `${largest.size / 1e3} k`;
      figure({
        name: `growth at ${label}`,
        value: largest.rate,
        unit: 'statements/s',
        target: '>= 0.9 of a fresh store',
        reference: `fresh store ${Math.round(fresh)}/s (load ${load()})`,
        ratio: largest.rate / fresh,
        meets: largest.rate / fresh >= 0.9,
      });
    }
  } finally {
    await lrs.close();
    await server.close(1_000);
    if (process.env.BENCH_KEEP_DATABASE === '1') say(`kept  : database ${name}`);
    else await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }

  // 6. PGlite
  if (PGLITE_BATCHES > 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-bench-xapi-'));
    try {
      const embedded = await startServer(loadConfig({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', RATE_LIMIT_XAPI: rateLimit }), { logger: createLogger('silent') });
      try {
        const headers = await keyHeaders(embedded);
        await send(embedded.url, headers, Array.from({ length: 5 }, (_, n) => JSON.stringify(batch(n, pool, 50_000))), 1);
        const bodies = Array.from({ length: PGLITE_BATCHES }, (_, n) => JSON.stringify(batch(n, pool)));
        const run = await send(embedded.url, headers, bodies, CONCURRENCY);
        const rate = (PGLITE_BATCHES * 30) / run.seconds;
        say(
          `pglite  : ${PGLITE_BATCHES * 30} statements in batches of 30, ${CONCURRENCY} clients: ${Math.round(rate)} statements/s = ${(rate / PEER).toFixed(2)} of the peer LRS's ${PEER}/s (p95 ${pct(run.latencies, 0.95).toFixed(1)} ms; load ${load()})`,
        );
        figure({
          name: 'ingest pglite',
          value: rate,
          unit: 'statements/s',
          target: `>= 1.5 x ${PEER}/s`,
          reference: `peer LRS in memory ${PEER}/s (issue 16); PostgreSQL server here ${Math.round(fresh)}/s (load ${load()})`,
          ratio: rate / PEER,
          meets: rate / PEER >= 1.5,
        });
      } finally {
        await embedded.close(1_000);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
