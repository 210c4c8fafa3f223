/**
 * Learner records from the stored coverage: for each référentiel version a learner has coverage in, their current
 * CLR 2.0 record (issued again only when their hours or badges changed). A learner marked stale is recomputed first.
 */
import { and, eq, isNotNull } from 'drizzle-orm';
import { issueRecord, type LearnerRecordRow } from '../badges/records';
import { coverageDirty, learnerCoverage, manualCredits } from '../db/schema';
import type { Executor } from '../db/store';
import { referentialOutlineSchema } from '../domain/referential';
import { type CoverageServices, coverageDeps } from './deps';
import type { StoredDomain } from './engine';
import { learnerCoverages, loadFacts, loadVersionRules, refreshLearners } from './engine';
import { versionKey } from './referentials';

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
  const breakdown = rows.length ? await competencyBreakdown(ex, deps, learner) : new Map<string, Map<string, number>>();
  const out: CurrentRecord[] = [];
  for (const row of rows) {
    const version = await deps.lookup(row.referentialId, row.referentialVersion);
    if (!version) continue; // a version no longer in the catalogue: its record cannot be described
    const referential = referentialOutlineSchema.parse(version);
    const validatedMinutes = new Map((row.domains as StoredDomain[]).map((d) => [d.code, d.validatedMinutes]));
    const competencyMinutes = breakdown.get(versionKey(row.referentialId, row.referentialVersion)) ?? new Map<string, number>();
    const { record } = await issueRecord(ex, issuing, { userId: learner.userId, referential, validatedMinutes, competencyMinutes, now: services.clock() });
    out.push({ record, title: referential.title });
  }
  return out;
}

/**
 * The validated minutes of each competency of the learner, by référentiel version (`versionKey`), computed from the
 * same facts and rules as the stored coverage, less the credits of imported records: the hours earned here, which
 * another Socle (or platform) imports from this record.
 */
async function competencyBreakdown(
  ex: Executor,
  deps: ReturnType<typeof coverageDeps>,
  learner: { platformId: number; userId: number },
): Promise<Map<string, Map<string, number>>> {
  const all = (await loadFacts(ex, { userIds: [learner.userId] })).get(learner.userId) ?? { events: [], credits: [] };
  // hours imported from other records are not passed on: the learner brings each institution's record, none counts twice
  const imported = new Set(
    (await ex.select({ id: manualCredits.id }).from(manualCredits).where(and(eq(manualCredits.userId, learner.userId), isNotNull(manualCredits.importId)))).map((c) => c.id),
  );
  const facts = { ...all, credits: all.credits.filter((c) => !imported.has(c.id)) };
  const rules = await loadVersionRules(ex, deps.lookup, learner.platformId, [...new Set(facts.events.map((e) => e.courseId))]);
  const out = new Map<string, Map<string, number>>();
  for (const coverage of await learnerCoverages(rules, facts)) {
    const minutes = new Map(coverage.domains.flatMap((d) => d.competencies.map((c) => [c.key, c.validatedMinutes] as const)));
    out.set(versionKey(coverage.referential.id, coverage.referential.version), minutes);
  }
  return out;
}
