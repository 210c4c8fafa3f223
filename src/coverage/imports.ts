/**
 * Prior learning from a learner record (acquis antérieurs): a CLR 2.0 record issued by another Socle, or by this one
 * for another platform of the institution, verified (src/badges/record-import.ts) and imported for a learner of a
 * platform by an administrator, who vouches that the record is this learner's (its subject is pseudonymous: a
 * salted hash of an LTI user id of another platform, which no one here can link to the learner). Its competencies'
 * hours become manual credits of the import, with a justification naming the issuer and the record's date; the import
 * is audited and revocable (its credits with it). The same record twice imports once; a newer record of the same
 * issuer and source platform for the same learner and référentiel version replaces the older import (records of other
 * platforms or issuers add up: a record carries only the hours earned where it was issued, src/coverage/records.ts,
 * so none is counted twice); hours never exceed what the record
 * states (per competency, and per domain in total); competencies this Socle does not know are listed, not credited.
 */
import { createHash } from 'node:crypto';
import { and, desc, eq, getTableColumns, isNull } from 'drizzle-orm';
import { identityHash } from '../badges/credentials';
import { type ImportVerifyOptions, type RecordClaims, recordJwtOf, verifyRecordForImport } from '../badges/record-import';
import { auditEvents, importedRecords, manualCredits, platforms, users } from '../db/schema';
import { sqlState } from '../db/faults';
import type { Executor, Store } from '../db/store';
import { invalid, SocleError } from '../domain/errors';
import { formatDate } from '../domain/format';
import { refreshLearners } from './engine';
import { type CoverageDeps, type CoverageServices, coverageDeps } from './deps';

export type ImportedRecordRow = typeof importedRecords.$inferSelect;

/** A competency the record states hours on that the local référentiel version does not have. */
export interface MissingCompetency {
  domainCode: string;
  key: string;
  code: string;
  minutes: number;
}

export interface ImportInput {
  platformId: number;
  userId: number;
  /** The file: a VC-JWT, or the JSON of the issuer's `/records/<id>`. */
  record: string;
  /** Added to the justification written on every credit. */
  justification?: string;
  actor: string;
}

export interface ImportResult {
  import: ImportedRecordRow;
  /** false: this record was already imported for this learner (nothing changed). */
  created: boolean;
  credits: { competencyKey: string; minutes: number }[];
  missing: MissingCompetency[];
  /** The older import of the same issuer this one replaced. */
  replaced?: number;
}

/** What this Socle needs to verify a record it issued itself (its public URL and the key sealing its signing keys). */
export interface ImportIssuing {
  config: { publicUrl: string; ltiKey: string };
}

/**
 * The credits of a record on a local référentiel version: each stated competency matched by key (or by code when the
 * key is unknown and one competency bears it), capped at what its domain states in total.
 */
export function creditsOf(
  claims: Pick<RecordClaims, 'domains' | 'competencies'>,
  referential: { domains: readonly { code: string; competencies: readonly { key: string; code: string }[] }[] },
): { credits: { competencyKey: string; minutes: number }[]; missing: MissingCompetency[] } {
  const byKey = new Set(referential.domains.flatMap((d) => d.competencies.map((c) => c.key)));
  const byCode = new Map<string, string[]>();
  for (const c of referential.domains.flatMap((d) => d.competencies)) byCode.set(c.code, [...(byCode.get(c.code) ?? []), c.key]);
  const left = new Map(claims.domains);
  const credits = new Map<string, number>();
  const missing: MissingCompetency[] = [];
  for (const c of claims.competencies) {
    const codeMatch = byCode.get(c.code);
    const key = byKey.has(c.key) ? c.key : codeMatch?.length === 1 ? codeMatch[0] : undefined;
    const domainLeft = left.get(c.domainCode);
    const minutes = Math.min(c.minutes, domainLeft ?? c.minutes);
    if (key === undefined) {
      missing.push({ domainCode: c.domainCode, key: c.key, code: c.code, minutes: c.minutes });
      continue;
    }
    if (domainLeft !== undefined) left.set(c.domainCode, domainLeft - minutes);
    if (minutes > 0) credits.set(key, (credits.get(key) ?? 0) + minutes);
  }
  return { credits: [...credits].map(([competencyKey, minutes]) => ({ competencyKey, minutes })), missing };
}

const UNIQUE_VIOLATION = '23505';

const refused = (message: string, path: string, code: 'invalid_request' | 'not_found' | 'conflict' = 'invalid_request') =>
  new SocleError(code, message, [{ path, message }]);

/**
 * Verifies and imports a record for a learner (see the file's comment). The record is verified first, outside any
 * transaction (its issuer is read over HTTP); then the import, its credits, the replaced import, the audit event and
 * the recompute commit in one transaction of its own.
 */
export async function importRecord(
  db: Store['db'],
  services: CoverageServices,
  issuing: ImportIssuing,
  input: ImportInput,
  options: Pick<ImportVerifyOptions, 'resolve'> = {},
): Promise<ImportResult> {
  const jwt = recordJwtOf(input.record);
  const [learner] = await db
    .select({ sub: users.sub, issuer: platforms.issuer })
    .from(users)
    .innerJoin(platforms, eq(platforms.id, users.platformId))
    .where(and(eq(users.id, input.userId), eq(users.platformId, input.platformId)));
  if (!learner) throw refused(`no learner ${input.userId} on this platform`, 'user', 'not_found');
  const { claims } = await verifyRecordForImport(db, issuing, jwt, { ...options, now: services.clock() });

  // the record's subject names its platform: a record of this very platform is of one of its own learners
  const sourcePlatform = claims.subject.platform;
  if (sourcePlatform === undefined) throw refused("the record does not name its learner's platform (ltiPlatformId)", 'record');
  if (sourcePlatform === learner.issuer) {
    const own = claims.subject.userHash && identityHash(learner.sub, claims.subject.userHash.salt) === claims.subject.userHash.hash;
    throw own
      ? refused('this record was issued for this learner on this platform: its hours are already theirs', 'record', 'conflict')
      : refused("this record is another learner's of this platform", 'user');
  }
  try {
    return await db.transaction((tx) => store(tx, coverageDeps(services, tx), input, { jwt, claims, sourcePlatform }));
  } catch (error) {
    // the same record (or source) imported by a concurrent request, committed first: one active import only
    if (sqlState(error) === UNIQUE_VIOLATION) throw refused('this record was imported meanwhile by another request: reload to see it', 'record', 'conflict');
    throw error;
  }
}

/** Stores a verified record's import (see `importRecord`). */
async function store(
  ex: Executor,
  deps: CoverageDeps,
  input: ImportInput,
  verified: { jwt: string; claims: RecordClaims; sourcePlatform: string },
): Promise<ImportResult> {
  const { jwt, claims, sourcePlatform } = verified;
  const digest = createHash('sha256').update(jwt).digest('hex');
  const now = deps.clock();
  const [same] = await ex
    .select()
    .from(importedRecords)
    .where(and(eq(importedRecords.platformId, input.platformId), eq(importedRecords.recordId, claims.recordId), eq(importedRecords.status, 'active')));
  if (same) {
    if (same.userId !== input.userId) throw refused(`this record is already imported for another learner (import ${same.id})`, 'record', 'conflict');
    const credits = await ex
      .select({ competencyKey: manualCredits.competencyKey, minutes: manualCredits.minutes })
      .from(manualCredits)
      .where(and(eq(manualCredits.importId, same.id), isNull(manualCredits.revokedAt)));
    return { import: same, created: false, credits, missing: same.missing as MissingCompetency[] };
  }

  const referential = await deps.lookup(claims.referential.id, claims.referential.version);
  if (!referential) {
    throw refused(`this Socle has no référentiel ${claims.referential.id} version ${claims.referential.version}`, 'referential', 'not_found');
  }
  if (claims.competencies.length === 0) {
    throw invalid('the record states no hours per competency (a record issued before breakdowns): ask its issuer for a current record', [
      { path: 'record', message: 'no competency hours' },
    ]);
  }
  const { credits, missing } = creditsOf(claims, referential);
  if (credits.length === 0) {
    throw refused(`none of the record's competencies is in ${referential.id} ${referential.version} here: ${missing.map((m) => m.key).join(', ')}`, 'referential', 'not_found');
  }

  const [older] = await ex
    .select()
    .from(importedRecords)
    .where(
      and(
        eq(importedRecords.userId, input.userId),
        eq(importedRecords.issuer, claims.issuer.id),
        eq(importedRecords.sourcePlatform, sourcePlatform),
        eq(importedRecords.referentialId, referential.id),
        eq(importedRecords.referentialVersion, referential.version),
        eq(importedRecords.status, 'active'),
      ),
    )
    .orderBy(desc(importedRecords.id))
    .limit(1);
  // the issuer vouches that this record is the learner's current one: an import of an earlier date is replaced (the
  // same second too: records are dated to the second), one of a later date means this record is the older one
  if (older && older.recordIssuedAt.getTime() > claims.issuedAt.getTime()) {
    throw refused(`a record of this issuer issued on ${older.recordIssuedAt.toISOString()} is already imported (import ${older.id})`, 'record', 'conflict');
  }
  if (older) await endImport(ex, now, older.id, { status: 'replaced', actor: input.actor, reason: 'replaced by a newer record of the same issuer' });

  const justification =
    `Acquis antérieurs : relevé de ${claims.issuer.name} du ${formatDate(claims.issuedAt, { locale: 'fr' })}` +
    (input.justification?.trim() ? ` — ${input.justification.trim()}` : '');
  const creditedMinutes = credits.reduce((sum, c) => sum + c.minutes, 0);
  const [row] = await ex
    .insert(importedRecords)
    .values({
      platformId: input.platformId,
      userId: input.userId,
      issuer: claims.issuer.id,
      issuerName: claims.issuer.name,
      recordId: claims.recordId,
      sourcePlatform,
      referentialId: referential.id,
      referentialVersion: referential.version,
      recordIssuedAt: claims.issuedAt,
      jwtDigest: digest,
      jwt,
      creditedMinutes,
      missing,
      justification,
      verifiedAt: now,
      importedBy: input.actor,
    })
    .returning();
  if (!row) throw new Error('import not stored');
  await ex.insert(manualCredits).values(
    credits.map((c) => ({
      platformId: input.platformId,
      userId: input.userId,
      referentialId: referential.id,
      referentialVersion: referential.version,
      competencyKey: c.competencyKey,
      minutes: c.minutes,
      justification,
      grantedBy: input.actor,
      importId: row.id,
    })),
  );
  await ex.insert(auditEvents).values({
    actor: input.actor,
    action: 'record-import.import',
    subject: `user:${input.userId}`,
    after: {
      id: row.id,
      issuer: claims.issuer.id,
      sourcePlatform,
      record: claims.recordId,
      sha256: digest,
      referential: `${referential.id}@${referential.version}`,
      credits,
      missing,
      ...(older ? { replaced: older.id } : {}),
    },
  });
  await refreshLearners(ex, deps, input.platformId, [input.userId]);
  return { import: row, created: true, credits, missing, ...(older ? { replaced: older.id } : {}) };
}

/** Ends an active import (revoked or replaced) and revokes its active credits, audited. */
async function endImport(ex: Executor, now: Date, id: number, end: { status: 'revoked' | 'replaced'; actor: string; reason?: string }): Promise<ImportedRecordRow | undefined> {
  const [row] = await ex
    .update(importedRecords)
    .set({ status: end.status, revokedAt: now, revokedBy: end.actor, revocationReason: end.reason ?? null })
    .where(and(eq(importedRecords.id, id), eq(importedRecords.status, 'active')))
    .returning();
  if (!row) return undefined;
  await ex
    .update(manualCredits)
    .set({ revokedAt: now, revokedBy: end.actor, revocationReason: end.reason ?? `import ${end.status}` })
    .where(and(eq(manualCredits.importId, id), isNull(manualCredits.revokedAt)));
  await ex.insert(auditEvents).values({
    actor: end.actor,
    action: `record-import.${end.status === 'revoked' ? 'revoke' : 'replace'}`,
    subject: `user:${row.userId}`,
    before: { id: row.id, issuer: row.issuer, record: row.recordId, creditedMinutes: row.creditedMinutes },
    after: { status: end.status, reason: end.reason ?? null },
  });
  return row;
}

/** Revokes an active import and its credits; undefined when there is none with this id (on this platform, when given). */
export async function revokeImport(
  ex: Executor,
  deps: CoverageDeps,
  input: { id: number; actor: string; reason?: string; platformId?: number; userId?: number },
): Promise<ImportedRecordRow | undefined> {
  const conditions = [eq(importedRecords.id, input.id)];
  if (input.platformId !== undefined) conditions.push(eq(importedRecords.platformId, input.platformId));
  if (input.userId !== undefined) conditions.push(eq(importedRecords.userId, input.userId));
  const [found] = await ex.select({ id: importedRecords.id }).from(importedRecords).where(and(...conditions));
  if (!found) return undefined;
  const row = await endImport(ex, deps.clock(), found.id, { status: 'revoked', actor: input.actor, ...(input.reason ? { reason: input.reason } : {}) });
  if (row) await refreshLearners(ex, deps, row.platformId, [row.userId]);
  return row;
}

/** The imports of a platform (of one learner when given), newest first, without their JWT. */
export async function listImports(ex: Executor, filter: { platformId: number; userId?: number }) {
  const { jwt: _jwt, ...columns } = getTableColumns(importedRecords);
  const conditions = [eq(importedRecords.platformId, filter.platformId)];
  if (filter.userId !== undefined) conditions.push(eq(importedRecords.userId, filter.userId));
  return ex
    .select({ ...columns, sub: users.sub })
    .from(importedRecords)
    .innerJoin(users, eq(users.id, importedRecords.userId))
    .where(and(...conditions))
    .orderBy(desc(importedRecords.id));
}
