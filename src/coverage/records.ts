/**
 * Learner records from the stored coverage: for each référentiel version a learner has coverage in, their current
 * CLR 2.0 record (issued again only when their hours or badges changed). A learner marked stale is recomputed first.
 */
import { and, eq } from 'drizzle-orm';
import { issueRecord, type LearnerRecordRow } from '../badges/records';
import { coverageDirty, learnerCoverage } from '../db/schema';
import type { Executor } from '../db/store';
import { referentialOutlineSchema } from '../domain/referential';
import { type CoverageServices, coverageDeps } from './deps';
import type { StoredDomain } from './engine';
import { refreshLearners } from './engine';

export interface CurrentRecord {
  record: LearnerRecordRow;
  title: string;
}

/** The learner's current records, one per référentiel version of their stored coverage (by référentiel, then version). */
export async function currentRecords(
  ex: Executor,
  services: CoverageServices,
  learner: { platformId: number; userId: number },
  only?: { referentialId: string },
): Promise<CurrentRecord[]> {
  const issuing = services.badges;
  if (!issuing) return [];
  const deps = coverageDeps(services, ex);
  const [dirty] = await ex.select({ userId: coverageDirty.userId }).from(coverageDirty).where(eq(coverageDirty.userId, learner.userId));
  if (dirty) await refreshLearners(ex, deps, learner.platformId, [learner.userId]);
  const rows = await ex
    .select({ referentialId: learnerCoverage.referentialId, referentialVersion: learnerCoverage.referentialVersion, domains: learnerCoverage.domains })
    .from(learnerCoverage)
    .where(
      and(
        eq(learnerCoverage.userId, learner.userId),
        eq(learnerCoverage.platformId, learner.platformId),
        ...(only ? [eq(learnerCoverage.referentialId, only.referentialId)] : []),
      ),
    )
    .orderBy(learnerCoverage.referentialId, learnerCoverage.referentialVersion);
  const out: CurrentRecord[] = [];
  for (const row of rows) {
    const version = await deps.lookup(row.referentialId, row.referentialVersion);
    if (!version) continue; // a version no longer in the catalogue: its record cannot be described
    const referential = referentialOutlineSchema.parse(version);
    const validatedMinutes = new Map((row.domains as StoredDomain[]).map((d) => [d.code, d.validatedMinutes]));
    const { record } = await issueRecord(ex, issuing, { userId: learner.userId, referential, validatedMinutes, now: services.clock() });
    out.push({ record, title: referential.title });
  }
  return out;
}
