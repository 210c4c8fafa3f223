import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { alertPreferences } from '../db/schema';
import type { Executor } from '../db/store';

export type AlertPreference = typeof alertPreferences.$inferSelect;

/**
 * A launch of a teacher or an administrator: their digest address is the launch's `email` claim (kept only for
 * them), `manager` when they are an administrator of the platform. A launch without `email` keeps the address
 * known; an opt-out stays as it was.
 */
export async function recordRecipient(ex: Executor, platformId: number, userId: number, who: { email: string | undefined; manager: boolean }): Promise<void> {
  const email = who.email && /^[^\s@]+@[^\s@]+$/.test(who.email) && who.email.length <= 254 ? who.email : null;
  await ex
    .insert(alertPreferences)
    .values({ userId, platformId, email, manager: who.manager })
    .onConflictDoUpdate({
      target: alertPreferences.userId,
      set: { email: sql`coalesce(excluded.email, ${alertPreferences.email})`, manager: sql`${alertPreferences.manager} OR excluded.manager`, updatedAt: sql`now()` },
    });
}

export async function preferenceOf(ex: Executor, userId: number): Promise<AlertPreference | undefined> {
  const [row] = await ex.select().from(alertPreferences).where(eq(alertPreferences.userId, userId));
  return row;
}

/** Turns a person's alerts (digests, or a learner's reminder) off or on again. */
export async function setOptOut(ex: Executor, platformId: number, userId: number, optedOut: boolean): Promise<void> {
  const optedOutAt = optedOut ? sql`now()` : null;
  await ex
    .insert(alertPreferences)
    .values({ userId, platformId, optedOutAt })
    .onConflictDoUpdate({ target: alertPreferences.userId, set: { optedOutAt, updatedAt: sql`now()` } });
}

const tokenKey = (ltiKey: string) => Buffer.from(hkdfSync('sha256', ltiKey, 'socle', 'alerts-opt-out', 32));
const mac = (ltiKey: string, userId: number) => createHmac('sha256', tokenKey(ltiKey)).update(`opt-out:${userId}`).digest('base64url');

/** The token of every e-mail's opt-out link: the user id and its HMAC under a key derived from LTI_KEY (no login needed). */
export function optOutToken(ltiKey: string, userId: number): string {
  return `${userId}.${mac(ltiKey, userId)}`;
}

/** The user id a token was made for, or undefined when it is not one of Socle's. */
export function verifyOptOutToken(ltiKey: string, token: string): number | undefined {
  const m = /^([1-9]\d{0,9})\.([\w-]{43})$/.exec(token);
  if (!m) return undefined;
  const userId = Number(m[1]);
  const given = Buffer.from(m[2] ?? '');
  const expected = Buffer.from(mac(ltiKey, userId));
  return given.length === expected.length && timingSafeEqual(given, expected) ? userId : undefined;
}
