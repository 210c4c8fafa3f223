/** The coverage API's views: one learner (computed from the facts) and a course (from the stored coverage). */
import { sql } from 'drizzle-orm';
import { compileRules, computeCoverage, type LearnerCoverage } from '../domain/coverage';
import { type Executor, inList, queryRows } from '../db/store';
import { learnerCoverages, loadFacts, loadVersionRules, refreshLearners, type StoredDomain } from './engine';
import type { CoverageDeps } from './deps';
import { notFound } from '../domain/errors';
import { minutesToHours } from '../domain/format';

/** Minutes as hours for JSON (2 decimals). */
export const hours = (minutes: number | null): number | null => (minutes === null ? null : minutesToHours(minutes));

export async function learnerView(
  ex: Executor,
  deps: CoverageDeps,
  platform: { id: number; issuer: string },
  user: { id: number; sub: string; name: string | null },
  referentialId: string,
  referentialVersion?: string,
) {
  const facts = (await loadFacts(ex, { userIds: [user.id] })).get(user.id) ?? { events: [], credits: [] };
  const courseIds = [...new Set(facts.events.map((e) => e.courseId))];
  const rules = await loadVersionRules(ex, deps.lookup, platform.id, courseIds);
  const all = (await learnerCoverages(rules, facts)).filter((c) => c.referential.id === referentialId);
  let coverage: LearnerCoverage | undefined = referentialVersion
    ? all.find((c) => c.referential.version === referentialVersion)
    : all.sort((a, b) => (a.referential.version < b.referential.version ? 1 : -1))[0];
  if (!coverage) {
    // nothing yet for this référentiel: an empty coverage of the requested (or current) version
    const referential = await deps.lookup(referentialId, referentialVersion);
    if (!referential) throw notFound(`no référentiel ${referentialId}${referentialVersion ? ` version ${referentialVersion}` : ''}.`);
    coverage = computeCoverage(compileRules(referential), [], []);
  }
  const [dirty] = await queryRows<{ n: number }>(ex, sql`SELECT count(*)::int AS n FROM coverage_dirty WHERE user_id = ${user.id}`);
  if (dirty && dirty.n > 0) await refreshLearners(ex, deps, platform.id, [user.id]);

  const activityIris = [...new Set(coverage.domains.flatMap((d) => d.competencies.flatMap((c) => c.credits.flatMap((x) => (x.source === 'activity' ? [x.activityId] : [])))))];
  const names = new Map<string, string | null>();
  if (activityIris.length) {
    const rows = await queryRows<{ activity_iri: string; name: string | null }>(
      ex,
      sql`SELECT activity_iri, name FROM xapi_activities WHERE platform_id = ${platform.id} AND activity_iri IN (${inList(activityIris)})`,
    );
    for (const r of rows) names.set(r.activity_iri, r.name);
  }
  const contexts = new Map<number, string>();
  if (courseIds.length) {
    for (const r of await queryRows<{ id: number; context_id: string }>(ex, sql`SELECT id, context_id FROM courses WHERE id IN (${inList(courseIds)})`)) {
      contexts.set(r.id, r.context_id);
    }
  }
  const version = coverage.referential.version;
  const credits = facts.credits.filter((c) => c.referential_id === referentialId && c.referential_version === version);
  return {
    platform: platform.issuer,
    user: { sub: user.sub, name: user.name },
    referential: coverage.referential,
    hasHours: coverage.hasHours,
    requiredHours: hours(coverage.requiredMinutes),
    creditedHours: hours(coverage.creditedMinutes),
    validatedHours: hours(coverage.validatedMinutes),
    missingHours: hours(coverage.missingMinutes),
    coveredCompetencies: coverage.coveredCompetencies,
    totalCompetencies: coverage.totalCompetencies,
    status: coverage.status,
    domains: coverage.domains.map((d) => ({
      code: d.code,
      title: d.title,
      requiredHours: hours(d.requiredMinutes),
      creditedHours: hours(d.creditedMinutes),
      validatedHours: hours(d.validatedMinutes),
      missingHours: hours(d.missingMinutes),
      status: d.status,
      competencies: d.competencies.map((c) => ({
        key: c.key,
        code: c.code,
        title: c.title,
        requiredHours: hours(c.requiredMinutes),
        creditedHours: hours(c.creditedMinutes),
        validatedHours: hours(c.validatedMinutes),
        covered: c.covered,
        credits: c.credits.map((x) =>
          x.source === 'activity'
            ? {
                source: 'activity' as const,
                activity: { id: x.activityId, name: names.get(x.activityId) ?? null, context: contexts.get(x.courseId) ?? null },
                completedAt: new Date(x.completedAt).toISOString(),
                hours: hours(x.minutes),
              }
            : { source: 'manual' as const, manualCreditId: x.manualCreditId, hours: hours(x.minutes), justification: x.justification },
        ),
      })),
    })),
    gaps: coverage.gaps.map((g) => ({ domainCode: g.domainCode, domainTitle: g.domainTitle, missingHours: hours(g.missingMinutes), missingCompetencyKeys: g.missingCompetencyKeys })),
    manualCredits: credits.map((c) => ({ id: c.id, competencyKey: c.competency_key, hours: hours(c.minutes), justification: c.justification, revoked: c.revoked })),
  };
}

/** A learner's stored coverage as the course views read it (null figures: not computed yet). */
export interface StoredCoverageRow {
  user_id: number;
  sub: string;
  name: string | null;
  required_minutes: number | null;
  credited_minutes: number | null;
  validated_minutes: number | null;
  status: string | null;
  domains: StoredDomain[] | null;
  computed_at: string | Date | null;
  dirty: boolean;
}

/**
 * The référentiel version a course's views show: the course's own, else the newest version its mappings use
 * (of `referentialId` when given). Not found when the course has no mapping yet or the version is unknown.
 */
export async function courseReferential(
  ex: Executor,
  deps: CoverageDeps,
  course: { id: number; contextId: string; referentialId: string | null; referentialVersion: string | null },
  referentialId?: string,
) {
  let id = course.referentialId;
  let version = course.referentialVersion;
  if (!id || !version || (referentialId && referentialId !== id)) {
    const versions = await queryRows<{ referential_id: string; referential_version: string }>(
      ex,
      sql`SELECT DISTINCT referential_id, referential_version FROM activity_mappings WHERE course_id = ${course.id}
          ${referentialId ? sql`AND referential_id = ${referentialId}` : sql``} ORDER BY referential_version DESC`,
    );
    id = versions[0]?.referential_id ?? referentialId ?? null;
    version = versions[0]?.referential_version ?? null;
  }
  if (!id) throw notFound(`course ${course.contextId} has no mapping yet: pass referential=<id>.`);
  const referential = await deps.lookup(id, version ?? undefined);
  if (!referential) throw notFound(`no référentiel ${id}${version ? ` version ${version}` : ''}.`);
  return referential;
}

export const MAX_PAGE = 1_000;

/**
 * A course: every learner of its roster and every learner with events in it (those with nothing yet included),
 * ordered by user id, `limit` per page after the cursor `after` (a user id). Stale learners of the page are
 * recomputed first.
 */
export async function courseView(
  ex: Executor,
  deps: CoverageDeps,
  platform: { id: number; issuer: string },
  course: { id: number; contextId: string; title: string | null; referentialId: string | null; referentialVersion: string | null },
  options: { referentialId?: string; limit: number; after?: number },
) {
  const referential = await courseReferential(ex, deps, course, options.referentialId);
  const empty = computeCoverage(compileRules(referential), [], []);
  // Keyset page: the next `limit + 1` user ids of the roster and of the events (each read in user-id order from its
  // index, course_members' key and completion_events (course_id, user_id)), merged; never the whole course.
  const after = options.after ?? 0;
  const take = options.limit + 1;
  const learners = sql`(SELECT user_id FROM course_members WHERE course_id = ${course.id} AND status <> 'deleted' AND user_id > ${after}
                          ORDER BY user_id LIMIT ${take})
                       UNION
                       (SELECT DISTINCT user_id FROM completion_events WHERE course_id = ${course.id} AND user_id > ${after}
                          ORDER BY user_id LIMIT ${take})`;
  const select = () =>
    queryRows<StoredCoverageRow>(
      ex,
      sql`SELECT u.id AS user_id, u.sub, u.name, lc.required_minutes, lc.credited_minutes, lc.validated_minutes, lc.status, lc.domains,
                 lc.computed_at, d.user_id IS NOT NULL AS dirty
          FROM (SELECT user_id FROM (${learners}) m ORDER BY user_id LIMIT ${take}) l JOIN users u ON u.id = l.user_id
          LEFT JOIN learner_coverage lc ON lc.user_id = u.id AND lc.referential_id = ${referential.id} AND lc.referential_version = ${referential.version}
          LEFT JOIN coverage_dirty d ON d.user_id = u.id
          ORDER BY u.id`,
    );
  let rows = await select();
  const dirty = rows.filter((r) => r.dirty).map((r) => r.user_id);
  if (dirty.length) {
    await refreshLearners(ex, deps, platform.id, dirty);
    rows = await select();
  }
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  return {
    platform: platform.issuer,
    context: { id: course.contextId, title: course.title },
    referential: { id: referential.id, version: referential.version, title: referential.title },
    requiredHours: hours(empty.requiredMinutes),
    domains: empty.domains.map((d) => ({ code: d.code, title: d.title, requiredHours: hours(d.requiredMinutes) })),
    learners: page.map((r) => storedFigures(r, empty)),
    next: rows.length > options.limit && last ? String(last.user_id) : null,
  };
}

/** A learner's figures in the course views, from their stored row over the référentiel's empty coverage. */
export function storedFigures(r: StoredCoverageRow, empty: LearnerCoverage) {
  const stored = new Map((r.domains ?? []).map((d) => [d.code, d]));
  return {
    user: { sub: r.sub, name: r.name },
    status: r.status ?? 'not_started',
    requiredHours: hours(r.required_minutes ?? empty.requiredMinutes),
    creditedHours: hours(r.credited_minutes ?? 0),
    validatedHours: hours(r.validated_minutes ?? 0),
    domains: empty.domains.map((d) => {
      const s = stored.get(d.code);
      return { code: d.code, requiredHours: hours(d.requiredMinutes), creditedHours: hours(s?.creditedMinutes ?? 0), validatedHours: hours(s?.validatedMinutes ?? 0) };
    }),
    computedAt: r.computed_at === null ? null : new Date(r.computed_at).toISOString(),
  };
}

/** A mapped activity of one of the learner's courses that they have not completed, with what it would credit. */
export interface PendingActivity {
  iri: string;
  name: string | null;
  courseId: number;
  courseTitle: string | null;
  /** Moodle's activity (the web service listed it, or its IRI is a Moodle URL seen in statements); false for one added by hand. */
  inPlatform: boolean;
  competencyKey: string;
  minutes: number;
}

/** The query of `pendingActivities` (exported for the benchmark's EXPLAIN). */
export const pendingQuery = (platformId: number, userId: number, referential: { id: string; version: string }) =>
  sql`WITH mine AS (
          SELECT course_id FROM course_members WHERE user_id = ${userId} AND status <> 'deleted'
          UNION SELECT DISTINCT course_id FROM completion_events WHERE user_id = ${userId} AND course_id IS NOT NULL
        )
        SELECT m.activity_iri, COALESCE(ca.name, xa.name) AS name, m.course_id, c.title AS course_title,
               COALESCE(ca.source = 'manual', false) AS manual, m.competency_key, m.minutes
        FROM activity_mappings m
        JOIN mine ON mine.course_id = m.course_id
        JOIN courses c ON c.id = m.course_id AND c.platform_id = ${platformId}
        LEFT JOIN course_activities ca ON ca.course_id = m.course_id AND ca.iri = m.activity_iri
        LEFT JOIN xapi_activities xa ON xa.platform_id = ${platformId} AND xa.activity_iri = m.activity_iri
        WHERE m.referential_id = ${referential.id} AND m.referential_version = ${referential.version}
          AND ca.gone_at IS NULL
          AND COALESCE((SELECT e.kind FROM completion_events e
                        WHERE e.user_id = ${userId} AND e.activity_iri = m.activity_iri AND NOT e.voided
                        ORDER BY e.statement_timestamp DESC, e.id DESC, e.position DESC LIMIT 1), 'none') <> 'completed'
        ORDER BY c.title, m.course_id, ca.position NULLS LAST, COALESCE(ca.name, xa.name), m.activity_iri, m.competency_key`;

/**
 * What the learner can still do: the mapped (activity, competency) pairs of one référentiel version in the
 * courses the learner belongs to (roster or events), whose activity the learner has not completed (no event, or
 * the latest non-voided one is an un-completion), and not gone from the course. One query on the mapping's
 * primary key and the learner's events (completion_events (user_id, activity_iri)).
 */
export async function pendingActivities(
  ex: Executor,
  platformId: number,
  userId: number,
  referential: { id: string; version: string },
): Promise<PendingActivity[]> {
  const rows = await queryRows<{
    activity_iri: string;
    name: string | null;
    course_id: number;
    course_title: string | null;
    manual: boolean;
    competency_key: string;
    minutes: number;
  }>(
    ex,
    pendingQuery(platformId, userId, referential),
  );
  return rows.map((r) => ({
    iri: r.activity_iri,
    name: r.name,
    courseId: r.course_id,
    courseTitle: r.course_title,
    inPlatform: !r.manual,
    competencyKey: r.competency_key,
    minutes: r.minutes,
  }));
}
