import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { Pool, type PoolClient } from 'pg';
import { SocleError } from '../domain/errors';
import * as schema from './schema';

export type Schema = typeof schema;
/** The drizzle database, whichever driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction or the database itself: functions that write take this so callers can compose them. */
export type Executor = Parameters<Parameters<Database['transaction']>[0]>[0] | Database;

/** Rows of a raw SQL query, the same on both drivers (their `execute` results differ in type only). */
export async function queryRows<T>(ex: Executor, query: SQL): Promise<T[]> {
  const result = (await ex.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/**
 * A statement run very often with the same text (the ingestion of a batch): its SQL is built once, with
 * `sql.placeholder`s for what changes, and node-postgres prepares it once per connection under `name`, so the
 * server parses it once and, after a few runs, keeps one plan for it instead of planning every batch. PGlite runs it
 * as a plain query. The name carries a digest of the text: one name never stands for two texts.
 */
export interface NamedStatement {
  name: string;
  text: string;
  params: unknown[];
}

export function namedStatement(name: string, query: SQL): NamedStatement {
  const { sql: text, params } = new PgDialect().sqlToQuery(query);
  return { name: `${name}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`, text, params };
}

/** Rows of `statement` with its placeholders given `values`, the same on both drivers. */
export async function queryNamed<T>(ex: Executor, statement: NamedStatement, values: Record<string, unknown>): Promise<T[]> {
  const prepared = ex._.session.prepareQuery({ sql: statement.text, params: statement.params }, undefined, statement.name, false);
  const result = (await prepared.execute(values)) as { rows: T[] };
  return result.rows;
}

/** A parameter list for `IN (…)`: one bound parameter per value. */
export function inList(values: readonly unknown[]): SQL {
  return sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );
}

export interface Store {
  db: Database;
  driver: 'pglite' | 'postgres';
  /** Where the data lives, for logs: a directory or the server's host/database (never its password). */
  location: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The database cannot be opened (`unavailable`): the message says why and what to do. */
const unavailable = (message: string) => new SocleError('unavailable', message);

export const migrationsFolder = path.join(__dirname, 'migrations');

/** Arbitrary constant: every Socle process migrating one PostgreSQL database takes this advisory lock. */
const MIGRATION_LOCK = 7_105_079_411;

export type StoreOptions = { databaseUrl: string } | { dataDir: string };

export async function openStore(options: StoreOptions): Promise<Store> {
  return 'databaseUrl' in options ? openPostgres(options.databaseUrl) : openPglite(options.dataDir);
}

async function openPostgres(databaseUrl: string): Promise<Store> {
  const pool = new Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {
    // An idle client lost its server: the pool replaces it; the next query reports the outage.
  });
  // A client checked out of the pool (a transaction, the migration lock) has no listener of the pool's: without its
  // own, a lost server (57P01: pg_terminate_backend, a restart) raises an unhandled 'error' that ends the process.
  // Its query in flight rejects with the same error, and the pool drops the client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  releaseLostClients(pool);
  const url = new URL(databaseUrl);
  const location = `${url.hostname}:${url.port || 5432}${url.pathname}`;
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await migratePg(drizzlePg(client, { schema }), { migrationsFolder });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw unavailable(`Cannot open PostgreSQL at ${location}: ${(error as Error).message}`);
  }
  const db = drizzlePg(pool, { schema }) as unknown as Database;
  return {
    db,
    driver: 'postgres',
    location,
    ping: async () => {
      await db.execute(sql`SELECT 1`);
    },
    close: () => pool.end(),
  };
}

/**
 * A client checked out with `pool.connect()` whose connection is lost goes back to the pool (which drops it) at once,
 * and its owner's own `release()` after that does nothing. drizzle 0.45 sends `BEGIN` before its try/finally that
 * releases the client: without this, each transaction that starts on a connection the server just closed keeps its
 * client forever, and after `max` of them every query waits for a client and times out.
 * (`pool.query` checks out with a callback and handles this itself.)
 */
function releaseLostClients(pool: Pool): void {
  const connect = pool.connect.bind(pool) as (callback?: unknown) => Promise<PoolClient> | undefined;
  const guarded = async (): Promise<PoolClient> => {
    const client = (await connect()) as PoolClient;
    const release = client.release;
    let released = false;
    const done = (error?: Error | boolean) => {
      if (released) return;
      released = true;
      client.removeListener('error', lost);
      release(error);
    };
    const lost = (error: Error) => done(error);
    client.on('error', lost);
    client.release = done;
    return client;
  };
  pool.connect = ((callback?: unknown) => (callback ? connect(callback) : guarded())) as Pool['connect'];
}

/**
 * PGlite does not lock its directory and two processes on one directory corrupt it, so Socle takes an
 * exclusive lock file holding its pid. A lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const lockFile = path.join(dir, 'socle.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw unavailable(
          `The data directory ${dir} is in use by another Socle process (pid ${pid}). ` +
            'The embedded database allows one process at a time: stop that process, or set DATABASE_URL to use PostgreSQL.',
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw unavailable(`Cannot lock the data directory ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The data directory is the owner's alone (0700), also when it was made before with wider permissions. */
function ownDataDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.chmodSync(dir, 0o700);
  } catch (error) {
    // A directory of another user (a mounted volume): its files are still made the owner's alone below.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}

/**
 * Gives every directory under `dir` mode 0700 and every file 0600. PGlite unpacks its initial database with
 * files 0666 whatever the umask (the files PostgreSQL creates afterwards are 0600 and its directories 0700).
 * The walk is the owner's own fix of those modes: the process umask is left alone for the rest of the service.
 */
function restrictTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const target = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      fs.chmodSync(target, 0o700);
      restrictTree(target);
    } else if (entry.isFile()) {
      fs.chmodSync(target, 0o600);
    }
  }
}

/**
 * PGlite's defaults, with 32 MB of shared buffers instead of PostgreSQL's 128 MB: the embedded store serves one
 * process for development and demonstrations, and the buffers are most of its idle memory (~180 MB instead of ~290).
 */
const pgliteOptions = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'] };

/**
 * Creates a new embedded database in `location`, in a child process: initdb grows PGlite's WebAssembly memory to
 * ~0.7 GB, which an instance never gives back, so the service only ever reopens the directory (~180 MB).
 */
async function initPglite(location: string): Promise<void> {
  const script = `const { PGlite } = require('@electric-sql/pglite');
PGlite.create(process.argv[1], { startParams: JSON.parse(process.argv[2]) }).then((db) => db.close()).then(() => process.exit(0), (error) => { process.stderr.write(String(error && error.message)); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script, location, JSON.stringify(pgliteOptions.startParams)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: __dirname,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`creating the embedded database failed: ${stderr.trim().slice(0, 500) || `exit code ${code}`}`);
}

async function openPglite(dataDir: string): Promise<Store> {
  const dir = path.resolve(dataDir);
  ownDataDir(dir);
  const unlock = lockDataDir(dir);
  const location = path.join(dir, 'pglite');
  let client: PGlite | undefined;
  try {
    // PGlite creates its files 0666 whatever the umask: its directory and files are the owner's alone.
    fs.mkdirSync(location, { recursive: true, mode: 0o700 });
    fs.chmodSync(location, 0o700);
    if (!fs.existsSync(path.join(location, 'PG_VERSION'))) await initPglite(location);
    client = await PGlite.create(location, pgliteOptions);
    const db = drizzlePglite(client, { schema });
    await migratePglite(db, { migrationsFolder });
    restrictTree(location);
    const opened = client;
    return {
      db: db as unknown as Database,
      driver: 'pglite',
      location,
      ping: async () => {
        await opened.query('SELECT 1');
      },
      close: async () => {
        try {
          await opened.close();
          restrictTree(location);
        } finally {
          unlock();
        }
      },
    };
  } catch (error) {
    await client?.close().catch(() => undefined);
    unlock();
    if (SocleError.is(error, 'unavailable')) throw error;
    throw unavailable(`Cannot open the embedded database at ${location}: ${(error as Error).message}`);
  }
}
