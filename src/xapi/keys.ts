import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { platforms, xapiKeys } from '../db/schema';
import type { Executor } from '../db/store';
import { findPlatform, type Platform } from '../identity/records';
import { notFound } from '../domain/errors';

function hashSecret(secret: string): string {
  // The secret is 32 random bytes: a plain SHA-256 cannot be brute-forced and keeps each request cheap.
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface CreatedKey {
  key: string;
  secret: string;
  platform: string;
}

/** Issues a key/secret for the platform of `issuer` (which must already be known); only the hash is stored. */
export async function createXapiKey(ex: Executor, issuer: string): Promise<CreatedKey> {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`unknown platform ${issuer}: register it first (an LTI registration or launch creates it)`);
  const key = `socle_${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  await ex.insert(xapiKeys).values({ platformId: platform.id, key, secretHash: hashSecret(secret) });
  return { key, secret, platform: platform.issuer };
}

export interface KeyRow {
  key: string;
  platform: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listXapiKeys(ex: Executor, issuer?: string): Promise<KeyRow[]> {
  const rows = await ex
    .select({ key: xapiKeys.key, platform: platforms.issuer, createdAt: xapiKeys.createdAt, revokedAt: xapiKeys.revokedAt })
    .from(xapiKeys)
    .innerJoin(platforms, eq(platforms.id, xapiKeys.platformId))
    .orderBy(xapiKeys.id);
  return issuer === undefined ? rows : rows.filter((r) => r.platform === issuer.replace(/\/+$/, ''));
}

/**
 * How long a verified key is remembered by the process that verified it: a key revoked by another process (`socle
 * xapi-keys revoke` is one) is refused by this one at most this long after the revocation; in the process that revokes
 * it, at once. Every request of Moodle's logstore_xapi would otherwise cost one more round trip before any storage work.
 */
export const KEY_CACHE_MS = 30_000;
/** Keys remembered at most (the oldest is forgotten first): a platform has a few. */
const KEY_CACHE_SIZE = 1_000;

interface VerifiedKey {
  /** The executor the key was read from: a cache entry never answers for another database. */
  ex: Executor;
  platform: Platform;
  secretHash: string;
  until: number;
}

/** Keys recently found active, by key name (a key name is 24 random hex digits: unique). */
const verified = new Map<string, VerifiedKey>();
/** Counts this process's revocations: a lookup that read a key before a revocation does not remember it after. */
let revocations = 0;

/** Revokes a key; returns false when no active key has that name. The key is forgotten by this process at once. */
export async function revokeXapiKey(ex: Executor, key: string): Promise<boolean> {
  verified.delete(key);
  revocations++;
  const rows = await ex
    .update(xapiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)))
    .returning({ id: xapiKeys.id });
  return rows.length > 0;
}

/**
 * The platform whose active key matches these Basic credentials, or undefined. An active key is remembered
 * `KEY_CACHE_MS` (its secret's hash, never the secret); an unknown or revoked one is read again each time.
 */
export async function authenticateXapiKey(ex: Executor, key: string, secret: string, now = Date.now()): Promise<Platform | undefined> {
  const cached = verified.get(key);
  let row: { platform: Platform; secretHash: string } | undefined = cached && cached.ex === ex && cached.until > now ? cached : undefined;
  if (!row) {
    verified.delete(key);
    const generation = revocations;
    [row] = await ex
      .select({ platform: platforms, secretHash: xapiKeys.secretHash })
      .from(xapiKeys)
      .innerJoin(platforms, eq(platforms.id, xapiKeys.platformId))
      .where(and(eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)));
    if (row && generation === revocations) {
      if (verified.size >= KEY_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      verified.set(key, { ex, platform: row.platform, secretHash: row.secretHash, until: now + KEY_CACHE_MS });
    }
  }
  const given = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(row?.secretHash ?? '0'.repeat(64), 'hex');
  if (!row || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return row.platform;
}
