import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { auditEvents, platforms, xapiKeys } from '../db/schema';
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

/**
 * Issues a key/secret for the platform of `issuer` (which must already be known); only the hash is stored. With an
 * `actor` (a person in the browser), the creation is audited (the key's name, never its secret).
 */
export async function createXapiKey(ex: Executor, issuer: string, actor?: string): Promise<CreatedKey> {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`unknown platform ${issuer}: register it first (an LTI registration or launch creates it)`);
  const key = `socle_${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  await ex.insert(xapiKeys).values({ platformId: platform.id, key, secretHash: hashSecret(secret) });
  if (actor) await ex.insert(auditEvents).values({ actor, action: 'xapi-key.create', subject: `platform:${platform.id}`, after: { key } });
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
 * Revokes a key; returns false when no active key has that name (on this platform, when given). With an `actor`,
 * the revocation is audited.
 */
export async function revokeXapiKey(ex: Executor, key: string, scope: { platformId?: number; actor?: string } = {}): Promise<boolean> {
  const conditions = [eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)];
  if (scope.platformId !== undefined) conditions.push(eq(xapiKeys.platformId, scope.platformId));
  const rows = await ex
    .update(xapiKeys)
    .set({ revokedAt: new Date() })
    .where(and(...conditions))
    .returning({ id: xapiKeys.id, platformId: xapiKeys.platformId });
  const [row] = rows;
  if (row && scope.actor) await ex.insert(auditEvents).values({ actor: scope.actor, action: 'xapi-key.revoke', subject: `platform:${row.platformId}`, before: { key } });
  return rows.length > 0;
}

/** The platform whose active key matches these Basic credentials, or undefined. */
export async function authenticateXapiKey(ex: Executor, key: string, secret: string): Promise<Platform | undefined> {
  const [row] = await ex
    .select({ platform: platforms, secretHash: xapiKeys.secretHash })
    .from(xapiKeys)
    .innerJoin(platforms, eq(platforms.id, xapiKeys.platformId))
    .where(and(eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)));
  const given = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(row?.secretHash ?? '0'.repeat(64), 'hex');
  if (!row || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return row.platform;
}
