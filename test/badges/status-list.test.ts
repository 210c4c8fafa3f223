import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { issueCredentials, revokeCredentials } from '../../src/badges/credentials';
import { bitAt, decodeBitstring, encodeBitstring, permuteIndex, STATUS_LIST_SIZE } from '../../src/badges/status-list';
import { badgeCredentials, users } from '../../src/db/schema';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { socle28 } from './referential';

describe('W3C Bitstring Status List: indexes and encoding', () => {
  it('places positions by a keyed permutation: every index of the 131,072 used once, in an order that depends on the key', () => {
    const key = randomBytes(32);
    const seen = new Uint8Array(STATUS_LIST_SIZE);
    const first: number[] = [];
    let repeats = 0;
    for (let position = 0; position < STATUS_LIST_SIZE; position++) {
      const index = permuteIndex(key, position);
      if (seen[index]) repeats++;
      seen[index] = 1;
      if (position < 8) first.push(index);
    }
    expect(repeats).toBe(0);
    expect(seen.every((b) => b === 1)).toBe(true);
    expect(first).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from({ length: 8 }, (_, p) => permuteIndex(randomBytes(32), p))).not.toEqual(first);
    expect(() => permuteIndex(key, STATUS_LIST_SIZE)).toThrow(RangeError);
  });

  it('encodes the bitstring left-most bit first, GZIP, multibase base64url, and decodes it back', () => {
    const encoded = encodeBitstring([0, 9, STATUS_LIST_SIZE - 1]);
    expect(encoded.startsWith('u')).toBe(true);
    expect(encoded).toMatch(/^u[A-Za-z0-9_-]+$/);
    const raw = gunzipSync(Buffer.from(encoded.slice(1), 'base64url'));
    expect(raw.length).toBe(16_384);
    expect([raw[0], raw[1], raw[16_383]]).toEqual([0x80, 0x40, 0x01]);
    const bits = decodeBitstring(encoded);
    expect([0, 1, 9, STATUS_LIST_SIZE - 1].map((i) => bitAt(bits, i))).toEqual([true, false, true, true]);
    expect(() => decodeBitstring('zabc')).toThrow('multibase');
  });
});

describe.each(drivers)('the published status list on %s', (driver) => {
  let server: TestServer;
  const publicUrl = 'https://socle.univ-exemple.fr';
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

  beforeAll(async () => {
    server = await startTestServer(driver, { publicUrl });
  });
  afterAll(() => server.destroy());

  it('is signed by the issuer, changes (ETag) only when a credential is revoked, and keeps the bit after the learner is erased', async () => {
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, 'https://moodle.univ-exemple.fr');
    const learners = await Promise.all(['s1', 's2', 's3'].map(async (sub) => (await ensureUser(db, platform.id, sub)).id));
    const issued = await issueCredentials(db, server.ctx, learners.map((userId) => ({ userId, referential: socle28, domainCode: '2', creditsEarnedMinutes: 300 })));
    const entries = issued.map((r) => [r.credential.statusListId, r.credential.statusListIndex] as [number, number]);
    expect(new Set(entries.map(([, i]) => i)).size).toBe(3);
    const listId = entries[0]?.[0] as number;
    const path = `/badges/status/${listId}`;

    const first = await get(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/vc\+jwt/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=60');
    const jwt = await first.text();
    expect(decodeProtectedHeader(jwt)).toMatchObject({ typ: 'JWT', kid: expect.stringMatching(new RegExp(`^${publicUrl}/badges/keys/`)) });
    const list = decodeJwt(jwt) as { iss: string; jti: string; sub: string; credentialSubject: { id: string; encodedList: string } };
    expect(list).toMatchObject({
      '@context': ['https://www.w3.org/ns/credentials/v2'],
      id: `${publicUrl}${path}`,
      type: ['VerifiableCredential', 'BitstringStatusListCredential'],
      issuer: `${publicUrl}/badges/issuer`,
      credentialSubject: { id: `${publicUrl}${path}#list`, type: 'BitstringStatusList', statusPurpose: 'revocation' },
      iss: `${publicUrl}/badges/issuer`,
      jti: `${publicUrl}${path}`,
    });
    expect(list.sub).toBe(list.credentialSubject.id);
    const etag = first.headers.get('etag') as string;
    expect((await get(path, { 'If-None-Match': etag })).status).toBe(304);
    expect(await (await get(path)).text()).toBe(jwt); // not signed again while nothing changed

    const [, revokedIndex] = entries[1] as [number, number];
    expect(await revokeCredentials(db, [{ id: issued[1]?.credential.id as string, reason: 'Heures annulées' }])).toBe(1);
    const after = await get(path, { 'If-None-Match': etag, Accept: 'application/json' });
    expect(after.status).toBe(200);
    const bitsOf = async (res: Response) => decodeBitstring(((await res.json()) as { credentialSubject: { encodedList: string } }).credentialSubject.encodedList);
    const bits = await bitsOf(after);
    expect(entries.map(([, i]) => bitAt(bits, i))).toEqual([false, true, false]);

    // erasing the learner removes the credential row, never the bit
    await db.delete(users).where(eq(users.id, learners[1] as number));
    expect(await db.select().from(badgeCredentials).where(eq(badgeCredentials.userId, learners[1] as number))).toEqual([]);
    expect(bitAt(await bitsOf(await get(path, { Accept: 'application/json' })), revokedIndex)).toBe(true);

    for (const bad of ['/badges/status/999', '/badges/status/-1', '/badges/status/abc', '/badges/keys/no%20such']) expect((await get(bad)).status).toBe(404);
  });
});
