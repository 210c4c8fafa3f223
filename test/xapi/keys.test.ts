import { sql } from 'drizzle-orm';
import { ensurePlatform } from '../../src/identity/records';
import { authenticateXapiKey, createXapiKey, KEY_CACHE_MS, revokeXapiKey, VerifiedKeys } from '../../src/xapi/keys';
import { drivers, openTestStore } from '../support/db';
import { MOODLE } from './support';

describe.each(drivers)('xAPI key verification on %s', (driver) => {
  it('remembers an active key for KEY_CACHE_MS, forgets it at once when this process revokes it, and never accepts a wrong secret', async () => {
    const { store, destroy } = await openTestStore(driver);
    try {
      await ensurePlatform(store.db, MOODLE);
      const a = await createXapiKey(store.db, MOODLE);
      const b = await createXapiKey(store.db, MOODLE);
      const now = Date.now();
      const verified = new VerifiedKeys();
      expect((await authenticateXapiKey(store.db, a.key, a.secret, verified, now))?.issuer).toBe(MOODLE);
      expect(await authenticateXapiKey(store.db, a.key, 'wrong', verified, now)).toBeUndefined();
      expect(await authenticateXapiKey(store.db, 'socle_unknown', a.secret, verified, now)).toBeUndefined();

      // revoked by another process (here: in SQL, as `socle xapi-keys revoke` does): accepted until the entry expires
      await store.db.execute(sql`UPDATE xapi_keys SET revoked_at = now() WHERE key = ${a.key}`);
      expect((await authenticateXapiKey(store.db, a.key, a.secret, verified, now + KEY_CACHE_MS - 1))?.issuer).toBe(MOODLE);
      expect(await authenticateXapiKey(store.db, a.key, 'wrong', verified, now + 1)).toBeUndefined();
      expect(await authenticateXapiKey(store.db, a.key, a.secret, verified, now + KEY_CACHE_MS)).toBeUndefined();

      // revoked by this process: refused at once
      expect((await authenticateXapiKey(store.db, b.key, b.secret, verified, now))?.issuer).toBe(MOODLE);
      expect(await revokeXapiKey(store.db, b.key, { verified })).toBe(true);
      expect(await authenticateXapiKey(store.db, b.key, b.secret, verified, now + 1)).toBeUndefined();
      // without a cache (a context-free caller), every verification reads the table
      const c = await createXapiKey(store.db, MOODLE);
      expect((await authenticateXapiKey(store.db, c.key, c.secret))?.issuer).toBe(MOODLE);
      await store.db.execute(sql`UPDATE xapi_keys SET revoked_at = now() WHERE key = ${c.key}`);
      expect(await authenticateXapiKey(store.db, c.key, c.secret)).toBeUndefined();
    } finally {
      await destroy();
    }
  });
});
