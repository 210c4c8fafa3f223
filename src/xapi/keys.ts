import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { auditEvents, platforms, XAPI_SCOPES, xapiKeys } from '../db/schema';
import type { Executor } from '../db/store';
import { findPlatform, type Platform } from '../identity/records';
import { invalid, notFound } from '../domain/errors';

export type XapiScope = (typeof XAPI_SCOPES)[number];

/**
 * Who an xAPI request acts for: a platform key (every scope, its platform's data), or an LRS client with its scopes,
 * restricted to one platform (`platform`) or not (then its documents are its own, by `keyId`).
 */
export interface XapiPrincipal {
  kind: 'platform' | 'client';
  keyId: number;
  platform: Platform | undefined;
  scopes: readonly XapiScope[];
}

/** What a client gets when `--scope` is not given: the xAPI default (write statements, read its own). */
export const DEFAULT_CLIENT_SCOPES: readonly XapiScope[] = ['statements/write', 'statements/read/mine'];

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
  await ex.insert(xapiKeys).values({ kind: 'platform', platformId: platform.id, key, secretHash: hashSecret(secret) });
  if (actor) await ex.insert(auditEvents).values({ actor, action: 'xapi-key.create', subject: `platform:${platform.id}`, after: { key } });
  return { key, secret, platform: platform.issuer };
}

export interface CreatedClient {
  key: string;
  secret: string;
  name: string;
  scopes: XapiScope[];
  /** The platform the client is restricted to, or null. */
  platform: string | null;
}

/**
 * Issues an LRS client's key/secret with `scopes` (the xAPI default when empty), restricted to the platform of
 * `issuer` when given (which must be known). Only the secret's hash is stored.
 */
export async function createXapiClient(
  ex: Executor,
  client: { name: string; scopes?: readonly string[]; issuer?: string },
  actor?: string,
): Promise<CreatedClient> {
  const name = client.name.trim();
  if (!name || name.length > 200) throw invalid('A client needs a name (at most 200 characters).', [{ path: 'name', message: 'expected 1 to 200 characters' }]);
  const unknown = (client.scopes ?? []).filter((s) => !(XAPI_SCOPES as readonly string[]).includes(s));
  if (unknown.length) {
    throw invalid(`Unknown xAPI scope ${unknown.map((s) => `"${s}"`).join(', ')}: expected ${XAPI_SCOPES.join(', ')}.`, [
      { path: 'scope', message: `unknown: ${unknown.join(', ')}` },
    ]);
  }
  const scopes = [...new Set(client.scopes?.length ? (client.scopes as XapiScope[]) : DEFAULT_CLIENT_SCOPES)];
  let platform: Platform | undefined;
  if (client.issuer !== undefined) {
    platform = await findPlatform(ex, client.issuer);
    if (!platform) throw notFound(`unknown platform ${client.issuer}: register it first (an LTI registration or launch creates it)`);
  }
  const key = `socle_${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  await ex.insert(xapiKeys).values({ kind: 'client', name, scopes, platformId: platform?.id ?? null, key, secretHash: hashSecret(secret) });
  if (actor) await ex.insert(auditEvents).values({ actor, action: 'xapi-key.create', subject: platform ? `platform:${platform.id}` : `client:${key}`, after: { key, name, scopes } });
  return { key, secret, name, scopes, platform: platform?.issuer ?? null };
}

export interface KeyRow {
  key: string;
  kind: 'platform' | 'client';
  /** A client's name; null for a platform key. */
  name: string | null;
  /** The platform's issuer; null for a client restricted to none. */
  platform: string | null;
  scopes: XapiScope[];
  createdAt: Date;
  revokedAt: Date | null;
}

/** Platform keys and LRS clients (never secrets); with `issuer`, only those acting for that platform. */
export async function listXapiKeys(ex: Executor, issuer?: string): Promise<KeyRow[]> {
  const rows = await ex
    .select({
      key: xapiKeys.key,
      kind: xapiKeys.kind,
      name: xapiKeys.name,
      platform: platforms.issuer,
      scopes: xapiKeys.scopes,
      createdAt: xapiKeys.createdAt,
      revokedAt: xapiKeys.revokedAt,
    })
    .from(xapiKeys)
    .leftJoin(platforms, eq(platforms.id, xapiKeys.platformId))
    .orderBy(xapiKeys.id);
  const all = rows.map((r) => ({ ...r, scopes: r.kind === 'platform' ? (['all'] as XapiScope[]) : r.scopes }));
  return issuer === undefined ? all : all.filter((r) => r.platform === issuer.replace(/\/+$/, ''));
}

/** What a verification remembers of a key: whom it acts for and its secret's hash (never the secret). */
interface KeyEntry {
  principal: XapiPrincipal;
  secretHash: string;
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
  private readonly entries = new Map<string, KeyEntry & { until: number }>();
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

  remember(key: string, row: KeyEntry, generation: number, now: number): void {
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
  if (row && scope.actor) await ex.insert(auditEvents).values({ actor: scope.actor, action: 'xapi-key.revoke', subject: row.platformId === null ? `client:${key}` : `platform:${row.platformId}`, before: { key } });
  return rows.length > 0;
}

/**
 * Whom the active key matching these Basic credentials acts for, or undefined. With `verified`, an active key is
 * remembered `KEY_CACHE_MS`; an unknown or revoked one is read again each time.
 */
export async function authenticateXapiCredentials(
  ex: Executor,
  key: string,
  secret: string,
  verified?: VerifiedKeys,
  now = Date.now(),
): Promise<XapiPrincipal | undefined> {
  let entry: KeyEntry | undefined = verified?.get(key, now);
  if (!entry) {
    const generation = verified?.generation() ?? 0;
    const [row] = await ex
      .select({ id: xapiKeys.id, kind: xapiKeys.kind, scopes: xapiKeys.scopes, platform: platforms, secretHash: xapiKeys.secretHash })
      .from(xapiKeys)
      .leftJoin(platforms, eq(platforms.id, xapiKeys.platformId))
      .where(and(eq(xapiKeys.key, key), isNull(xapiKeys.revokedAt)));
    if (row) {
      const principal: XapiPrincipal = {
        kind: row.kind,
        keyId: row.id,
        platform: row.platform ?? undefined,
        scopes: row.kind === 'platform' ? ['all'] : row.scopes,
      };
      entry = { principal, secretHash: row.secretHash };
      verified?.remember(key, entry, generation, now);
    }
  }
  const given = Buffer.from(hashSecret(secret), 'hex');
  const expected = Buffer.from(entry?.secretHash ?? '0'.repeat(64), 'hex');
  if (!entry || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return entry.principal;
}

/** The platform these Basic credentials act for (a platform key, or a client restricted to it), or undefined. */
export async function authenticateXapiKey(ex: Executor, key: string, secret: string, verified?: VerifiedKeys, now = Date.now()): Promise<Platform | undefined> {
  return (await authenticateXapiCredentials(ex, key, secret, verified, now))?.platform;
}
