import { sql } from 'drizzle-orm';
import { decrypt, PgLtiDatabase } from '../../lti/plugin';
import { startLtiPurge } from '../../lti/runtime';
import { createLogger } from '../../src/logger';
import { ltiRecords } from '../../src/db/schema';
import { queryRows } from '../../src/db/store';
import { drivers, openTestStore, type TestStore } from '../support/db';

const KEY = 'test-lti-key-0123456789abcdef0123456789';

describe.each(drivers)('ltijs database plugin on %s', (driver) => {
  let t: TestStore;
  let db: PgLtiDatabase;
  beforeAll(async () => {
    t = await openTestStore(driver);
    db = new PgLtiDatabase(t.store.db, { tokenMaxAgeSeconds: 60, clockSkewSeconds: 60 });
    await db.setup();
  });
  afterAll(async () => {
    await db.Close();
    await t.destroy();
  });

  it('returns false when nothing matches, arrays otherwise, with equality on top-level fields', async () => {
    expect(await db.Get(false, 'platform', { platformUrl: 'https://nowhere' })).toBe(false);
    await db.Replace(false, 'platform', { platformUrl: 'https://m.example', clientId: 'a' }, { platformUrl: 'https://m.example', clientId: 'a', kid: 'k1', authConfig: { method: 'JWK_SET', key: 'https://m.example/certs' } });
    await db.Replace(false, 'platform', { platformUrl: 'https://m.example', clientId: 'b' }, { platformUrl: 'https://m.example', clientId: 'b', kid: 'k2' });
    const both = await db.Get(false, 'platform', { platformUrl: 'https://m.example' });
    expect(both && both.map((p) => p.clientId)).toEqual(['a', 'b']);
    const one = await db.Get(false, 'platform', { platformUrl: 'https://m.example', clientId: 'a' });
    expect(one && one[0]).toMatchObject({ kid: 'k1', authConfig: { method: 'JWK_SET', key: 'https://m.example/certs' } });
    expect(await db.Get(false, 'platform')).toHaveLength(2);
  });

  it('rejects queries with undefined or object values instead of widening the match', async () => {
    await expect(db.Get(false, 'platform', { platformUrl: 'https://m.example', clientId: undefined })).rejects.toThrow(/undefined value for "clientId"/);
    await expect(db.Delete('platform', { platformUrl: undefined })).rejects.toThrow(/undefined/);
    await expect(db.Get(false, 'platform', { authConfig: { method: 'JWK_SET' } })).rejects.toThrow(/object/);
    expect(await db.Get(false, 'platform')).toHaveLength(2);
  });

  it('upserts atomically: concurrent replaces of one key leave one row', async () => {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        db.Replace(false, 'idtoken', { iss: 'i', clientId: 'c', deploymentId: '1', user: '4' }, { iss: 'i', clientId: 'c', deploymentId: '1', user: '4', n: i }),
      ),
    );
    const rows = await db.Get(false, 'idtoken', { iss: 'i', user: '4' });
    expect(rows).toHaveLength(1);
  });

  it('stores keys and tokens encrypted and gives them back decrypted with createdAt as epoch', async () => {
    await db.Replace(KEY, 'accesstoken', { platformUrl: 'p', clientId: 'c', scopes: 's' }, { token: { access_token: 'secret-token', expires_in: 3600 } }, { platformUrl: 'p', clientId: 'c', scopes: 's' });
    const [raw] = await queryRows<{ doc: Record<string, string> }>(t.store.db, sql`SELECT doc FROM ${ltiRecords} WHERE collection = 'accesstoken'`);
    expect(JSON.stringify(raw?.doc)).not.toContain('secret-token');
    expect(raw?.doc.iv).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(decrypt(String(raw?.doc.data), String(raw?.doc.iv), KEY))).toEqual({ token: { access_token: 'secret-token', expires_in: 3600 } });
    const [got] = (await db.Get(KEY, 'accesstoken', { platformUrl: 'p', clientId: 'c', scopes: 's' })) || [];
    expect(got).toMatchObject({ token: { access_token: 'secret-token' } });
    expect(typeof got?.createdAt).toBe('number');
    expect(Math.abs(Number(got?.createdAt) - Date.now())).toBeLessThan(60_000);
    await db.Modify(KEY, 'accesstoken', { platformUrl: 'p', clientId: 'c', scopes: 's' }, { token: { access_token: 'other', expires_in: 10 } });
    const [modified] = (await db.Get(KEY, 'accesstoken', { platformUrl: 'p' })) || [];
    expect(modified).toMatchObject({ token: { access_token: 'other' } });
  });

  it('takes a login once, whoever asks at the same time, and never an expired one', async () => {
    await db.Insert(false, 'login', { state: 'st-1', nonce: 'no-1' });
    const taken = await Promise.all(Array.from({ length: 4 }, () => db.take('login', { state: 'st-1' })));
    expect(taken.flat()).toEqual([{ state: 'st-1', nonce: 'no-1' }]);
    await db.Insert(false, 'login', { state: 'st-2', nonce: 'no-2' });
    await t.store.db.execute(sql`UPDATE ${ltiRecords} SET expires_at = now() - interval '1 second' WHERE collection = 'login'`);
    expect(await db.take('login', { state: 'st-2' })).toEqual([]);
    await expect(db.take('login', {})).rejects.toThrow(/needs a query/);
    await db.purge();
  });

  it('refuses a second live nonce, hides expired rows and purges them', async () => {
    // A token is acceptable from iat - skew to iat + max age: its nonce is remembered that long.
    expect(db.lifetimeSeconds('nonce')).toBeGreaterThanOrEqual(60 + 60);
    await db.Insert(false, 'nonce', { nonce: 'n-1' });
    await expect(db.Insert(false, 'nonce', { nonce: 'n-1' })).rejects.toThrow(/already exists/);
    await db.Insert(false, 'state', { state: 's-1', query: {} });
    await t.store.db.execute(sql`UPDATE ${ltiRecords} SET expires_at = now() - interval '1 second' WHERE collection IN ('nonce', 'state')`);
    expect(await db.Get(false, 'nonce', { nonce: 'n-1' })).toBe(false);
    expect(await db.Get(false, 'state', { state: 's-1' })).toBe(false);
    // An expired row may be taken over by a new insert of the same key.
    await db.Insert(false, 'state', { state: 's-1', query: { a: '1' } });
    expect(await db.Get(false, 'state', { state: 's-1' })).toEqual([expect.objectContaining({ query: { a: '1' } })]);
    expect(await db.purge()).toBe(1);
    expect(await db.purge()).toBe(0);
  });

  it('deletes expired rows from the worker loop, keeping live ones', async () => {
    await db.Insert(false, 'state', { state: 's-old', query: {} });
    await db.Insert(false, 'state', { state: 's-live', query: {} });
    await t.store.db.execute(sql`UPDATE ${ltiRecords} SET expires_at = now() - interval '1 second' WHERE doc->>'state' = 's-old'`);
    const states = async () =>
      (await queryRows<{ state: string }>(t.store.db, sql`SELECT doc->>'state' AS state FROM ${ltiRecords} WHERE collection = 'state'`)).map((r) => r.state);
    expect(await states()).toContain('s-old');
    // an hour's interval: only the wake runs a tick; stop() waits for it
    const worker = startLtiPurge(db, createLogger('silent'), 3_600_000);
    worker.wake();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await worker.stop();
    expect(await states()).not.toContain('s-old');
    expect(await states()).toContain('s-live');
  });

  it('modifies and deletes by query', async () => {
    await db.Replace(false, 'platformStatus', { id: 'k1' }, { id: 'k1', active: false });
    await db.Modify(false, 'platformStatus', { id: 'k1' }, { active: true });
    expect(await db.Get(false, 'platformStatus', { id: 'k1' })).toEqual([expect.objectContaining({ id: 'k1', active: true })]);
    await db.Delete('platformStatus', { id: 'k1' });
    expect(await db.Get(false, 'platformStatus', { id: 'k1' })).toBe(false);
    await expect(db.Get(false, 'nocollection')).rejects.toThrow(/unknown ltijs collection/);
  });
});
