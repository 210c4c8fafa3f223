import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { auditEvents } from '../../src/db/schema';
import { migrationsFolder, openStore, queryRows } from '../../src/db/store';
import { SocleError } from '../../src/domain/errors';
import { loadConfig } from '../../src/config';
import { createTestDatabase, drivers } from '../support/db';

/** Every migration in the journal is applied once, whatever the number of modules that added one. */
const migrationCount = (JSON.parse(fs.readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: unknown[] }).entries.length;

describe.each(drivers)('store on %s', (driver) => {
  it('applies migrations once and keeps data across a reopen', async () => {
    const database = await createTestDatabase(driver);
    try {
      const first = await openStore(database.options);
      await first.db.insert(auditEvents).values({ actor: 'cli', action: 'test', subject: 'store' });
      await first.close();
      const second = await openStore(database.options);
      const rows = await second.db.select().from(auditEvents);
      expect(rows).toHaveLength(1);
      const [migrations] = await queryRows<{ n: number }>(second.db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
      expect(migrations?.n).toBe(migrationCount);
      await second.close();
    } finally {
      await database.destroy();
    }
  });
});

describe('embedded store lock', () => {
  it('refuses a second open of one directory with a clear error and allows it after close', async () => {
    const database = await createTestDatabase('pglite');
    try {
      // A lock held by another live process (our parent, the jest runner) must be honoured.
      const dir = (database.options as { dataDir: string }).dataDir;
      fs.writeFileSync(`${dir}/socle.lock`, String(process.ppid));
      await expect(openStore(database.options)).rejects.toThrow(SocleError);
      await expect(openStore(database.options)).rejects.toThrow(/in use by another Socle process/);
      fs.rmSync(`${dir}/socle.lock`);
      const store = await openStore(database.options);
      await store.close();
    } finally {
      await database.destroy();
    }
  });
});

/** Every entry under `dir` (recursive) whose mode gives anything to group or others, with that mode. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      const mode = fs.lstatSync(p).mode & 0o777;
      if (mode & 0o077) found.push(`${path.relative(dir, p)} ${mode.toString(8)}`);
      if (entry.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

describe('embedded store files', () => {
  it('keeps the data directory, the database, the lock and the LTI key to their owner, under umask 000 and for files made before', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-mode-'));
    const dataDir = path.join(parent, 'data');
    const previous = process.umask(0);
    try {
      fs.mkdirSync(path.join(dataDir, 'pglite'), { recursive: true, mode: 0o777 });
      fs.chmodSync(dataDir, 0o777);
      loadConfig({ DATA_DIR: dataDir }); // writes DATA_DIR/lti-key
      const store = await openStore({ dataDir });
      expect(fs.existsSync(path.join(dataDir, 'socle.lock'))).toBe(true);
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(openToOthers(dataDir)).toEqual([]);
      await store.db.insert(auditEvents).values({ actor: 'cli', action: 'test', subject: 'modes' });
      await store.db.execute(sql`CREATE TABLE mode_probe (x int)`);
      await store.close();
      expect(openToOthers(dataDir)).toEqual([]);
      // Reopened: the files PostgreSQL writes now are the owner's too.
      const again = await openStore({ dataDir });
      await again.db.execute(sql`INSERT INTO mode_probe VALUES (1)`);
      await again.close();
      const files = fs.readdirSync(path.join(dataDir, 'pglite'), { recursive: true });
      expect(files.length).toBeGreaterThan(100);
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      process.umask(previous);
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL store errors', () => {
  it('names the server it could not reach', async () => {
    await expect(openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none' })).rejects.toThrow(
      /Cannot open PostgreSQL at 127.0.0.1:1\/none/,
    );
  });
});
