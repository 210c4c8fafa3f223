import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import type { Config } from '../config';
import { badgeAchievements, badgeCredentials, platforms, users } from '../db/schema';
import type { Executor } from '../db/store';
import { invalid, notFound } from '../domain/errors';
import {
  type AchievementDefinition,
  achievementDefinition,
  achievementJson,
  OB3_CONTEXT,
  minutesToHours,
  urls,
} from './achievements';
import { type ReferentialOutline, referentialOutlineSchema } from '../domain/referential';
import { activeSigningKey } from './keys';

export type AchievementRow = typeof badgeAchievements.$inferSelect;
export type CredentialRow = typeof badgeCredentials.$inferSelect;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The public profile of the issuer (the institution running Socle), embedded in credentials and served at its id. */
export function issuerProfile(publicUrl: string) {
  return {
    '@context': [...OB3_CONTEXT],
    id: urls.issuer(publicUrl),
    type: ['Profile'],
    name: `Socle — ${new URL(publicUrl).host}`,
    url: publicUrl,
    description: 'Formation socle au numérique en santé : badges de compétences délivrés par Socle.',
  };
}

/** Stores (or refreshes) an achievement definition and returns its row. */
export async function ensureAchievement(ex: Executor, def: AchievementDefinition): Promise<AchievementRow> {
  const { path, ...rest } = def;
  const [row] = await ex
    .insert(badgeAchievements)
    .values(def)
    .onConflictDoUpdate({ target: badgeAchievements.path, set: { ...rest, updatedAt: sql`now()` } })
    .returning();
  if (!row) throw new Error(`cannot store achievement ${path}`);
  return row;
}

export async function findAchievementByPath(ex: Executor, path: string): Promise<AchievementRow | undefined> {
  const [row] = await ex.select().from(badgeAchievements).where(eq(badgeAchievements.path, path));
  return row;
}

export function achievementJsonOf(row: AchievementRow, publicUrl: string) {
  return achievementJson(row, publicUrl);
}

/** What issuing needs: the public URL (the credentials' ids) and the key sealing secret, from the configuration. */
export type BadgeIssuing = { config: Config };

export interface IssueInput {
  userId: number;
  referential: ReferentialOutline;
  /** The domain earned, or null for the whole référentiel. */
  domainCode: string | null;
  creditsEarnedMinutes: number;
  /** The issue date (defaults to now). */
  now?: Date;
}

export interface IssueResult {
  credential: CredentialRow;
  achievement: AchievementRow;
  /** False when the learner already held an active credential for this achievement (nothing was issued). */
  created: boolean;
}

/** `sha256$<hex>` of value + salt, the Open Badges hashed-identity form. */
export function identityHash(value: string, salt: string): string {
  return `sha256$${createHash('sha256').update(value + salt).digest('hex')}`;
}

/**
 * Issues the OpenBadgeCredential of an achievement to a learner, signed as a VC-JWT with the active issuer key.
 * Idempotent: while the learner holds an active credential for the achievement, that one is returned. Call it in
 * the transaction that records what earned it.
 */
export async function issueCredential(ex: Executor, ctx: BadgeIssuing, input: IssueInput): Promise<IssueResult> {
  const referential = referentialOutlineSchema.parse(input.referential);
  if (!Number.isInteger(input.creditsEarnedMinutes) || input.creditsEarnedMinutes < 0) {
    throw invalid(`creditsEarnedMinutes must be whole minutes ≥ 0, got ${input.creditsEarnedMinutes}`);
  }
  const def = achievementDefinition(referential, input.domainCode);
  if (!def) throw notFound(`référentiel ${referential.id} ${referential.version} has no domain ${input.domainCode}`);
  if (def.requiredMinutes !== null && input.creditsEarnedMinutes < def.requiredMinutes) {
    throw invalid(
      `${def.name}: ${input.creditsEarnedMinutes} minutes earned, ${def.requiredMinutes} required; nothing issued`,
    );
  }
  const achievement = await ensureAchievement(ex, def);
  const existing = await activeCredential(ex, input.userId, achievement.id);
  if (existing) return { credential: existing, achievement, created: false };

  const [learner] = await ex
    .select({ sub: users.sub, issuer: platforms.issuer })
    .from(users)
    .innerJoin(platforms, eq(users.platformId, platforms.id))
    .where(eq(users.id, input.userId));
  if (!learner) throw notFound(`no user ${input.userId}`);

  const { publicUrl, ltiKey } = ctx.config;
  const key = await activeSigningKey(ex, ltiKey);
  const id = randomUUID();
  const issuedAt = new Date(Math.floor((input.now ?? new Date()).getTime() / 1000) * 1000);
  const salt = randomBytes(16).toString('hex');
  const credentialUrl = urls.credential(publicUrl, id);
  const issuer = issuerProfile(publicUrl);
  const credential = {
    '@context': [...OB3_CONTEXT],
    id: credentialUrl,
    type: ['VerifiableCredential', 'OpenBadgeCredential'],
    name: achievement.name,
    issuer: { id: issuer.id, type: issuer.type, name: issuer.name, url: issuer.url },
    validFrom: issuedAt.toISOString(),
    credentialSubject: {
      type: ['AchievementSubject'],
      identifier: [
        { type: 'IdentityObject', identityType: 'ltiPlatformId', hashed: false, identityHash: learner.issuer },
        { type: 'IdentityObject', identityType: 'ltiUserId', hashed: true, identityHash: identityHash(learner.sub, salt), salt },
      ],
      achievement: achievementJson(achievement, publicUrl),
      creditsEarned: minutesToHours(input.creditsEarnedMinutes),
    },
    credentialStatus: { id: credentialUrl, type: '1EdRevocationList' },
    credentialSchema: [
      {
        id: 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json',
        type: '1EdJsonSchemaValidator2019',
      },
    ],
  };
  const jwt = await new SignJWT(credential)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer.id)
    .setJti(credentialUrl)
    .setNotBefore(issuedAt.getTime() / 1000)
    .sign(key.privateKey);

  const [inserted] = await ex
    .insert(badgeCredentials)
    .values({
      id,
      userId: input.userId,
      achievementId: achievement.id,
      kid: key.kid,
      jwt,
      creditsEarnedMinutes: input.creditsEarnedMinutes,
      issuedAt,
    })
    .onConflictDoNothing({
      target: [badgeCredentials.userId, badgeCredentials.achievementId],
      where: sql`status = 'active'`,
    })
    .returning();
  if (inserted) return { credential: inserted, achievement, created: true };
  // Another transaction issued it in between: theirs stands.
  const winner = await activeCredential(ex, input.userId, achievement.id);
  if (!winner) throw new Error('credential vanished while issuing');
  return { credential: winner, achievement, created: false };
}

async function activeCredential(ex: Executor, userId: number, achievementId: number): Promise<CredentialRow | undefined> {
  const [row] = await ex
    .select()
    .from(badgeCredentials)
    .where(
      and(
        eq(badgeCredentials.userId, userId),
        eq(badgeCredentials.achievementId, achievementId),
        eq(badgeCredentials.status, 'active'),
      ),
    );
  return row;
}

/** A credential id: its UUID, or its URL (`<PUBLIC_URL>/badges/<uuid>`, the `id`/`jti` of the VC). */
export function credentialUuid(idOrUrl: string): string | undefined {
  const last = idOrUrl.trim().replace(/\/+$/, '').split('/').pop()?.toLowerCase() ?? '';
  return UUID.test(last) ? last : undefined;
}

export async function findCredential(
  ex: Executor,
  idOrUrl: string,
): Promise<{ credential: CredentialRow; achievement: AchievementRow } | undefined> {
  const id = credentialUuid(idOrUrl);
  if (!id) return undefined;
  const [row] = await ex
    .select({ credential: badgeCredentials, achievement: badgeAchievements })
    .from(badgeCredentials)
    .innerJoin(badgeAchievements, eq(badgeCredentials.achievementId, badgeAchievements.id))
    .where(eq(badgeCredentials.id, id));
  return row;
}

/**
 * Revokes a credential with a reason (credits dropped below the threshold, or an administrator's decision).
 * Returns undefined for an unknown id; `changed` is false when it was already revoked (its first reason stays).
 */
export async function revokeCredential(
  ex: Executor,
  idOrUrl: string,
  reason: string,
  now: Date = new Date(),
): Promise<{ credential: CredentialRow; changed: boolean } | undefined> {
  const id = credentialUuid(idOrUrl);
  if (!id) return undefined;
  if (!reason.trim()) throw invalid('a revocation needs a reason');
  const [updated] = await ex
    .update(badgeCredentials)
    .set({ status: 'revoked', revokedAt: now, revocationReason: reason.trim() })
    .where(and(eq(badgeCredentials.id, id), eq(badgeCredentials.status, 'active')))
    .returning();
  if (updated) return { credential: updated, changed: true };
  const [current] = await ex.select().from(badgeCredentials).where(eq(badgeCredentials.id, id));
  return current ? { credential: current, changed: false } : undefined;
}

/** One credential as `GET /api/v1/credentials` returns it. */
export interface CredentialSummary {
  id: string;
  achievement: { id: string; name: string; domain: string | null };
  status: 'active' | 'revoked';
  issuedAt: string;
  revokedAt: string | null;
  revocationReason: string | null;
  creditsEarnedMinutes: number;
  jwt: string;
  verifyUrl: string;
  images: { png: string; svg: string };
}

/** A learner's credentials, active and revoked, oldest first. */
export async function listCredentials(ex: Executor, ctx: { config: Pick<Config, 'publicUrl'> }, userId: number): Promise<CredentialSummary[]> {
  const { publicUrl } = ctx.config;
  const rows = await ex
    .select({ credential: badgeCredentials, achievement: badgeAchievements })
    .from(badgeCredentials)
    .innerJoin(badgeAchievements, eq(badgeCredentials.achievementId, badgeAchievements.id))
    .where(eq(badgeCredentials.userId, userId))
    .orderBy(asc(badgeCredentials.issuedAt), sql`${badgeCredentials.revokedAt} IS NULL`, asc(badgeCredentials.id)); // same second: the revoked one was issued first
  return rows.map(({ credential: c, achievement: a }) => {
    const verifyUrl = urls.credential(publicUrl, c.id);
    return {
      id: c.id,
      achievement: { id: urls.achievement(publicUrl, a.path), name: a.name, domain: a.domainCode },
      status: c.status,
      issuedAt: c.issuedAt.toISOString(),
      revokedAt: c.revokedAt?.toISOString() ?? null,
      revocationReason: c.revocationReason,
      creditsEarnedMinutes: c.creditsEarnedMinutes,
      jwt: c.jwt,
      verifyUrl,
      images: { png: `${verifyUrl}/badge.png`, svg: `${verifyUrl}/badge.svg` },
    };
  });
}
