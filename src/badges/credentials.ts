import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import { badgeAchievements, badgeCredentials, platforms, users } from '../db/schema';
import { type Executor, queryRows } from '../db/store';
import { invalid, notFound } from '../domain/errors';
import {
  type AchievementDefinition,
  achievementDefinition,
  achievementJson,
  OB3_CONTEXT,
  OB3_CREDENTIAL_CONTEXT,
  urls,
} from './achievements';
import { minutesToHours } from '../domain/format';
import { type ReferentialOutline, referentialOutlineSchema } from '../domain/referential';
import { activeMultikey, activeSigningKey, type IssuerMultikey, type SigningKey, signVcJwt } from './keys';
import { allocateStatusEntries, type StatusEntry, statusEntryJson, touchStatusLists } from './status-list';
import { signDataIntegrity, withUndefinedTerms } from './data-integrity';
import { issuerDid } from './proofs';
import { findInstitution } from '../identity/institution';

export type AchievementRow = typeof badgeAchievements.$inferSelect;
export type CredentialRow = typeof badgeCredentials.$inferSelect;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a platform's institution profile gives its badges' issuer: name, web site, contact email and logo. */
export interface IssuerInstitution {
  platformId: number;
  legalName: string;
  url: string | null;
  email: string | null;
  hasLogo: boolean;
  /** The French establishment identifiers (UAI, SIRET) and the city, when its profile sets them. */
  uai?: string | null;
  siret?: string | null;
  city?: string | null;
}

/**
 * The public profile of the issuer (the institution running Socle, an OB 3.0 `Profile`), embedded in credentials
 * and served at its id. With an institution profile, its name, URL, email, logo (served at
 * `/badges/issuer/logo/<platform id>`), UAI and SIRET (`otherIdentifier`, types `ext:UAI` / `ext:SIRET`) and city
 * (`address`); without one, Socle and its host. The id stays Socle's (`/badges/issuer`): the credentials' `iss`.
 */
export function issuerProfile(publicUrl: string, institution?: IssuerInstitution) {
  const identifiers = [
    ...(institution?.uai ? [{ type: 'IdentifierEntry', identifier: institution.uai, identifierType: 'ext:UAI' }] : []),
    ...(institution?.siret ? [{ type: 'IdentifierEntry', identifier: institution.siret, identifierType: 'ext:SIRET' }] : []),
  ];
  return {
    '@context': [...OB3_CONTEXT],
    id: urls.issuer(publicUrl),
    type: ['Profile'],
    name: institution?.legalName ?? `Socle — ${new URL(publicUrl).host}`,
    url: institution?.url ?? publicUrl,
    ...(institution?.email ? { email: institution.email } : {}),
    ...(institution?.hasLogo ? { image: { id: urls.issuerLogo(publicUrl, institution.platformId), type: 'Image' } } : {}),
    ...(identifiers.length ? { otherIdentifier: identifiers } : {}),
    ...(institution?.city ? { address: { type: ['Address'], addressLocality: institution.city } } : {}),
    description: 'Formation socle au numérique en santé : badges de compétences délivrés par Socle.',
  };
}

/** The issuer profile of a platform's badges (the institution's when it has a profile). */
export async function issuerProfileOf(ex: Executor, publicUrl: string, platformId: number | undefined) {
  const row = platformId === undefined ? undefined : await findInstitution(ex, platformId);
  return issuerProfile(
    publicUrl,
    row && {
      platformId: row.platformId,
      legalName: row.legalName,
      url: row.url,
      email: row.email,
      hasLogo: row.logo !== null,
      uai: row.uai,
      siret: row.siret,
      city: row.city,
    },
  );
}

/** The issuer as a credential embeds it. */
export type IssuerClaim = Omit<ReturnType<typeof issuerProfile>, '@context' | 'description'>;
const issuerClaimOf = ({ '@context': _context, description: _description, ...claim }: ReturnType<typeof issuerProfile>): IssuerClaim => claim;

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

/** The stored fields of a definition, to compare with its row (the alignments as JSON of their fields in order). */
function sameDefinition(row: AchievementRow, def: AchievementDefinition): boolean {
  const alignments = (a: AchievementDefinition['alignments']) => JSON.stringify(a.map((c) => [c.key, c.code, c.title]));
  return (
    row.referentialId === def.referentialId &&
    row.referentialVersion === def.referentialVersion &&
    row.referentialTitle === def.referentialTitle &&
    row.domainCode === def.domainCode &&
    row.title === def.title &&
    row.name === def.name &&
    row.description === def.description &&
    row.criteria === def.criteria &&
    row.requiredMinutes === def.requiredMinutes &&
    alignments(row.alignments) === alignments(def.alignments)
  );
}

/**
 * The rows of these definitions by path, one read for all; only a definition missing or changed is written, so that
 * issuing at once in several transactions does not queue on the achievement's row.
 */
export async function ensureAchievements(ex: Executor, defs: readonly AchievementDefinition[]): Promise<Map<string, AchievementRow>> {
  const found = new Map<string, AchievementRow>();
  if (defs.length === 0) return found;
  const rows = await ex.select().from(badgeAchievements).where(inArray(badgeAchievements.path, defs.map((d) => d.path)));
  for (const row of rows) found.set(row.path, row);
  for (const def of defs) {
    const row = found.get(def.path);
    if (!row || !sameDefinition(row, def)) found.set(def.path, await ensureAchievement(ex, def));
  }
  return found;
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
  /** The learner as the credential names them (set when `created`). */
  learner?: { sub: string; issuer: string };
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
  const [result] = await issueCredentials(ex, ctx, [input]);
  if (!result) throw new Error('no credential issued');
  return result;
}

/** Credentials one INSERT carries (about 4 kB each). */
const INSERT_CHUNK = 1_000;

interface Prepared {
  input: IssueInput;
  def: AchievementDefinition;
}

/**
 * `issueCredential` for many learners and achievements at once, with the same checks and the same idempotence
 * (results in the order of `inputs`; an input repeated in the batch gets the first one's credential with
 * `created: false`). The work per credential is its signature and its share of a multi-row INSERT: the achievements,
 * the active credentials, the learners and the key are each read once per batch.
 */
export async function issueCredentials(ex: Executor, ctx: BadgeIssuing, inputs: readonly IssueInput[]): Promise<IssueResult[]> {
  if (inputs.length === 0) return [];
  // 1. check every input (each référentiel parsed once per batch) before anything is written
  const outlines = new Map<string, { referential: ReferentialOutline; defs: Map<string | null, AchievementDefinition | undefined> }>();
  const prepared: Prepared[] = inputs.map((input) => {
    const cacheKey = JSON.stringify(input.referential);
    let outline = outlines.get(cacheKey);
    if (!outline) {
      outline = { referential: referentialOutlineSchema.parse(input.referential), defs: new Map() };
      outlines.set(cacheKey, outline);
    }
    if (!Number.isInteger(input.creditsEarnedMinutes) || input.creditsEarnedMinutes < 0) {
      throw invalid(`creditsEarnedMinutes must be whole minutes ≥ 0, got ${input.creditsEarnedMinutes}`);
    }
    if (!outline.defs.has(input.domainCode)) outline.defs.set(input.domainCode, achievementDefinition(outline.referential, input.domainCode));
    const def = outline.defs.get(input.domainCode);
    if (!def) throw notFound(`référentiel ${outline.referential.id} ${outline.referential.version} has no domain ${input.domainCode}`);
    if (def.requiredMinutes !== null && input.creditsEarnedMinutes < def.requiredMinutes) {
      throw invalid(`${def.name}: ${input.creditsEarnedMinutes} minutes earned, ${def.requiredMinutes} required; nothing issued`);
    }
    return { input, def };
  });

  // 2. the achievements (stored or refreshed once each), the credentials already active, the learners
  const achievements = await ensureAchievements(ex, [...new Map(prepared.map((p) => [p.def.path, p.def])).values()]);
  const achievementOf = (p: Prepared) => achievements.get(p.def.path) as AchievementRow;
  const userIds = [...new Set(prepared.map((p) => p.input.userId))];
  const pair = (userId: number, achievementId: number) => `${userId} ${achievementId}`;
  const active = await activeCredentials(ex, userIds, [...new Set([...achievements.values()].map((a) => a.id))]);
  const learnerRows = await ex
    .select({ id: users.id, sub: users.sub, issuer: platforms.issuer, platformId: platforms.id })
    .from(users)
    .innerJoin(platforms, eq(users.platformId, platforms.id))
    .where(sql`${users.id} = ANY(string_to_array(${userIds.join(',')}, ',')::int[])`);
  const learners = new Map(learnerRows.map(({ platformId: _platformId, ...l }) => [l.id, l]));
  const platformOf = new Map(learnerRows.map((l) => [l.id, l.platformId]));

  // 3. sign the new ones (the key opened once, the parts common to an achievement built once) and store them in
  //    multi-row INSERTs, each sent while the next chunk is signed; a credential another transaction issued in
  //    between stands instead (settled below)
  const { publicUrl, ltiKey } = ctx.config;
  const results: (IssueResult | undefined)[] = new Array(prepared.length);
  const claimed = new Map<string, number>();
  const lost = new Set<number>();
  // the issuer of each learner's platform (its institution's profile), read once per platform
  const issuerClaims = new Map<number, IssuerClaim>();
  const issuerClaim = async (platformId: number): Promise<IssuerClaim> => {
    let claim = issuerClaims.get(platformId);
    if (!claim) {
      claim = issuerClaimOf(await issuerProfileOf(ex, publicUrl, platformId));
      // BADGE_PROOF=data-integrity: the issuer is the DID that controls the proof's key (its document names the
      // profile URL in alsoKnownAs), so that verifiers requiring issuer = controller accept it
      if (ctx.config.badgeProof === 'data-integrity') claim = { ...claim, id: issuerDid(publicUrl) };
      issuerClaims.set(platformId, claim);
    }
    return claim;
  };
  const achievementClaims = new Map<number, ReturnType<typeof achievementJson>>();
  let key: SigningKey | undefined;
  // BADGE_PROOF=data-integrity: the credential JSON with an embedded proof by the Ed25519 key, kept in `jwt`
  let multikey: IssuerMultikey | undefined;
  type Fresh = { index: number; row: Omit<CredentialRow, 'status' | 'revokedAt' | 'revocationReason'> };
  // status list entries, taken from the sequence a chunk at a time
  let entries: StatusEntry[] = [];
  const store = async (part: Fresh[]): Promise<void> => {
    // one JSON parameter per chunk: cheaper to build and to parse than seven parameters a row
    const rows = part.map(({ row: r }) => ({
      id: r.id,
      user_id: r.userId,
      achievement_id: r.achievementId,
      kid: r.kid,
      jwt: r.jwt,
      minutes: r.creditsEarnedMinutes,
      issued_at: r.issuedAt,
      list_id: r.statusListId,
      list_index: r.statusListIndex,
    }));
    const inserted = await queryRows<{ id: string }>(
      ex,
      sql`INSERT INTO badge_credentials (id, user_id, achievement_id, kid, jwt, credits_earned_minutes, issued_at, status_list_id, status_list_index)
          SELECT id, user_id, achievement_id, kid, jwt, minutes, issued_at, list_id, list_index
          FROM json_to_recordset(${JSON.stringify(rows)}::json) AS x(id uuid, user_id int, achievement_id int, kid text, jwt text, minutes int, issued_at timestamptz, list_id int, list_index int)
          ON CONFLICT (user_id, achievement_id) WHERE status = 'active' DO NOTHING RETURNING id::text AS id`,
    );
    const stored = new Set(inserted.map((row) => row.id));
    for (const f of part) {
      const p = prepared[f.index] as Prepared;
      if (!stored.has(f.row.id)) {
        lost.add(f.index);
        continue;
      }
      const credential: CredentialRow = { ...f.row, status: 'active', revokedAt: null, revocationReason: null };
      results[f.index] = { credential, achievement: achievementOf(p), created: true, learner: learners.get(p.input.userId) };
    }
  };
  let fresh: Fresh[] = [];
  let storing: Promise<void> | undefined;
  const flush = async () => {
    if (storing) await storing;
    const part = fresh;
    fresh = [];
    storing = part.length ? store(part) : undefined;
    // awaited at the next flush or at the end; a failure before then aborts the caller's transaction anyway
    storing?.catch(() => undefined);
  };
  for (const [index, p] of prepared.entries()) {
    const achievement = achievementOf(p);
    const k = pair(p.input.userId, achievement.id);
    const existing = active.get(k);
    if (existing) {
      results[index] = { credential: existing, achievement, created: false };
      continue;
    }
    if (claimed.has(k)) continue; // a repeat in this batch: settled below
    const learner = learners.get(p.input.userId);
    if (!learner) throw notFound(`no user ${p.input.userId}`);
    key ??= await activeSigningKey(ex, ltiKey);
    if (ctx.config.badgeProof === 'data-integrity') multikey ??= await activeMultikey(ex, ltiKey, issuerDid(publicUrl));
    let achievementClaim = achievementClaims.get(achievement.id);
    if (!achievementClaim) {
      achievementClaim = achievementJson(achievement, publicUrl);
      achievementClaims.set(achievement.id, achievementClaim);
    }
    const id = randomUUID();
    const issuedAt = new Date(Math.floor((p.input.now ?? new Date()).getTime() / 1000) * 1000);
    if (entries.length === 0) entries = await allocateStatusEntries(ex, Math.min(INSERT_CHUNK, prepared.length - index));
    const status = entries.shift() as StatusEntry;
    const credential = openBadgeCredentialJson({
      id,
      publicUrl,
      status,
      issuer: await issuerClaim(platformOf.get(learner.id) as number),
      name: achievement.name,
      issuedAt,
      learner,
      achievement: achievementClaim,
      creditsEarnedMinutes: p.input.creditsEarnedMinutes,
    });
    // BADGE_PROOF=data-integrity: the credential JSON with its embedded proof, else its VC-JWT
    const jwt = multikey ? JSON.stringify(await signDataIntegrity(withUndefinedTerms(credential), multikey, issuedAt)) : await signVcJwt(key, publicUrl, credential);
    claimed.set(k, index);
    fresh.push({
      index,
      row: {
        id,
        userId: p.input.userId,
        achievementId: achievement.id,
        kid: multikey?.kid ?? key.kid,
        jwt,
        creditsEarnedMinutes: p.input.creditsEarnedMinutes,
        issuedAt,
        statusListId: status.listId,
        statusListIndex: status.index,
      },
    });
    if (fresh.length >= INSERT_CHUNK) await flush();
  }
  await flush();
  await storing;

  const pending = prepared.map((_, index) => index).filter((index) => !results[index]);
  if (pending.length) {
    const winners = await activeCredentials(
      ex,
      [...new Set(pending.map((index) => (prepared[index] as Prepared).input.userId))],
      [...new Set(pending.map((index) => achievementOf(prepared[index] as Prepared).id))],
    );
    for (const index of pending) {
      const p = prepared[index] as Prepared;
      const achievement = achievementOf(p);
      const k = pair(p.input.userId, achievement.id);
      const mine = claimed.get(k);
      const first = mine === undefined || mine === index ? undefined : results[mine];
      // a repeat of an input of this batch gets its credential; one lost to another transaction gets theirs
      const credential = first?.credential ?? winners.get(k);
      if (!credential) throw new Error(lost.has(index) ? 'credential vanished while issuing' : `no credential for user ${p.input.userId}`);
      results[index] = { credential, achievement, created: false };
    }
  }
  return results as IssueResult[];
}

/** The official JSON Schema of OB 3.0 AchievementCredential, named by every credential's `credentialSchema`. */
export const OB3_CREDENTIAL_SCHEMA = 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json';

/** What one OpenBadgeCredential states. */
export interface CredentialContent {
  /** Its UUID (the credential's id is its URL under `/badges/`). */
  id: string;
  publicUrl: string;
  issuer: IssuerClaim;
  name: string;
  issuedAt: Date;
  learner: { sub: string; issuer: string };
  achievement: ReturnType<typeof achievementJson>;
  creditsEarnedMinutes: number;
  /** Its entry in a revocation status list. */
  status: StatusEntry;
  /** The salt of the hashed learner id (random when not given). */
  salt?: string;
}

/**
 * The unsigned OpenBadgeCredential (OB 3.0 AchievementCredential, VC Data Model 2.0), as its VC-JWT payload
 * carries it and as a Data Integrity proof would sign it. The subject is identified without personal data: a
 * per-credential `urn:uuid` id (the JWT `sub`), the platform (LTI issuer) and the hashed LTI user id.
 */
export function openBadgeCredentialJson(c: CredentialContent) {
  const salt = c.salt ?? randomBytes(16).toString('hex');
  return {
    '@context': [...OB3_CREDENTIAL_CONTEXT],
    id: urls.credential(c.publicUrl, c.id),
    type: ['VerifiableCredential', 'OpenBadgeCredential'],
    name: c.name,
    issuer: c.issuer,
    validFrom: c.issuedAt.toISOString(),
    credentialSubject: {
      id: `urn:uuid:${subjectUuid(c.id)}`,
      type: ['AchievementSubject'],
      identifier: [
        { type: 'IdentityObject', identityType: 'ltiPlatformId', hashed: false, identityHash: c.learner.issuer },
        { type: 'IdentityObject', identityType: 'ltiUserId', hashed: true, identityHash: identityHash(c.learner.sub, salt), salt },
      ],
      achievement: c.achievement,
      creditsEarned: minutesToHours(c.creditsEarnedMinutes),
    },
    credentialStatus: statusEntryJson(c.publicUrl, c.status),
    credentialSchema: [{ id: OB3_CREDENTIAL_SCHEMA, type: '1EdTechJsonSchemaValidator2019' }],
  };
}

/** The subject's `urn:uuid` of a credential: derived from the credential's UUID, so one learner's credentials do not share it. */
function subjectUuid(credentialId: string): string {
  const h = createHash('sha256').update(`subject:${credentialId}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80; // version 8 (custom, RFC 9562)
  h[8] = ((h[8] as number) & 0x3f) | 0x80; // variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The active credentials of these learners for these achievements, by `"<userId> <achievementId>"`. */
async function activeCredentials(ex: Executor, userIds: readonly number[], achievementIds: readonly number[]): Promise<Map<string, CredentialRow>> {
  const rows = await ex
    .select()
    .from(badgeCredentials)
    .where(
      and(
        sql`${badgeCredentials.userId} = ANY(string_to_array(${userIds.join(',')}, ',')::int[])`,
        sql`${badgeCredentials.achievementId} = ANY(string_to_array(${achievementIds.join(',')}, ',')::int[])`,
        eq(badgeCredentials.status, 'active'),
      ),
    );
  return new Map(rows.map((row) => [`${row.userId} ${row.achievementId}`, row]));
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
  if (updated) {
    await touchStatusLists(ex, [updated.id]);
    return { credential: updated, changed: true };
  }
  const [current] = await ex.select().from(badgeCredentials).where(eq(badgeCredentials.id, id));
  return current ? { credential: current, changed: false } : undefined;
}

/**
 * Revokes many active credentials (by UUID), each with its reason, in one UPDATE; those already revoked keep their
 * first reason. Returns how many were revoked.
 */
export async function revokeCredentials(ex: Executor, revocations: readonly { id: string; reason: string }[], now: Date = new Date()): Promise<number> {
  if (revocations.length === 0) return 0;
  const rows = revocations.map((r) => {
    const id = credentialUuid(r.id);
    if (!id) throw invalid(`not a credential id: ${r.id}`);
    if (!r.reason.trim()) throw invalid('a revocation needs a reason');
    return { id, reason: r.reason.trim() };
  });
  const updated = await queryRows<{ id: string }>(
    ex,
    sql`UPDATE badge_credentials c SET status = 'revoked', revoked_at = ${now.toISOString()}::timestamptz, revocation_reason = r.reason
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(id uuid, reason text)
        WHERE c.id = r.id AND c.status = 'active' RETURNING c.id`,
  );
  await touchStatusLists(ex, updated.map((u) => u.id));
  return updated.length;
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
