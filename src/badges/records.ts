import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { decodeJwt, SignJWT } from 'jose';
import { badgeAchievements, badgeCredentials, learnerRecords, platforms, users } from '../db/schema';
import type { Executor } from '../db/store';
import { invalid, notFound } from '../domain/errors';
import { formatMinutes, minutesToHours } from '../domain/format';
import { type ReferentialOutline, referentialOutlineSchema } from '../domain/referential';
import { achievementDefinitions, achievementJson, OB3_CONTEXT, urls } from './achievements';
import { type BadgeIssuing, ensureAchievements, identityHash, issuerProfileOf } from './credentials';
import { activeSigningKey, keyUrl, publishedJwks, publishedKey } from './keys';
import { CLR_CONTEXT as RECORD_CONTEXT, type RecordVerification, type Resolve, type Resolved, verifyRecordSignature } from './verify';
import { isEmbeddedProof } from './proofs';

/**
 * Learner records: a CLR 2.0 `ClrCredential` per learner and référentiel version, signed as a VC-JWT by the issuer's
 * key (as the badges). Its `ClrSubject` gathers the référentiel's achievements (each domain's and the whole
 * référentiel's, with `creditsAvailable` hours), one `AchievementCredential` per domain with validated hours
 * (`creditsEarned`; the learner's Open Badge itself when they hold it, with its id, so it stays verifiable at
 * `/badges/<id>`), and the associations between them (the référentiel `isParentOf` each domain). A record is
 * issued again only when what it says changes.
 */

export const CLR_CONTEXT = RECORD_CONTEXT;
export const CLR_SCHEMA = 'https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json';
const OB_SCHEMA = 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json';

export type LearnerRecordRow = typeof learnerRecords.$inferSelect;

export const recordUrl = (publicUrl: string, id: string) => `${publicUrl}/records/${id}`;

/** The path segment that names a competency's achievement under its domain's (`…/domains/<code>/competencies/<key>`). */
export const COMPETENCY_SEGMENT = '/competencies/';

type OutlineCompetency = ReferentialOutline['domains'][number]['competencies'][number];

/**
 * The OB 3.0 `Achievement` of one competency, as a record's breakdown holds it: named under its domain's achievement,
 * aligned to the competency (CFItem: its code, and its key in the fragment of the référentiel's URL).
 */
function competencyAchievementJson(publicUrl: string, referential: ReferentialOutline, domainAchievementId: string, c: OutlineCompetency) {
  const framework = `${referential.title} (${referential.version})`;
  return {
    id: `${domainAchievementId}${COMPETENCY_SEGMENT}${encodeURIComponent(c.key)}`,
    type: ['Achievement'],
    achievementType: 'Competency',
    name: `${c.code} ${c.title}`,
    description: `Compétence ${c.code} « ${c.title} » du référentiel « ${referential.title} » (version ${referential.version}).`,
    criteria: { narrative: `Heures de formation validées au titre de la compétence ${c.code}, suivies par Socle à partir des activités réalisées.` },
    ...(c.requiredMinutes === null ? {} : { creditsAvailable: minutesToHours(c.requiredMinutes) }),
    inLanguage: 'fr',
    humanCode: c.code,
    alignment: [
      {
        type: ['Alignment'],
        targetType: 'CFItem',
        targetName: `${c.code} ${c.title}`,
        targetCode: c.code,
        targetFramework: framework,
        targetUrl: urls.competency(publicUrl, referential.id, referential.version, c.key),
      },
    ],
  };
}

export interface RecordInput {
  userId: number;
  referential: ReferentialOutline;
  /** Validated minutes per domain code (the learner's stored coverage). */
  validatedMinutes: ReadonlyMap<string, number>;
  /**
   * Validated minutes per competency key (the breakdown of the domains' hours): each competency with minutes gets a
   * credential of its own in the record, which another Socle imports as prior learning. Absent: domains only.
   */
  competencyMinutes?: ReadonlyMap<string, number>;
  now?: Date;
}

/** One learner record as `GET /api/v1/records` lists it. */
export interface RecordSummary {
  id: string;
  referential: { id: string; version: string; title: string };
  issuedAt: string;
  creditsEarnedMinutes: number;
  jwt: string;
  verifyUrl: string;
}

export function recordSummary(publicUrl: string, row: LearnerRecordRow, title: string): RecordSummary {
  return {
    id: row.id,
    referential: { id: row.referentialId, version: row.referentialVersion, title },
    issuedAt: row.issuedAt.toISOString(),
    creditsEarnedMinutes: row.creditsEarnedMinutes,
    jwt: row.jwt,
    verifyUrl: recordUrl(publicUrl, row.id),
  };
}

const withoutContext = <T extends { '@context'?: unknown }>(o: T): Omit<T, '@context'> => {
  const { '@context': _context, ...rest } = o;
  return rest;
};

/** The credential a stored Open Badge carries: the VC-JWT's payload without its registered claims, or the JSON. */
function storedCredential(signed: string): Record<string, unknown> {
  if (isEmbeddedProof(signed)) return JSON.parse(signed) as Record<string, unknown>;
  const { iss: _iss, jti: _jti, nbf: _nbf, iat: _iat, exp: _exp, ...credential } = decodeJwt(signed);
  return credential;
}

/**
 * Issues (or returns, when nothing changed since) the learner's record for one référentiel version. Call it in a
 * transaction.
 */
export async function issueRecord(ex: Executor, ctx: BadgeIssuing, input: RecordInput): Promise<{ record: LearnerRecordRow; created: boolean }> {
  const referential = referentialOutlineSchema.parse(input.referential);
  const { publicUrl, ltiKey } = ctx.config;
  const [learner] = await ex
    .select({ sub: users.sub, issuer: platforms.issuer, platformId: platforms.id })
    .from(users)
    .innerJoin(platforms, eq(users.platformId, platforms.id))
    .where(eq(users.id, input.userId));
  if (!learner) throw notFound(`no user ${input.userId}`);
  for (const [code, minutes] of input.validatedMinutes) {
    if (!referential.domains.some((d) => d.code === code)) throw notFound(`référentiel ${referential.id} ${referential.version} has no domain ${code}`);
    if (!Number.isInteger(minutes) || minutes < 0) throw invalid(`validated minutes must be whole minutes ≥ 0, got ${minutes}`);
  }
  const competencyKeys = new Set(referential.domains.flatMap((d) => d.competencies.map((c) => c.key)));
  for (const [key, minutes] of input.competencyMinutes ?? []) {
    if (!competencyKeys.has(key)) throw notFound(`référentiel ${referential.id} ${referential.version} has no competency ${key}`);
    if (!Number.isInteger(minutes) || minutes < 0) throw invalid(`validated minutes must be whole minutes ≥ 0, got ${minutes}`);
  }

  const defs = achievementDefinitions(referential);
  await ensureAchievements(ex, defs); // their ids resolve at /achievements/…
  const achievements = defs.map((def) => withoutContext(achievementJson(def, publicUrl)));
  const whole = achievements[achievements.length - 1] as (typeof achievements)[number];
  const domainAchievement = new Map(defs.flatMap((def, i) => (def.domainCode === null ? [] : [[def.domainCode, achievements[i] as (typeof achievements)[number]]])));
  // the Open Badges the learner holds for this référentiel version, by achievement id
  const held = await ex
    .select({ id: badgeCredentials.id, jwt: badgeCredentials.jwt, path: badgeAchievements.path })
    .from(badgeCredentials)
    .innerJoin(badgeAchievements, eq(badgeCredentials.achievementId, badgeAchievements.id))
    .where(
      and(
        eq(badgeCredentials.userId, input.userId),
        eq(badgeCredentials.status, 'active'),
        eq(badgeAchievements.referentialId, referential.id),
        eq(badgeAchievements.referentialVersion, referential.version),
      ),
    );
  const heldBy = new Map(held.map((h) => [urls.achievement(publicUrl, h.path), h]));

  const issuerProfile = await issuerProfileOf(ex, publicUrl, learner.platformId);
  const issuer = withoutContext(issuerProfile);
  const { description: _description, ...issuerClaim } = issuer;
  const domains = referential.domains.map((d) => ({ domain: d, minutes: input.validatedMinutes.get(d.code) ?? 0 }));
  const earnedMinutes = domains.reduce((sum, d) => sum + d.minutes, 0);
  const competencies = domains.flatMap(({ domain }) =>
    domain.competencies.flatMap((c) => {
      const minutes = input.competencyMinutes?.get(c.key) ?? 0;
      return minutes > 0 ? [{ domain, competency: c, minutes }] : [];
    }),
  );
  const breakdown = competencies.map((c) => [c.competency.key, c.minutes]);
  const digest = createHash('sha256')
    .update(
      JSON.stringify({
        issuerClaim,
        achievements,
        domains: domains.map((d) => [d.domain.code, d.minutes]),
        held: held.map((h) => h.id).sort(),
        // absent when empty: the digest of a record without a breakdown is what it was before breakdowns
        ...(breakdown.length ? { competencies: breakdown } : {}),
      }),
    )
    .digest('hex');
  const [latest] = await ex
    .select()
    .from(learnerRecords)
    .where(
      and(eq(learnerRecords.userId, input.userId), eq(learnerRecords.referentialId, referential.id), eq(learnerRecords.referentialVersion, referential.version)),
    )
    .orderBy(desc(learnerRecords.seq))
    .limit(1);
  if (latest && latest.digest === digest) return { record: latest, created: false };

  const id = randomUUID();
  const url = recordUrl(publicUrl, id);
  const issuedAt = new Date(Math.floor((input.now ?? new Date()).getTime() / 1000) * 1000);
  const salt = randomBytes(16).toString('hex');
  const identifier = [
    { type: 'IdentityObject', identityType: 'ltiPlatformId', hashed: false, identityHash: learner.issuer },
    { type: 'IdentityObject', identityType: 'ltiUserId', hashed: true, identityHash: identityHash(learner.sub, salt), salt },
  ];
  const verifiableCredential = [];
  for (const { domain, minutes } of domains) {
    const achievement = domainAchievement.get(domain.code);
    if (!achievement) continue;
    const badge = heldBy.get(achievement.id);
    if (badge) {
      verifiableCredential.push(storedCredential(badge.jwt));
      continue;
    }
    if (minutes <= 0) continue;
    // hours validated short of the badge: a credential of this record, asserted by its signature
    verifiableCredential.push({
      '@context': [...OB3_CONTEXT],
      id: `${url}#${encodeURIComponent(domain.code)}`,
      type: ['VerifiableCredential', 'AchievementCredential'],
      name: `${achievement.name} — ${formatMinutes(minutes)}`,
      issuer: issuerClaim,
      validFrom: issuedAt.toISOString(),
      credentialSubject: { type: ['AchievementSubject'], identifier, achievement, creditsEarned: minutesToHours(minutes) },
      credentialSchema: [{ id: OB_SCHEMA, type: '1EdTechJsonSchemaValidator2019' }],
    });
  }
  // the breakdown: one credential per competency with validated hours (exact hours: minutes / 60, unrounded)
  for (const { domain, competency, minutes } of competencies) {
    const parent = domainAchievement.get(domain.code);
    if (!parent) continue;
    const achievement = competencyAchievementJson(publicUrl, referential, parent.id, competency);
    verifiableCredential.push({
      '@context': [...OB3_CONTEXT],
      id: `${url}#${encodeURIComponent(domain.code)}/${encodeURIComponent(competency.key)}`,
      type: ['VerifiableCredential', 'AchievementCredential'],
      name: `${achievement.name} — ${formatMinutes(minutes)}`,
      issuer: issuerClaim,
      validFrom: issuedAt.toISOString(),
      credentialSubject: { type: ['AchievementSubject'], identifier, achievement, creditsEarned: minutes / 60 },
      credentialSchema: [{ id: OB_SCHEMA, type: '1EdTechJsonSchemaValidator2019' }],
    });
  }
  const wholeBadge = heldBy.get(whole.id);
  if (wholeBadge) verifiableCredential.push(storedCredential(wholeBadge.jwt));

  const credential = {
    '@context': ['https://www.w3.org/ns/credentials/v2', CLR_CONTEXT, OB3_CONTEXT[1]],
    id: url,
    type: ['VerifiableCredential', 'ClrCredential'],
    name: `${referential.title} (${referential.version}) — relevé de formation`,
    description: `Relevé des heures validées par domaine du référentiel « ${referential.title} », version ${referential.version}.`,
    issuer: issuerClaim,
    validFrom: issuedAt.toISOString(),
    credentialSubject: {
      type: ['ClrSubject'],
      identifier,
      achievement: achievements,
      verifiableCredential,
      association: [...domainAchievement.values()].map((a) => ({ type: 'Association', associationType: 'isParentOf', sourceId: whole.id, targetId: a.id })),
    },
    credentialSchema: [{ id: CLR_SCHEMA, type: '1EdTechJsonSchemaValidator2019' }],
  };
  const key = await activeSigningKey(ex, ltiKey);
  const jwt = await new SignJWT(credential)
    .setProtectedHeader({ alg: key.alg, kid: keyUrl(publicUrl, key.kid), typ: 'JWT' })
    .setIssuer(issuerClaim.id)
    .setJti(url)
    .setNotBefore(issuedAt.getTime() / 1000)
    .sign(key.privateKey);
  const [record] = await ex
    .insert(learnerRecords)
    .values({ id, userId: input.userId, referentialId: referential.id, referentialVersion: referential.version, kid: key.kid, jwt, digest, creditsEarnedMinutes: earnedMinutes, issuedAt })
    .returning();
  if (!record) throw new Error('cannot store the learner record');
  return { record, created: true };
}

/** A learner's records, newest first. */
export async function listRecords(ex: Executor, userId: number): Promise<LearnerRecordRow[]> {
  return ex.select().from(learnerRecords).where(eq(learnerRecords.userId, userId)).orderBy(desc(learnerRecords.seq));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A record by its UUID or its URL (`<PUBLIC_URL>/records/<uuid>`). */
export async function findRecord(ex: Executor, idOrUrl: string): Promise<LearnerRecordRow | undefined> {
  const id = idOrUrl.trim().replace(/\/+$/, '').split('/').pop()?.toLowerCase() ?? '';
  if (!UUID.test(id)) return undefined;
  const [row] = await ex.select().from(learnerRecords).where(eq(learnerRecords.id, id));
  return row;
}

/** Whether a VC-JWT is a learner record (its payload's type names ClrCredential), without verifying it. */
export function isRecordJwt(jwt: string): boolean {
  try {
    const type = decodeJwt(jwt).type;
    return Array.isArray(type) && type.includes('ClrCredential');
  } catch {
    return false;
  }
}

export type { RecordVerification } from './verify';

/** The keys as Socle publishes them (`/badges/keys/<kid>`, `/badges/jwks.json`), read from the store; 404 otherwise. */
export function storeKeyResolver(ex: Executor, publicUrl: string): Resolve {
  const json = (value: unknown): Resolved => ({ status: 200, contentType: 'application/json', body: JSON.stringify(value) });
  return async (url) => {
    if (url === `${publicUrl}/badges/jwks.json`) return json(await publishedJwks(ex, publicUrl));
    const kid = url.startsWith(keyUrl(publicUrl, '')) ? url.slice(keyUrl(publicUrl, '').length) : undefined;
    const jwk = kid ? await publishedKey(ex, publicUrl, kid) : undefined;
    return jwk ? json(jwk) : { status: 404, contentType: 'text/plain', body: 'not found' };
  };
}

/**
 * Verifies a learner record's VC-JWT as a third party would (`verifyRecordSignature`: the key of its `kid`, here
 * read from the store, the claims and the CLR 2.0 structure), then against Socle's records: that Socle issued it
 * (`superseded` when a newer record of the same learner and référentiel version exists: still authentic, no longer
 * current). The page `/records/<id>` answers this; `socle badges verify` reads that answer over HTTP.
 */
export async function verifyRecord(ex: Executor, publicUrl: string, jwt: string, now: Date = new Date()): Promise<RecordVerification> {
  const signed = await verifyRecordSignature(jwt, { resolve: storeKeyResolver(ex, publicUrl), now });
  if ('status' in signed) return signed;
  const { payload, extra } = signed;
  if (payload.iss !== urls.issuer(publicUrl)) return { status: 'unknown', errors: ['the issuer has no record of this learner record'], ...extra };
  const id = payload.id as string;
  const row = id.startsWith(`${publicUrl}/records/`) ? await findRecord(ex, id) : undefined;
  if (!row || row.jwt !== jwt) return { status: 'unknown', errors: ['the issuer has no record of this learner record'], ...extra };
  const found = { recordId: row.id, referential: { id: row.referentialId, version: row.referentialVersion }, ...extra };
  const [newest] = await ex
    .select({ id: learnerRecords.id })
    .from(learnerRecords)
    .where(and(eq(learnerRecords.userId, row.userId), eq(learnerRecords.referentialId, row.referentialId), eq(learnerRecords.referentialVersion, row.referentialVersion)))
    .orderBy(desc(learnerRecords.seq))
    .limit(1);
  if (newest && newest.id !== row.id) return { status: 'superseded', errors: ['a newer record of this learner and référentiel was issued'], ...found };
  return { status: 'valid', errors: [], ...found };
}
