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
 * How long a verified key is remembered by the process that verified it: a key revoked by another process (`socle
 * xapi-keys revoke` is one) is refused by this one at most this long after the revocation; in the process that revokes
 * it, at once. Every request of Moodle's logstore_xapi would otherwise cost one more round trip before any storage work.
 */
export const KEY_CACHE_MS = 30_000;
/** Keys remembered at most (the oldest is forgotten first): a platform has a few. */
const KEY_CACHE_SIZE = 1_000;

/**
 * The keys a process recently found active, by key name (24 random hex digits: unique), with their secret's hash —
 * never the secret. One per context (`AppContext.xapiKeys`), so it answers for one database only.
 */
export class VerifiedKeys {
  private readonly entries = new Map<string, { platform: Platform; secretHash: string; until: number }>();
  /** This process's revocations: a lookup that read a key before a revocation does not remember it after. */
  private revocations = 0;

  get(key: string, now: number) {
    const entry = this.entries.get(key);
    if (entry && entry.until > now) return entry;
    this.entries.delete(key);
    return undefined;
  }

  generation(): number {
    return this.revocations;
  }

  remember(key: string, row: { platform: Platform; secretHash: string }, generation: number, now: number): void {
    if (generation !== this.revocations) return;
    if (this.entries.size >= KEY_CACHE_SIZE) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { ...row, until: now + KEY_CACHE_MS });
  }

  forget(key: string): void {
    this.entries.delete(key);
    this.revocations++;
  }
}

/**
 * Revokes a key; returns false when no active key has that name (on this platform, when given). With an `actor`,
 * the revocation is audited; with `verified`, this process forgets the key at once.
 */
export async function revokeXapiKey(
  ex: Executor,
  key: string,
  scope: { platformId?: number; actor?: string; verified?: VerifiedKeys } = {},
): Promise<boolean> {
  scope.verified?.forget(key);
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

/**
 * The platform whose active key matches these Basic credentials, or undefined. With `verified`, an active key is
 * remembered `KEY_CACHE_MS`; an unknown or revoked one is read again each time.
 */
export async function authenticateXapiKey(ex: Executor, key: string, secret: string, verified?: VerifiedKeys, now = Date.now()): Promise<Platform | undefined> {
  let row: { platform: Platform; secretHash: string } | undefined = verified?.get(key, now);
  if (!row) {
    const generation = verified?.generation() ?? 0;
    [row] = await ex
      .select({ platform: platforms, secretHash: xapiKeys.secretHash })
      .from(xapiKeys)
      .innerJoin(platforms, eq(platforms.id, xapiKeys.platformId))
      .where(and(eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)));
    if (row) verified?.remember(key, row, generation, now);
  }
  const given = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(row?.secretHash ?? '0'.repeat(64), 'hex');
  if (!row || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return row.platform;
}
