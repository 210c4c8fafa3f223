import { and, asc, eq, ne } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike, SignJWT } from 'jose';
import { badgeKeys, type PublicJwk } from '../db/schema';
import type { Executor } from '../db/store';
import { openSecret, sealSecret } from '../secrets';
import { generateMultikey, type MultikeyPair, publicJwkOf } from './data-integrity';

/**
 * The issuer's signing algorithms: RS256 (RSA 2048, the default: OB 3.0 §8.2.3 makes it the algorithm every verifier
 * supports) or ES256 (P-256, shorter, which the spec permits but says limits interoperability).
 */
export const BADGE_ALGS = ['ES256', 'RS256'] as const;
export type BadgeAlg = (typeof BADGE_ALGS)[number];

export type IssuerKeyRow = typeof badgeKeys.$inferSelect;

export interface SigningKey {
  kid: string;
  alg: BadgeAlg;
  privateKey: KeyLike | Uint8Array;
}

async function newKeyRow(ltiKey: string, alg: BadgeAlg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' } satisfies PublicJwk,
    sealedPrivateJwk: sealSecret(ltiKey, 'badge-key', JSON.stringify(privateJwk)),
    status: 'active' as const,
  };
}

async function toSigningKey(ltiKey: string, row: IssuerKeyRow): Promise<SigningKey> {
  const jwk = JSON.parse(openSecret(ltiKey, 'badge-key', row.sealedPrivateJwk)) as JWK;
  return { kid: row.kid, alg: row.alg as BadgeAlg, privateKey: await importJWK(jwk, row.alg) };
}

/** The active signing key, created (RS256) on first use; safe when two processes create it at once. */
export async function activeSigningKey(ex: Executor, ltiKey: string): Promise<SigningKey> {
  const activeJwt = and(eq(badgeKeys.status, 'active'), ne(badgeKeys.alg, 'EdDSA'));
  const [active] = await ex.select().from(badgeKeys).where(activeJwt);
  if (active) return toSigningKey(ltiKey, active);
  await ex
    .insert(badgeKeys)
    .values(await newKeyRow(ltiKey, 'RS256'))
    .onConflictDoNothing();
  const [created] = await ex.select().from(badgeKeys).where(activeJwt);
  if (!created) throw new Error('cannot create the badge signing key');
  return toSigningKey(ltiKey, created);
}

/**
 * Retires the active key (it stays published, so what it signed still verifies) and makes a new one active.
 * Run it in a transaction.
 */
export async function rotateIssuerKey(ex: Executor, ltiKey: string, alg: BadgeAlg = 'RS256'): Promise<{ kid: string; alg: BadgeAlg; retired: string[] }> {
  const retired = await ex
    .update(badgeKeys)
    .set({ status: 'retired', retiredAt: new Date() })
    .where(and(eq(badgeKeys.status, 'active'), ne(badgeKeys.alg, 'EdDSA')))
    .returning({ kid: badgeKeys.kid });
  const row = await newKeyRow(ltiKey, alg);
  await ex.insert(badgeKeys).values(row);
  return { kid: row.kid, alg, retired: retired.map((r) => r.kid) };
}

/** Every key, oldest first, without private parts. */
export async function listIssuerKeys(ex: Executor) {
  return ex
    .select({
      kid: badgeKeys.kid,
      alg: badgeKeys.alg,
      status: badgeKeys.status,
      createdAt: badgeKeys.createdAt,
      retiredAt: badgeKeys.retiredAt,
      publicJwk: badgeKeys.publicJwk,
    })
    .from(badgeKeys)
    .orderBy(asc(badgeKeys.createdAt), asc(badgeKeys.kid));
}

/** The JWKS Socle publishes: active and retired public keys (a retired key still verifies its credentials). */
export async function publicJwks(ex: Executor): Promise<{ keys: PublicJwk[] }> {
  return { keys: (await listIssuerKeys(ex)).map((k) => k.publicJwk) };
}

/** The URL of a public key (`kid` of the JWS header): dereferences to that JWK (`GET /badges/keys/<thumbprint>`). */
export const keyUrl = (publicUrl: string, kid: string) => `${publicUrl}/badges/keys/${kid}`;

/** The JWKS Socle publishes, each key's `kid` its URL (the `kid` its credentials' headers carry). */
export async function publishedJwks(ex: Executor, publicUrl: string): Promise<{ keys: PublicJwk[] }> {
  return { keys: (await listIssuerKeys(ex)).map((k) => ({ ...k.publicJwk, kid: keyUrl(publicUrl, k.kid) })) };
}

/** One published key by its thumbprint, `kid` = its URL; undefined when Socle has no such key. */
export async function publishedKey(ex: Executor, publicUrl: string, thumbprint: string): Promise<PublicJwk | undefined> {
  const [row] = await ex.select({ publicJwk: badgeKeys.publicJwk }).from(badgeKeys).where(eq(badgeKeys.kid, thumbprint));
  return row && { ...row.publicJwk, kid: keyUrl(publicUrl, thumbprint) };
}

/** What a VC-JWT's registered claims are taken from. */
export interface SignableCredential {
  id: string;
  issuer: string | { id: string };
  validFrom: string;
  validUntil?: string;
  credentialSubject: { id?: string };
  [property: string]: unknown;
}

/**
 * Signs a credential as a VC-JWT (OB 3.0 §8.2 "JSON Web Token Proof Format"): JOSE header `alg`, `kid` (the key's
 * URL) and `typ: "JWT"` only; payload = the credential itself plus `iss` = issuer.id, `jti` = id, `sub` =
 * credentialSubject.id, `nbf` = validFrom and, when it has one, `exp` = validUntil.
 */
export async function signVcJwt(key: SigningKey, publicUrl: string, credential: SignableCredential): Promise<string> {
  const issuer = typeof credential.issuer === 'string' ? credential.issuer : credential.issuer.id;
  const jwt = new SignJWT({ ...credential })
    .setProtectedHeader({ alg: key.alg, kid: keyUrl(publicUrl, key.kid), typ: 'JWT' })
    .setIssuer(issuer)
    .setJti(credential.id)
    .setNotBefore(Math.floor(Date.parse(credential.validFrom) / 1000));
  if (credential.credentialSubject.id !== undefined) jwt.setSubject(credential.credentialSubject.id);
  if (credential.validUntil !== undefined) jwt.setExpirationTime(Math.floor(Date.parse(credential.validUntil) / 1000));
  return jwt.sign(key.privateKey);
}

/** The Ed25519 key of Data Integrity proofs (`kid` = its public key multibase), with its controller's method id. */
export interface IssuerMultikey extends MultikeyPair {
  kid: string;
}

/** The secret part of an Ed25519 key as sealed at rest. */
interface SealedMultikey {
  publicKeyMultibase: string;
  secretKeyMultibase: string;
}

/**
 * The active Ed25519 key, created on first use (safe when two processes create it at once); its verification method
 * is `<controller>#<publicKeyMultibase>`, the controller being Socle's `did:web` (so a new PUBLIC_URL needs no new key).
 */
export async function activeMultikey(ex: Executor, ltiKey: string, controller: string): Promise<IssuerMultikey> {
  const activeEd = and(eq(badgeKeys.status, 'active'), eq(badgeKeys.alg, 'EdDSA'));
  let [row] = await ex.select().from(badgeKeys).where(activeEd);
  if (!row) {
    const pair = await generateMultikey(controller);
    const sealed: SealedMultikey = { publicKeyMultibase: pair.publicKeyMultibase, secretKeyMultibase: pair.secretKeyMultibase };
    await ex
      .insert(badgeKeys)
      .values({
        kid: pair.publicKeyMultibase,
        alg: 'EdDSA',
        publicJwk: { ...(await publicJwkOf(pair)), kid: pair.publicKeyMultibase, alg: 'EdDSA', use: 'sig' },
        sealedPrivateJwk: sealSecret(ltiKey, 'badge-key', JSON.stringify(sealed)),
        status: 'active',
      })
      .onConflictDoNothing();
    [row] = await ex.select().from(badgeKeys).where(activeEd);
    if (!row) throw new Error('cannot create the Ed25519 badge key');
  }
  const { publicKeyMultibase, secretKeyMultibase } = JSON.parse(openSecret(ltiKey, 'badge-key', row.sealedPrivateJwk)) as SealedMultikey;
  return { kid: row.kid, id: `${controller}#${publicKeyMultibase}`, controller, publicKeyMultibase, secretKeyMultibase };
}

/** The Ed25519 public keys (active and retired: a retired key still verifies what it signed), oldest first. */
export async function publishedMultikeys(ex: Executor): Promise<{ publicKeyMultibase: string; status: 'active' | 'retired' }[]> {
  const rows = await ex
    .select({ kid: badgeKeys.kid, status: badgeKeys.status })
    .from(badgeKeys)
    .where(eq(badgeKeys.alg, 'EdDSA'))
    .orderBy(asc(badgeKeys.createdAt), asc(badgeKeys.kid));
  return rows.map((r) => ({ publicKeyMultibase: r.kid, status: r.status }));
}
