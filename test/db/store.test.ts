import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { auditEvents } from '../../src/db/schema';
import { migrationsFolder, openStore, queryRows } from '../../src/db/store';
import { SocleError } from '../../src/domain/errors';
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

describe('embedded store files', () => {
  it('keeps the database directory to its owner, even under a permissive umask and for a directory made before', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-mode-'));
    const previous = process.umask(0);
    try {
      fs.mkdirSync(path.join(dataDir, 'pglite'), { mode: 0o777 });
      const store = await openStore({ dataDir });
      await store.close();
      expect(fs.statSync(path.join(dataDir, 'pglite')).mode & 0o777).toBe(0o700);
      // its files may be 0666 (PGlite's own), but nobody else can reach them through the directory
      expect(fs.readdirSync(path.join(dataDir, 'pglite')).length).toBeGreaterThan(0);
    } finally {
      process.umask(previous);
      fs.rmSync(dataDir, { recursive: true, force: true });
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
