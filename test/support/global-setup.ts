import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/db/store';
import { loadBundledReferentials } from '../../src/referentials/catalogue';

/**
 * Creates one migrated PGlite directory per run, with the bundled référentiels loaded; each test copies it (a
 * reopen costs ~0.4 s, a fresh initdb several seconds). Tests find it through SOCLE_TEST_PGLITE_TEMPLATE.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.TEST_DATABASE_URL) {
    process.stdout.write('\nTEST_DATABASE_URL is unset: the tests run on the embedded PGlite only, and those that need a PostgreSQL server are skipped.\n');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-template-'));
  const store = await openStore({ dataDir: dir });
  // As after a first start: the bundled référentiels are in, so each server start only checks them.
  await loadBundledReferentials(store.db);
  await store.close();
  process.env.SOCLE_TEST_PGLITE_TEMPLATE = dir;
}
