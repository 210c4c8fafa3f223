/**
 * Coverage from the database: loads the facts of a set of learners of one platform (completion events, manual
 * credits), the mappings and crediting policies of the courses involved, asks the référentiel lookup, and runs the
 * pure rules (src/domain/coverage.ts). The same path serves the ingestion hook, reads and the full recompute, so
 * they cannot disagree.
 */
import { type SQL, sql } from 'drizzle-orm';
import {
  compileRules,
  computeCoverage,
  DEFAULT_POLICY,
  type CompletionEvent,
  type CoursePolicy,
  type CoverageRules,
  type CreditingPolicy,
  type LearnerCoverage,
  type ManualCredit,
  type Mapping,
} from '../domain/coverage';
import { type Executor, inList, queryRows } from '../db/store';
import { queueScorePublications } from './score-queue';
import { applyBadges, planBadges } from './badges';
import type { CoverageDeps } from './deps';
import { type ReferentialLookup, versionKey } from './referentials';

export interface MappingRow {
  course_id: number;
  activity_iri: string;
  referential_id: string;
  referential_version: string;
  competency_key: string;
  minutes: number;
}

interface EventRow {
  seq: number;
  user_id: number;
  course_id: number;
  activity_iri: string;
  kind: 'completed' | 'uncompleted';
  success: boolean | null;
  duration_seconds: number | null;
  ts: number;
  voided: boolean;
}

export interface CreditRow {
  id: number;
  user_id: number;
  referential_id: string;
  referential_version: string;
  competency_key: string;
  minutes: number;
  justification: string;
  revoked: boolean;
}

/** The rules of every référentiel version a platform's mappings use, compiled once per version. */
export class VersionRules {
  private readonly byVersion = new Map<string, Mapping[]>();
  private readonly compiled = new Map<string, Promise<CoverageRules | undefined>>();
  /** activity key (course id + IRI) → versions it is mapped in. */
  readonly versionsOfActivity = new Map<string, Set<string>>();
  readonly missing = new Set<string>();

  constructor(
    private readonly lookup: ReferentialLookup,
    mappings: readonly MappingRow[],
    private readonly policies: readonly CoursePolicy[],
    private readonly defaultPolicy: CreditingPolicy,
  ) {
    for (const m of mappings) {
      const key = versionKey(m.referential_id, m.referential_version);
      let list = this.byVersion.get(key);
      if (!list) this.byVersion.set(key, (list = []));
      list.push({ courseId: m.course_id, activityId: m.activity_iri, competencyKey: m.competency_key, minutes: m.minutes });
      const activity = `${m.course_id} ${m.activity_iri}`;
      let versions = this.versionsOfActivity.get(activity);
      if (!versions) this.versionsOfActivity.set(activity, (versions = new Set()));
      versions.add(key);
    }
  }

  rules(id: string, version: string): Promise<CoverageRules | undefined> {
    const key = versionKey(id, version);
    let hit = this.compiled.get(key);
    if (!hit) {
      hit = this.lookup(id, version).then((referential) => {
        if (!referential) {
          this.missing.add(`${id}@${version}`);
          return undefined;
        }
        return compileRules(referential, this.byVersion.get(key) ?? [], this.policies, this.defaultPolicy);
      });
      this.compiled.set(key, hit);
    }
    return hit;
  }
}

/**
 * Loads the mappings and policies of the given courses (all the platform's when `courseIds` is null). `rewrite`
 * changes the mappings before they are compiled: a dry run of a change (a référentiel transition's preview).
 */
export async function loadVersionRules(
  ex: Executor,
  lookup: ReferentialLookup,
  platformId: number,
  courseIds: readonly number[] | null,
  rewrite: (mappings: MappingRow[]) => MappingRow[] = (m) => m,
): Promise<VersionRules> {
  const courseFilter = courseIds === null ? sql`c.platform_id = ${platformId}` : courseIds.length ? sql`c.id IN (${inList(courseIds)})` : sql`false`;
  const mappings = await queryRows<MappingRow>(
    ex,
    sql`SELECT m.course_id, m.activity_iri, m.referential_id, m.referential_version, m.competency_key, m.minutes
        FROM activity_mappings m JOIN courses c ON c.id = m.course_id WHERE ${courseFilter}`,
  );
  // the platform's defaults (first row, course_id null) and the courses' effective policies, in one query
  const rows = await queryRows<PolicyRow>(
    ex,
    sql`SELECT NULL::int AS course_id, require_success, cap_to_measured_duration AS cap FROM platform_settings WHERE platform_id = ${platformId}
        UNION ALL
        SELECT s.course_id, s.require_success, s.cap_to_measured_duration FROM course_settings s JOIN courses c ON c.id = s.course_id WHERE ${courseFilter}`,
  );
  return versionRulesFrom(lookup, rewrite(mappings), rows);
}

interface PolicyRow {
  course_id: number | null;
  require_success: boolean | null;
  cap: boolean | null;
}

/** The rules of these mappings and policies (the platform's defaults: the row without course), compiled. */
async function versionRulesFrom(lookup: ReferentialLookup, mappings: readonly MappingRow[], rows: readonly PolicyRow[]): Promise<VersionRules> {
  const platform = rows.find((r) => r.course_id === null);
  const defaultPolicy: CreditingPolicy = platform
    ? { requireSuccess: platform.require_success ?? false, capToMeasuredDuration: platform.cap ?? false }
    : DEFAULT_POLICY;
  const policies: CoursePolicy[] = rows.flatMap((o) =>
    o.course_id === null
      ? []
      : [{ courseId: o.course_id, requireSuccess: o.require_success ?? defaultPolicy.requireSuccess, capToMeasuredDuration: o.cap ?? defaultPolicy.capToMeasuredDuration }],
  );
  const rules = new VersionRules(lookup, mappings, policies, defaultPolicy);
  // Compiled now, on `ex`: a lookup reading the catalogue must not run later inside another transaction.
  await Promise.all(
    [...new Set(mappings.map((m) => `${m.referential_id}\u0000${m.referential_version}`))].map((key) => {
      const [id = '', version = ''] = key.split('\u0000');
      return rules.rules(id, version);
    }),
  );
  return rules;
}

export interface LearnerFacts {
  events: CompletionEvent[];
  credits: CreditRow[];
}

/** Completion events and manual credits of the given learners, or of a range of user ids of a platform. */
export async function loadFacts(
  ex: Executor,
  filter: { userIds: readonly number[] } | { platformId: number; fromUserId: number; toUserId: number },
): Promise<Map<number, LearnerFacts>> {
  const where =
    'userIds' in filter
      ? filter.userIds.length
        ? sql`user_id IN (${inList(filter.userIds)})`
        : sql`false`
      : sql`platform_id = ${filter.platformId} AND user_id BETWEEN ${filter.fromUserId} AND ${filter.toUserId}`;
  const events = await queryRows<EventRow>(
    ex,
    sql`SELECT id::float8 AS seq, user_id, course_id, activity_iri, kind, success,
               duration_seconds, (extract(epoch FROM statement_timestamp) * 1000)::float8 AS ts, voided
        FROM completion_events WHERE ${where} AND course_id IS NOT NULL`,
  );
  const credits = await queryRows<CreditRow>(
    ex,
    sql`SELECT id, user_id, referential_id, referential_version, competency_key, minutes, justification,
               revoked_at IS NOT NULL AS revoked
        FROM manual_credits WHERE ${where}`,
  );
  return factsFrom(events, credits);
}

function factsFrom(events: readonly EventRow[], credits: readonly CreditRow[]): Map<number, LearnerFacts> {
  const facts = new Map<number, LearnerFacts>();
  const of = (userId: number) => {
    let f = facts.get(userId);
    if (!f) facts.set(userId, (f = { events: [], credits: [] }));
    return f;
  };
  for (const e of events) {
    of(e.user_id).events.push({
      // the row id: one per statement (statement ids are unique), cheaper to read than the UUID
      id: String(e.seq),
      activityId: e.activity_iri,
      courseId: e.course_id,
      kind: e.kind,
      success: e.success,
      durationSeconds: e.duration_seconds,
      timestamp: Math.round(Number(e.ts)),
      // the arrival order: statements are inserted in batch order, so the row id orders batches and positions
      sequence: Number(e.seq),
      voided: e.voided,
    });
  }
  for (const c of credits) of(c.user_id).credits.push(c);
  return facts;
}

/** The référentiel versions a learner has: those mapping an activity they have events on, and those of their manual credits. */
export function versionsOf(rules: VersionRules, facts: LearnerFacts): Set<string> {
  const versions = new Set<string>();
  for (const e of facts.events) {
    const found = rules.versionsOfActivity.get(`${e.courseId} ${e.activityId}`);
    if (found) for (const v of found) versions.add(v);
  }
  for (const c of facts.credits) if (!c.revoked) versions.add(versionKey(c.referential_id, c.referential_version));
  return versions;
}

export function toManualCredit(c: CreditRow): ManualCredit {
  return { id: c.id, competencyKey: c.competency_key, minutes: c.minutes, justification: c.justification, revoked: c.revoked };
}

/** Every coverage of one learner (one per référentiel version they have). */
export async function learnerCoverages(rules: VersionRules, facts: LearnerFacts): Promise<LearnerCoverage[]> {
  const result: LearnerCoverage[] = [];
  for (const key of versionsOf(rules, facts)) {
    const [id, version] = key.split('\u0000') as [string, string];
    const compiled = await rules.rules(id, version);
    if (!compiled) continue;
    const credits = facts.credits.filter((c) => c.referential_id === id && c.referential_version === version).map(toManualCredit);
    result.push(computeCoverage(compiled, facts.events, credits));
  }
  return result;
}

export interface StoredDomain {
  code: string;
  requiredMinutes: number | null;
  creditedMinutes: number;
  validatedMinutes: number;
}

/** A learner's dirty mark as a recompute read it, before reading their facts: `"<user id>:<generation>"`. */
export type DirtyMark = string;

/** The dirty marks of these learners (read before their facts, or in the same statement). */
export function dirtyMarksQuery(filter: SQL): SQL {
  return sql`SELECT coalesce(json_agg(user_id || ':' || generation), '[]') AS marks FROM coverage_dirty WHERE ${filter}`;
}

/**
 * Replaces the stored coverage of these learners by the given coverages and clears the dirty marks read with their
 * facts (`marks`: a mark drawn again since, by a batch committed meanwhile, stays for the next recompute), in one
 * statement (the rows travel as one JSON parameter: cheap to build and to parse for thousands of rows).
 */
export async function writeCoverage(
  ex: Executor,
  deps: Pick<CoverageDeps, 'badges' | 'clock'>,
  platformId: number,
  userIds: readonly number[],
  coverages: readonly { userId: number; coverage: LearnerCoverage }[],
  marks: readonly DirtyMark[],
): Promise<void> {
  if (userIds.length === 0) return;
  // badges follow the coverage in this transaction (planned against the coverage stored until now)
  const setting = deps.badges;
  const plan = setting ? await planBadges(ex, userIds, coverages) : undefined;
  const rows = coverages.map(({ userId, coverage: c }) => ({
    user_id: userId,
    referential_id: c.referential.id,
    referential_version: c.referential.version,
    required_minutes: c.requiredMinutes,
    credited_minutes: c.creditedMinutes,
    validated_minutes: c.validatedMinutes,
    covered_competencies: c.coveredCompetencies,
    total_competencies: c.totalCompetencies,
    status: c.status,
    domains: c.domains.map(
      (d): StoredDomain => ({ code: d.code, requiredMinutes: d.requiredMinutes, creditedMinutes: d.creditedMinutes, validatedMinutes: d.validatedMinutes }),
    ),
  }));
  const ids = sql`string_to_array(${userIds.join(',')}, ',')::int[]`;
  await ex.execute(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(user_id int, referential_id text, referential_version text,
        required_minutes int, credited_minutes int, validated_minutes int, covered_competencies int, total_competencies int, status text, domains jsonb)
    ), stale AS (
      DELETE FROM learner_coverage lc WHERE lc.user_id = ANY(${ids}) AND NOT EXISTS (
        SELECT 1 FROM input i WHERE i.user_id = lc.user_id AND i.referential_id = lc.referential_id AND i.referential_version = lc.referential_version)
    ), clean AS (
      DELETE FROM coverage_dirty WHERE user_id || ':' || generation IN (SELECT jsonb_array_elements_text(${JSON.stringify(marks)}::jsonb))
    )
    INSERT INTO learner_coverage (platform_id, user_id, referential_id, referential_version, required_minutes, credited_minutes,
      validated_minutes, covered_competencies, total_competencies, status, domains, computed_at)
    SELECT ${platformId}::int, user_id, referential_id, referential_version, required_minutes, credited_minutes, validated_minutes,
      covered_competencies, total_competencies, status, domains, now() FROM input
    ON CONFLICT (user_id, referential_id, referential_version) DO UPDATE SET
      required_minutes = excluded.required_minutes, credited_minutes = excluded.credited_minutes,
      validated_minutes = excluded.validated_minutes, covered_competencies = excluded.covered_competencies,
      total_competencies = excluded.total_competencies, status = excluded.status, domains = excluded.domains, computed_at = now()`);
  if (setting && plan && (plan.issue.length || plan.revoke.length)) await applyBadges(ex, setting, plan, deps.clock());
}

/** Arbitrary constant: the first key of the crediting lock (the second is the platform id). */
const CREDITING_LOCK = 1_936_681_836;

/**
 * The platform's crediting lock, held until the end of the transaction. Whoever credits facts against the mappings
 * and policies takes it shared, before reading them; whoever changes a mapping or a policy takes it exclusive,
 * before choosing the learners to recompute. Under READ COMMITTED a change cannot then commit between a crediting
 * transaction's read of the mappings and its commit: it waits, and then sees that transaction's new facts (and
 * recomputes or marks their learners), while a crediting that waited reads the new mappings.
 */
export async function creditingLock(ex: Executor, platformId: number, mode: 'shared' | 'exclusive'): Promise<void> {
  await ex.execute(
    mode === 'shared'
      ? sql`SELECT pg_advisory_xact_lock_shared(${CREDITING_LOCK}::int, ${platformId}::int)`
      : sql`SELECT pg_advisory_xact_lock(${CREDITING_LOCK}::int, ${platformId}::int)`,
  );
}

/** Recomputes and stores the coverage of these learners of one platform from their facts. Returns the référentiels not found. */
export async function refreshLearners(
  ex: Executor,
  deps: CoverageDeps,
  platformId: number,
  userIds: readonly number[],
): Promise<{ missing: string[] }> {
  const unique = [...new Set(userIds)];
  if (unique.length === 0) return { missing: [] };
  // A mapping change waits for the recomputes already reading the old mappings (and they for it): see creditingLock.
  await creditingLock(ex, platformId, 'shared');
  // Everything the computation reads, in one round trip: the learners' events and credits, the mappings and
  // policies of their events' courses, their stored coverage, and whether a dirty mark or an active badge is there.
  const ids = sql`string_to_array(${unique.join(',')}, ',')::int[]`;
  const [loaded] = await queryRows<{
    events: EventRow[];
    credits: CreditRow[];
    mappings: MappingRow[];
    policies: PolicyRow[];
    before: string[];
    marks: DirtyMark[];
    pending: boolean;
  }>(
    ex,
    sql`WITH ev AS (
          SELECT id::float8 AS seq, user_id, course_id, activity_iri, kind, success, duration_seconds,
                 (extract(epoch FROM statement_timestamp) * 1000)::float8 AS ts, voided
          FROM completion_events WHERE user_id = ANY(${ids}) AND course_id IS NOT NULL),
        cs AS (SELECT DISTINCT course_id FROM ev)
        SELECT
          (SELECT coalesce(json_agg(ev), '[]') FROM ev) AS events,
          (SELECT coalesce(json_agg(cr), '[]') FROM (
             SELECT id, user_id, referential_id, referential_version, competency_key, minutes, justification, revoked_at IS NOT NULL AS revoked
             FROM manual_credits WHERE user_id = ANY(${ids})) cr) AS credits,
          (SELECT coalesce(json_agg(m), '[]') FROM (
             SELECT course_id, activity_iri, referential_id, referential_version, competency_key, minutes
             FROM activity_mappings WHERE course_id IN (SELECT course_id FROM cs)) m) AS mappings,
          (SELECT coalesce(json_agg(p), '[]') FROM (
             SELECT NULL::int AS course_id, require_success, cap_to_measured_duration AS cap FROM platform_settings WHERE platform_id = ${platformId}
             UNION ALL
             SELECT course_id, require_success, cap_to_measured_duration FROM course_settings WHERE course_id IN (SELECT course_id FROM cs)) p) AS policies,
          (SELECT coalesce(json_agg(user_id || '|' || referential_id || '|' || referential_version || '|' || validated_minutes || '|' || coalesce(required_minutes, -1)), '[]')
             FROM learner_coverage WHERE user_id = ANY(${ids})) AS before,
          (${dirtyMarksQuery(sql`user_id = ANY(${ids})`)}) AS marks,
          EXISTS (SELECT 1 FROM badge_credentials WHERE user_id = ANY(${ids}) AND status = 'active') AS pending`,
  );
  if (!loaded) throw new Error('the coverage inputs query answered no row');
  const facts = factsFrom(loaded.events, loaded.credits);
  const rules = await versionRulesFrom(deps.lookup, loaded.mappings, loaded.policies);
  const coverages: { userId: number; coverage: LearnerCoverage }[] = [];
  for (const [userId, f] of facts) {
    for (const coverage of await learnerCoverages(rules, f)) coverages.push({ userId, coverage });
  }
  const before = loaded.before.map((k) => ({ k }));
  // Nothing stored, nothing computed, no dirty mark, no badge to revoke: writing would change nothing.
  if (coverages.length === 0 && before.length === 0 && loaded.marks.length === 0 && !loaded.pending) return { missing: [...rules.missing] };
  await writeCoverage(ex, deps, platformId, unique, coverages, loaded.marks);
  // the gradebook shows validated / required hours: re-publish for the learners whose figures changed
  const after = new Set(coverages.map(({ userId, coverage: c }) => `${userId}|${c.referential.id}|${c.referential.version}|${c.validatedMinutes}|${c.requiredMinutes ?? -1}`));
  const changed = new Set<number>();
  const previous = new Set(before.map((b) => b.k));
  for (const k of after) if (!previous.has(k)) changed.add(Number(k.split('|')[0]));
  for (const k of previous) if (!after.has(k)) changed.add(Number(k.split('|')[0]));
  if (changed.size) await queueScorePublications(ex, [...changed]);
  return { missing: [...rules.missing] };
}
