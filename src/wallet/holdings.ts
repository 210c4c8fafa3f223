/**
 * What a wallet reads of a learner: their OpenBadgeCredentials as Socle stored them (the signed VC-JWT, read from
 * `badge_credentials`, never re-signed here) and their profile.
 */
import { and, asc, count, eq, gt } from 'drizzle-orm';
import { OB3_CONTEXT } from '../badges/achievements';
import type { Executor } from '../db/store';
import { badgeCredentials, users } from '../db/schema';
import { digest } from './oauth';

export interface CredentialPage {
  total: number;
  jwts: string[];
}

/** The learner's active credentials, oldest first, `limit` from `offset` (issued after `since` when given). */
export async function credentialPage(ex: Executor, userId: number, page: { limit: number; offset: number; since?: Date }): Promise<CredentialPage> {
  const where = and(eq(badgeCredentials.userId, userId), eq(badgeCredentials.status, 'active'), page.since ? gt(badgeCredentials.issuedAt, page.since) : undefined);
  const [counted] = await ex.select({ n: count() }).from(badgeCredentials).where(where);
  const rows = await ex
    .select({ jwt: badgeCredentials.jwt })
    .from(badgeCredentials)
    .where(where)
    .orderBy(asc(badgeCredentials.issuedAt), asc(badgeCredentials.id))
    .limit(page.limit)
    .offset(page.offset);
  return { total: Number(counted?.n ?? 0), jwts: rows.map((r) => r.jwt) };
}

/** Whether `jwt` is, byte for byte, one of the learner's credentials (what Socle holds for them). */
export async function holdsCredential(ex: Executor, userId: number, jwt: string): Promise<boolean> {
  const [row] = await ex
    .select({ id: badgeCredentials.id })
    .from(badgeCredentials)
    .where(and(eq(badgeCredentials.userId, userId), eq(badgeCredentials.jwt, jwt)));
  return Boolean(row);
}

/**
 * The learner's Open Badges Profile: a stable id that reveals nothing (a UUID-shaped digest of the user's row and
 * the instance's key), and the name and e-mail their platform sent, when it sent them.
 */
export async function learnerProfile(ex: Executor, userId: number, ltiKey: string) {
  const [user] = await ex.select({ id: users.id, name: users.name, email: users.email }).from(users).where(eq(users.id, userId));
  if (!user) return undefined;
  const h = digest(`wallet-profile:${ltiKey}:${user.id}`);
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
  return {
    '@context': [OB3_CONTEXT[1]],
    type: ['Profile'],
    id: `urn:uuid:${uuid}`,
    ...(user.name ? { name: user.name } : {}),
    ...(user.email ? { email: user.email } : {}),
  };
}
