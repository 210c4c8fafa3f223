import { createHash } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { achievementDefinition, achievementJson } from '../../src/badges/achievements';
import { extractCredential } from '../../src/badges/baking';
import { issueCredential, issueCredentials, listCredentials, revokeCredential, revokeCredentials } from '../../src/badges/credentials';
import { renderPng } from '../../src/badges/image';
import { rotateIssuerKey } from '../../src/badges/keys';
import { applyBadges } from '../../src/coverage/badges';
import { verifyWithSocle } from '../../src/badges/service';
import { badgeCredentials, badgeImages, badgeKeys } from '../../src/db/schema';
import { queryRows } from '../../src/db/store';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { socle28 } from './referential';

const publicUrl = 'https://socle.univ-exemple.fr';
const issuerId = `${publicUrl}/badges/issuer`;

describe.each(drivers)('Open Badges credentials on %s', (driver) => {
  let server: TestServer;
  let userId: number;
  let otherUserId: number;
  const db = () => server.ctx.store.db;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });
  const local = (url: string) => url.replace(publicUrl, '');
  const issue = (domainCode: string | null, creditsEarnedMinutes: number, user = userId) =>
    issueCredential(db(), server.ctx, { userId: user, referential: socle28, domainCode, creditsEarnedMinutes });

  beforeAll(async () => {
    server = await startTestServer(driver, { publicUrl });
    const platform = await ensurePlatform(db(), 'https://moodle.univ-exemple.fr');
    userId = (await ensureUser(db(), platform.id, '4', { name: 'Camille Martin', email: 'camille.martin@univ-exemple.fr' })).id;
    otherUserId = (await ensureUser(db(), platform.id, '5')).id;
  });
  afterAll(() => server.destroy());

  it('issues exactly one credential per learner and achievement, even when asked at once', async () => {
    const results = await Promise.all([issue('2', 300), issue('2', 300), issue('2', 300)]);
    expect(new Set(results.map((r) => r.credential.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const again = await db().transaction((tx) => issueCredential(tx, server.ctx, { userId, referential: socle28, domainCode: '2', creditsEarnedMinutes: 330 }));
    // The learner had earned 5 h 30 by then: the credential first issued (5 h) stands.
    expect(again).toMatchObject({ created: false, credential: { id: results[0]?.credential.id } });
    const other = await issue('2', 300, otherUserId);
    expect(other.created).toBe(true);
    expect(other.credential.id).not.toBe(results[0]?.credential.id);
    const rows = await db().select().from(badgeCredentials).where(eq(badgeCredentials.userId, userId));
    expect(rows).toHaveLength(1);
  });

  it('refuses to issue below the hours of the achievement or for an unknown domain, and stores nothing', async () => {
    await expect(issue('1', 359)).rejects.toThrow('Données de santé — 6\u00a0h: 359 minutes earned, 360 required; nothing issued');
    await expect(issue('9', 600)).rejects.toThrow('has no domain 9');
    const rows = await db().select().from(badgeCredentials).where(eq(badgeCredentials.userId, userId));
    expect(rows).toHaveLength(1);
  });

  it('signs a VC-JWT that verifies with the published JWKS and has the OB 3.0 required properties, without the email', async () => {
    const { credential } = await issue('2', 300);
    const jwks = (await (await get('/badges/jwks.json')).json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload, protectedHeader } = await jwtVerify(credential.jwt, createLocalJWKSet(jwks as never), { issuer: issuerId });
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: `${publicUrl}/badges/keys/${credential.kid}` });
    expect(jwks.keys[0]?.kid).toBe(protectedHeader.kid);
    // the kid dereferences to the key itself
    const key = await get(local(protectedHeader.kid as string));
    expect(key.headers.get('content-type')).toMatch(/^application\/jwk\+json/);
    expect(await key.json()).toEqual(jwks.keys[0]);
    const vc = payload as Record<string, unknown> & { credentialSubject: Record<string, unknown> & { identifier: Record<string, string | boolean>[] } };
    expect(vc['@context']).toEqual([
      'https://www.w3.org/ns/credentials/v2',
      'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
      'https://purl.imsglobal.org/spec/ob/v3p0/extensions.json',
    ]);
    expect(vc.type).toEqual(['VerifiableCredential', 'OpenBadgeCredential']);
    expect(vc.id).toBe(`${publicUrl}/badges/${credential.id}`);
    expect(vc.jti).toBe(vc.id);
    expect(vc.name).toBe('Cybersécurité en santé — 5\u00a0h');
    expect(vc.issuer).toMatchObject({ id: issuerId, type: ['Profile'] });
    expect(vc.validFrom).toBe(credential.issuedAt.toISOString());
    expect(vc.nbf).toBe(credential.issuedAt.getTime() / 1000);
    expect(vc.iss).toBe(issuerId);
    expect(vc.sub).toBe(vc.credentialSubject.id);
    expect(vc.credentialSubject.id).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(vc).not.toHaveProperty('exp');
    expect(vc.credentialStatus).toEqual({
      id: `${publicUrl}/badges/status/${credential.statusListId}#${credential.statusListIndex}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(credential.statusListIndex),
      statusListCredential: `${publicUrl}/badges/status/${credential.statusListId}`,
    });
    expect(vc.credentialSchema).toEqual([
      { id: 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json', type: '1EdTechJsonSchemaValidator2019' },
    ]);
    const def = achievementDefinition(socle28, '2');
    expect(vc.credentialSubject).toMatchObject({
      type: ['AchievementSubject'],
      creditsEarned: 5,
      achievement: def && achievementJson(def, publicUrl),
    });
    // The learner: their platform and a salted hash of their LTI user id; never their email or name.
    const [platformId, hashed] = vc.credentialSubject.identifier;
    expect(platformId).toMatchObject({ identityType: 'ltiPlatformId', hashed: false, identityHash: 'https://moodle.univ-exemple.fr' });
    expect(hashed).toMatchObject({ type: 'IdentityObject', identityType: 'ltiUserId', hashed: true });
    expect(hashed?.identityHash).toBe(`sha256$${createHash('sha256').update(`4${String(hashed?.salt)}`).digest('hex')}`);
    expect(JSON.stringify(payload)).not.toMatch(/camille|martin/i);

    // The issuer profile and the achievement are served at their ids.
    const profile = await (await get(local(issuerId))).json();
    expect(profile).toMatchObject({ id: issuerId, type: ['Profile'] });
    const achievement = vc.credentialSubject.achievement as { id: string };
    expect(await (await get(local(achievement.id))).json()).toEqual(achievement);
    const image = await get(`${local(achievement.id)}/image.png`);
    expect(image.headers.get('content-type')).toBe('image/png');
  });

  it('serves baked PNG and SVG images that extract back to the same JWT, and a verification page that says valid', async () => {
    const { credential } = await issue('2', 300);
    const png = Buffer.from(await (await get(`/badges/${credential.id}/badge.png`)).arrayBuffer());
    const svg = Buffer.from(await (await get(`/badges/${credential.id}/badge.svg`)).arrayBuffer());
    expect(extractCredential(png)).toBe(credential.jwt);
    expect(extractCredential(svg)).toBe(credential.jwt);
    expect(svg.toString()).toContain('Cybersécurité');

    const json = await get(`/badges/${credential.id}`, { Accept: 'application/json' });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      id: `${publicUrl}/badges/${credential.id}`,
      status: 'valid',
      achievement: { name: 'Cybersécurité en santé — 5\u00a0h', domain: '2' },
      jwt: credential.jwt,
    });
    const fr = await (await get(`/badges/${credential.id}`, { Accept: 'text/html', 'Accept-Language': 'fr-FR,fr;q=0.9' })).text();
    expect(fr).toContain('<html lang="fr">');
    expect(fr).toContain('Badge valide');
    const en = await (await get(`/badges/${credential.id}`, { Accept: 'text/html', 'Accept-Language': 'en-GB,en;q=0.8' })).text();
    expect(en).toContain('Valid badge');
  });

  it('says unknown for an id it never issued', async () => {
    for (const id of ['3f1e9a52-2c1b-4b7e-9d55-0c8f3e1a2b4c', 'not-a-uuid']) {
      const res = await get(`/badges/${id}`, { Accept: 'application/json' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ status: 'unknown' });
    }
    expect((await get('/badges/3f1e9a52-2c1b-4b7e-9d55-0c8f3e1a2b4c/badge.png')).status).toBe(404);
    const achievement = await get('/achievements/socle-sante-niveaux-4-8/V1.1.2022/domains/9');
    expect(achievement.status).toBe(404);
    expect(await achievement.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('fails a tampered JWT, a JWT signed by another key and a tampered baked image', async () => {
    const { credential } = await issue('2', 300);
    expect(await verifyWithSocle(db(), server.ctx, credential.jwt)).toMatchObject({ status: 'valid', errors: [] });

    const [h, p, s] = credential.jwt.split('.');
    const claims = decodeJwt(credential.jwt) as { credentialSubject: { creditsEarned: number } };
    claims.credentialSubject.creditsEarned = 28;
    const forgedPayload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const tampered = await verifyWithSocle(db(), server.ctx, `${h}.${forgedPayload}.${s}`);
    expect(tampered.status).toBe('invalid');
    expect(tampered.errors[0]).toMatch(/signature/);

    const { privateKey } = await generateKeyPair('ES256');
    const kid = decodeProtectedHeader(credential.jwt).kid as string;
    const foreign = await new SignJWT(decodeJwt(credential.jwt)).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(privateKey);
    expect((await verifyWithSocle(db(), server.ctx, foreign)).status).toBe('invalid');
    const unknownKid = await new SignJWT(decodeJwt(credential.jwt)).setProtectedHeader({ alg: 'ES256', kid: `${publicUrl}/badges/keys/nope` }).sign(privateKey);
    expect((await verifyWithSocle(db(), server.ctx, unknownKid)).errors).toEqual([`the key ${publicUrl}/badges/keys/nope cannot be read (HTTP 404)`]);
    const elsewhere = await new SignJWT(decodeJwt(credential.jwt)).setProtectedHeader({ alg: 'ES256', kid: 'https://attacker.example/key' }).sign(privateKey);
    expect((await verifyWithSocle(db(), server.ctx, elsewhere)).errors).toEqual([`the key https://attacker.example/key is not on the issuer's origin (${publicUrl})`]);

    const svg = await (await get(`/badges/${credential.id}/badge.svg`)).text();
    const alteredSvg = svg.replace(p as string, forgedPayload);
    expect((await verifyWithSocle(db(), server.ctx, extractCredential(Buffer.from(alteredSvg)))).status).toBe('invalid');

    const later = await verifyWithSocle(db(), server.ctx, credential.jwt, new Date(credential.issuedAt.getTime() - 60_000));
    expect(later.status).toBe('invalid');
  });

  it('revokes with a reason: the verifier and the endpoint say revoked; earning it again issues a new credential', async () => {
    const { credential } = await issue('2', 300);
    await expect(revokeCredential(db(), credential.id, '  ')).rejects.toThrow('a revocation needs a reason');
    expect((await verifyWithSocle(db(), server.ctx, credential.jwt)).status).toBe('valid');
    const revoked = await revokeCredential(db(), credential.id, 'Heures annulées (déclarations invalidées)');
    expect(revoked).toMatchObject({ changed: true, credential: { status: 'revoked' } });
    expect(await revokeCredential(db(), credential.id, 'again')).toMatchObject({ changed: false, credential: { revocationReason: 'Heures annulées (déclarations invalidées)' } });
    expect(await revokeCredential(db(), '3f1e9a52-2c1b-4b7e-9d55-0c8f3e1a2b4c', 'x')).toBeUndefined();

    expect(await verifyWithSocle(db(), server.ctx, credential.jwt)).toMatchObject({
      status: 'revoked',
      statusList: { url: `${publicUrl}/badges/status/${credential.statusListId}`, index: credential.statusListIndex, revoked: true },
    });
    const json = await (await get(`/badges/${credential.id}`, { Accept: 'application/json' })).json();
    expect(json).toMatchObject({ status: 'revoked', revocationReason: 'Heures annulées (déclarations invalidées)' });
    const page = await (await get(`/badges/${credential.id}`, { Accept: 'text/html' })).text();
    expect(page).toContain('Badge révoqué');
    expect(page).toContain('Heures annulées (déclarations invalidées)');

    const reissued = await issue('2', 300);
    expect(reissued.created).toBe(true);
    expect(reissued.credential.id).not.toBe(credential.id);
    const list = await listCredentials(db(), server.ctx, userId);
    expect(list.map((c) => [c.id, c.status])).toEqual([
      [credential.id, 'revoked'],
      [reissued.credential.id, 'active'],
    ]);
    expect(list[1]).toMatchObject({
      achievement: { id: `${publicUrl}/achievements/socle-sante-niveaux-4-8/V1.1.2022/domains/2`, name: 'Cybersécurité en santé — 5\u00a0h', domain: '2' },
      jwt: reissued.credential.jwt,
      verifyUrl: `${publicUrl}/badges/${reissued.credential.id}`,
    });
  });

  it('issues a batch in one go: results in order, a repeat and a credential already held are not issued twice', async () => {
    const platform = await ensurePlatform(db(), 'https://moodle.univ-exemple.fr');
    const learners = await Promise.all(['batch-1', 'batch-2', 'batch-3'].map(async (sub) => (await ensureUser(db(), platform.id, sub)).id));
    const [a, b, c] = learners as [number, number, number];
    const held = await issue('3', 300, a);
    const inputs = [
      { userId: a, domainCode: '3', creditsEarnedMinutes: 300 }, // already held
      { userId: b, domainCode: '3', creditsEarnedMinutes: 320 },
      { userId: c, domainCode: null, creditsEarnedMinutes: 28 * 60 },
      { userId: b, domainCode: '3', creditsEarnedMinutes: 330 }, // repeat within the batch
      { userId: c, domainCode: '4', creditsEarnedMinutes: 360 },
    ].map((i) => ({ ...i, referential: socle28 }));
    const results = await db().transaction((tx) => issueCredentials(tx, server.ctx, inputs));
    expect(results.map((r) => [r.credential.userId, r.achievement.domainCode, r.created, r.credential.creditsEarnedMinutes])).toEqual([
      [a, '3', false, 300],
      [b, '3', true, 320],
      [c, null, true, 28 * 60],
      [b, '3', false, 320],
      [c, '4', true, 360],
    ]);
    expect(results[0]?.credential.id).toBe(held.credential.id);
    expect(results[3]?.credential.id).toBe(results[1]?.credential.id);
    expect(results[1]?.learner).toEqual({ id: b, sub: 'batch-2', issuer: 'https://moodle.univ-exemple.fr' });
    for (const r of results) expect((await verifyWithSocle(db(), server.ctx, r.credential.jwt)).status).toBe('valid');
    const rows = await db().select().from(badgeCredentials).where(inArray(badgeCredentials.userId, learners));
    expect(rows).toHaveLength(4);

    // a batch with one input below its hours stores nothing
    await expect(
      db().transaction((tx) =>
        issueCredentials(tx, server.ctx, [
          { userId: a, referential: socle28, domainCode: '5', creditsEarnedMinutes: 360 },
          { userId: b, referential: socle28, domainCode: '5', creditsEarnedMinutes: 359 },
        ]),
      ),
    ).rejects.toThrow('359 minutes earned, 360 required');
    expect(await db().select().from(badgeCredentials).where(inArray(badgeCredentials.userId, learners))).toHaveLength(4);

    // revocations in one UPDATE: each keeps its own reason, an already revoked one keeps its first
    const ids = results.filter((r) => r.created).map((r) => r.credential.id);
    expect(await revokeCredentials(db(), ids.map((id, i) => ({ id, reason: `motif ${i}` })))).toBe(3);
    expect(await revokeCredentials(db(), [{ id: ids[0] as string, reason: 'again' }])).toBe(0);
    const revoked = await db().select().from(badgeCredentials).where(inArray(badgeCredentials.id, ids));
    expect(new Map(revoked.map((r) => [r.id, [r.status, r.revocationReason]]))).toEqual(
      new Map(ids.map((id, i) => [id, ['revoked', `motif ${i}`]])),
    );
  });

  it('issues a plan larger than one INSERT and one outbox chunk: every credential stored once, one earned statement each', async () => {
    const platform = await ensurePlatform(db(), 'https://moodle.plan-exemple.fr');
    const ids = (
      await queryRows<{ id: number }>(db(), sql`INSERT INTO users (platform_id, sub) SELECT ${platform.id}::int, 'plan-' || g FROM generate_series(1, 210) g RETURNING id`)
    ).map((r) => r.id);
    const codes = [...socle28.domains.map((d) => d.code), null];
    const items = ids.flatMap((userId) =>
      codes.map((code) => {
        const def = achievementDefinition(socle28, code);
        return { userId, path: def?.path ?? '', referential: socle28, domainCode: code, minutes: def?.requiredMinutes ?? 0 };
      }),
    );
    const outbox = async () => (await queryRows<{ n: number }>(db(), sql`SELECT count(*)::int AS n FROM xapi_outbox`))[0]?.n;
    const before = await outbox();
    const now = new Date();
    expect(await db().transaction((tx) => applyBadges(tx, server.ctx, { issue: items, revoke: [] }, now))).toEqual({ issued: 1260, revoked: 0 });
    expect(await outbox()).toBe((before ?? 0) + 1260);
    const rows = await db().select().from(badgeCredentials).where(inArray(badgeCredentials.userId, ids));
    expect(rows).toHaveLength(1260);
    expect(new Set(rows.map((r) => `${r.userId} ${r.achievementId}`)).size).toBe(1260);
    expect(await db().transaction((tx) => applyBadges(tx, server.ctx, { issue: items, revoke: [] }, now))).toEqual({ issued: 0, revoked: 0 });
    expect(await outbox()).toBe((before ?? 0) + 1260);
  });

  it('draws a badge picture once, on its first download, then bakes each credential into the stored one', async () => {
    const first = await issue('1', 360);
    const second = await issue('1', 360, otherUserId);
    await db().delete(badgeImages);
    const png1 = Buffer.from(await (await get(`/badges/${first.credential.id}/badge.png`)).arrayBuffer());
    expect(extractCredential(png1)).toBe(first.credential.jwt);
    const stored = await db().select().from(badgeImages);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.key).toMatch(/^256:[0-9a-f]{64}$/);
    // what is served is the stored picture: replace it and the next download carries the replacement, baked
    const replacement = await renderPng('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>', 8);
    await db().update(badgeImages).set({ png: replacement });
    const png2 = Buffer.from(await (await get(`/badges/${second.credential.id}/badge.png`)).arrayBuffer());
    expect(extractCredential(png2)).toBe(second.credential.jwt);
    expect(png2.readUInt32BE(16)).toBe(8); // IHDR width of the replacement
    expect(await db().select().from(badgeImages)).toHaveLength(1);
    // the achievement's own picture comes from the same store
    const own = Buffer.from(await (await get('/achievements/socle-sante-niveaux-4-8/V1.1.2022/domains/1/image.png')).arrayBuffer());
    expect(own.equals(replacement)).toBe(true);
    await db().delete(badgeImages);
  });

  it('rotates keys: old credentials still verify with the JWKS, new ones use the new key; private keys are sealed at rest', async () => {
    const old = await issue('2', 300);
    const rotated = await db().transaction((tx) => rotateIssuerKey(tx, server.ctx.config.ltiKey, 'ES256'));
    expect(rotated.retired).toEqual([old.credential.kid]);
    const whole = await issue(null, 28 * 60);
    expect(whole.credential.kid).toBe(rotated.kid);
    expect(decodeProtectedHeader(whole.credential.jwt).alg).toBe('ES256');
    expect(whole.achievement).toMatchObject({ domainCode: null, name: 'Socle numérique en santé — 28\u00a0h' });

    const jwks = createLocalJWKSet((await (await get('/badges/jwks.json')).json()) as never);
    for (const jwt of [old.credential.jwt, whole.credential.jwt]) {
      await expect(jwtVerify(jwt, jwks, { issuer: issuerId })).resolves.toBeDefined();
      expect((await verifyWithSocle(db(), server.ctx, jwt)).status).toBe('valid');
    }
    const keys = await db().select().from(badgeKeys);
    expect(keys.map((k) => k.status).sort()).toEqual(['active', 'retired']);
    for (const key of keys) {
      expect(key.sealedPrivateJwk).toMatch(/^v1\./);
      expect(key.sealedPrivateJwk).not.toContain('"d"');
      expect(key.publicJwk).not.toHaveProperty('d');
    }
    // Another LTI_KEY cannot open them.
    const other = { config: { ...server.ctx.config, ltiKey: 'another-lti-key-0123456789abcdef01234567' } };
    await expect(issueCredential(db(), other, { userId: otherUserId, referential: socle28, domainCode: '3', creditsEarnedMinutes: 300 })).rejects.toThrow();
  });
});
