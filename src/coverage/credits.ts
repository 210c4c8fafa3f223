/** Manual credits (crédits manuels): granted with a mandatory justification, revocable, audited, recomputed at once. */
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { auditEvents, manualCreditEvidence, manualCredits } from '../db/schema';
import type { Executor } from '../db/store';
import { SocleError } from '../domain/errors';
import { refreshLearners } from './engine';
import type { CoverageDeps } from './deps';
import { type CheckedEvidence, checkEvidence, type EvidenceFile } from './evidence';

export type ManualCreditRecord = typeof manualCredits.$inferSelect;

export const grantSchema = z.object({
  platformId: z.number().int(),
  userId: z.number().int(),
  referentialId: z.string().min(1),
  /** undefined: the current version of the référentiel. */
  referentialVersion: z.string().min(1).optional(),
  competencyKey: z.string().min(1),
  minutes: z.number().int().positive('hours must be more than 0'),
  justification: z.string().trim().min(1, 'a manual credit needs a justification'),
  actor: z.string().min(1),
});

/** A credit refused: the detail's path names the wrong field (`referential`, `competency`, `minutes`…). */
const refused = (message: string, field: string, code: 'invalid_request' | 'not_found' = 'invalid_request') =>
  new SocleError(code, message, [{ path: field, message }]);

/** Parses "1,5", "1.5" or "2" hours into whole minutes. */
export function hoursToMinutes(value: string): number | undefined {
  if (!/^\d+([.,]\d+)?$/.test(value.trim())) return undefined;
  return Math.round(Number(value.trim().replace(',', '.')) * 60);
}

/**
 * Grants a credit, with its evidence file when given (checked first: a refused file stores nothing). Run it in a
 * transaction: the credit, its evidence, the audit event and the recompute commit together.
 */
export async function grantManualCredit(
  ex: Executor,
  deps: CoverageDeps,
  input: z.input<typeof grantSchema> & { evidence?: EvidenceFile },
): Promise<ManualCreditRecord> {
  const { evidence: file, ...rest } = input;
  const parsed = grantSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refused(issue?.message ?? 'invalid credit', String(issue?.path[0] ?? 'credit'));
  }
  const g = parsed.data;
  const evidence: CheckedEvidence | undefined = file ? checkEvidence(file) : undefined;
  const referential = await deps.lookup(g.referentialId, g.referentialVersion);
  if (!referential) {
    throw refused(`no référentiel ${g.referentialId}${g.referentialVersion ? ` version ${g.referentialVersion}` : ''}`, 'referential', 'not_found');
  }
  const keys = referential.domains.flatMap((d) => d.competencies.map((c) => c.key));
  if (!keys.includes(g.competencyKey)) {
    throw refused(
      `no competency "${g.competencyKey}" in ${referential.id} ${referential.version} (known: ${keys.join(', ')})`,
      'competency',
    );
  }
  const [record] = await ex
    .insert(manualCredits)
    .values({
      platformId: g.platformId,
      userId: g.userId,
      referentialId: referential.id,
      referentialVersion: referential.version,
      competencyKey: g.competencyKey,
      minutes: g.minutes,
      justification: g.justification,
      grantedBy: g.actor,
    })
    .returning();
  if (!record) throw new Error('manual credit not stored');
  if (evidence) {
    await ex.insert(manualCreditEvidence).values({
      creditId: record.id,
      fileName: evidence.fileName,
      contentType: evidence.contentType,
      size: evidence.size,
      sha256: evidence.sha256,
      data: evidence.data,
    });
  }
  await ex.insert(auditEvents).values({
    actor: g.actor,
    action: 'manual-credit.grant',
    subject: `user:${g.userId}`,
    after: {
      id: record.id,
      referential: `${record.referentialId}@${record.referentialVersion}`,
      competencyKey: record.competencyKey,
      minutes: record.minutes,
      justification: record.justification,
      ...(evidence ? { evidence: { fileName: evidence.fileName, contentType: evidence.contentType, size: evidence.size, sha256: evidence.sha256 } } : {}),
    },
  });
  await refreshLearners(ex, deps, g.platformId, [g.userId]);
  return record;
}

/** Revokes an active credit; undefined when there is none with this id (on this platform, of this learner, when given). */
export async function revokeManualCredit(
  ex: Executor,
  deps: CoverageDeps,
  input: { id: number; actor: string; reason?: string; platformId?: number; userId?: number },
): Promise<ManualCreditRecord | undefined> {
  const conditions = [eq(manualCredits.id, input.id), isNull(manualCredits.revokedAt)];
  if (input.platformId !== undefined) conditions.push(eq(manualCredits.platformId, input.platformId));
  if (input.userId !== undefined) conditions.push(eq(manualCredits.userId, input.userId));
  const [record] = await ex
    .update(manualCredits)
    .set({ revokedAt: deps.clock(), revokedBy: input.actor, revocationReason: input.reason ?? null })
    .where(and(...conditions))
    .returning();
  if (!record) return undefined;
  await ex.insert(auditEvents).values({
    actor: input.actor,
    action: 'manual-credit.revoke',
    subject: `user:${record.userId}`,
    before: { id: record.id, competencyKey: record.competencyKey, minutes: record.minutes },
    after: { reason: input.reason ?? null },
  });
  await refreshLearners(ex, deps, record.platformId, [record.userId]);
  return record;
}

export async function listManualCredits(ex: Executor, userId: number): Promise<ManualCreditRecord[]> {
  return ex.select().from(manualCredits).where(eq(manualCredits.userId, userId)).orderBy(manualCredits.id);
}

export type EvidenceInfo = Pick<typeof manualCreditEvidence.$inferSelect, 'fileName' | 'contentType' | 'size'>;

/** A learner's credits on a platform, revoked ones included, each with what is known of its evidence file. */
export async function listLearnerCredits(
  ex: Executor,
  platformId: number,
  userId: number,
): Promise<(ManualCreditRecord & { evidence: EvidenceInfo | null })[]> {
  const rows = await ex
    .select({
      credit: manualCredits,
      fileName: manualCreditEvidence.fileName,
      contentType: manualCreditEvidence.contentType,
      size: manualCreditEvidence.size,
    })
    .from(manualCredits)
    .leftJoin(manualCreditEvidence, eq(manualCreditEvidence.creditId, manualCredits.id))
    .where(and(eq(manualCredits.platformId, platformId), eq(manualCredits.userId, userId)))
    .orderBy(manualCredits.id);
  return rows.map((r) => ({
    ...r.credit,
    evidence: r.fileName !== null && r.contentType !== null && r.size !== null ? { fileName: r.fileName, contentType: r.contentType, size: r.size } : null,
  }));
}

/** The evidence file of a credit of this learner on this platform, or undefined. */
export async function creditEvidence(
  ex: Executor,
  input: { platformId: number; userId: number; creditId: number },
): Promise<typeof manualCreditEvidence.$inferSelect | undefined> {
  const [row] = await ex
    .select({ evidence: manualCreditEvidence })
    .from(manualCreditEvidence)
    .innerJoin(manualCredits, eq(manualCredits.id, manualCreditEvidence.creditId))
    .where(and(eq(manualCredits.id, input.creditId), eq(manualCredits.platformId, input.platformId), eq(manualCredits.userId, input.userId)));
  return row?.evidence;
}
