/**
 * Crediting and coverage rules (règles de crédit et de couverture): pure functions, no I/O.
 * The rules are documented in docs/coverage-rules.md; this file is their single implementation.
 *
 * Use: `compileRules(referential, mappings, policies)` once, then `computeCoverage(rules, events, manualCredits)`
 * per learner (full recompute), `cohortCoverage` for many learners, or the incremental form in
 * coverage-incremental.ts. All share `coverageFromLatest`, which turns the latest event of each activity into
 * credits.
 */
import {
  DEFAULT_POLICY,
  type CompletionEvent,
  type CoursePolicy,
  type CreditingPolicy,
  type ManualCredit,
  type Mapping,
  type ReferentialVersion,
} from './coverage-input';
import type { TitledReferentialRef } from './referential';

export * from './coverage-input';

export type CoverageStatus = 'not_started' | 'in_progress' | 'complete';

export interface ActivityCredit {
  source: 'activity';
  courseId: number;
  activityId: string;
  /** Timestamp (epoch ms) of the completion that is the activity's current state. */
  completedAt: number;
  /** Minutes credited to this competency. */
  minutes: number;
  /** Minutes the mapping grants before any cap to the measured duration. */
  nominalMinutes: number;
}

export interface ManualCreditEntry {
  source: 'manual';
  manualCreditId: number;
  minutes: number;
  justification: string;
}

export type CreditEntry = ActivityCredit | ManualCreditEntry;

export interface CompetencyCoverage {
  key: string;
  code: string;
  title: string;
  requiredMinutes: number | null;
  /** Sum of the credits, before the competency's own cap. */
  creditedMinutes: number;
  /** min(credited, requiredMinutes) when the competency has hours, else credited. */
  validatedMinutes: number;
  /** At least one credit (activity or manual), whatever its minutes. */
  covered: boolean;
  credits: CreditEntry[];
}

export interface DomainCoverage {
  code: string;
  title: string;
  /** The domain's hours, or the sum of its competencies' hours when the domain has none; null: no hours. */
  requiredMinutes: number | null;
  /** Sum of the competencies' credited minutes (before any cap). */
  creditedMinutes: number;
  /** Sum of the competencies' validated minutes, capped at requiredMinutes. */
  validatedMinutes: number;
  /** requiredMinutes - validatedMinutes, or null without hours. */
  missingMinutes: number | null;
  coveredCompetencies: number;
  totalCompetencies: number;
  status: CoverageStatus;
  competencies: CompetencyCoverage[];
}

export interface CoverageGap {
  domainCode: string;
  domainTitle: string;
  /** Minutes still to validate in the domain; null in a référentiel without hours. */
  missingMinutes: number | null;
  /** Competencies with no credit (référentiel without hours) or below their own hours (with hours). */
  missingCompetencyKeys: string[];
}

export type CoverageWarning =
  | { code: 'unknown_competency'; source: 'mapping'; courseId: number; activityId: string; competencyKey: string }
  | { code: 'unknown_competency'; source: 'manual_credit'; manualCreditId: number; competencyKey: string }
  | { code: 'duplicate_mapping'; courseId: number; activityId: string; competencyKey: string }
  | { code: 'duplicate_competency_key'; competencyKey: string }
  | { code: 'required_minutes_mismatch'; declaredMinutes: number; domainsMinutes: number };

export interface LearnerCoverage {
  referential: TitledReferentialRef;
  /** false for référentiels without hours (certification blocks): coverage is then by competencies. */
  hasHours: boolean;
  requiredMinutes: number | null;
  creditedMinutes: number;
  /** Sum of the domains' validated minutes, capped at requiredMinutes. */
  validatedMinutes: number;
  missingMinutes: number | null;
  coveredCompetencies: number;
  totalCompetencies: number;
  status: CoverageStatus;
  domains: DomainCoverage[];
  gaps: CoverageGap[];
  warnings: CoverageWarning[];
}

interface CompiledCompetency {
  index: number;
  key: string;
  code: string;
  title: string;
  requiredMinutes: number | null;
}

interface CompiledDomain {
  code: string;
  title: string;
  requiredMinutes: number | null;
  competencies: CompiledCompetency[];
}

export interface ResolvedMapping {
  courseId: number;
  activityId: string;
  competencyIndex: number;
  competencyKey: string;
  minutes: number;
}

/** A référentiel version, its mappings and crediting policies, indexed once for many learners. */
export interface CoverageRules {
  readonly referential: ReferentialVersion;
  readonly hasHours: boolean;
  readonly requiredMinutes: number | null;
  readonly domains: readonly CompiledDomain[];
  readonly competencyCount: number;
  readonly competencyIndex: ReadonlyMap<string, number>;
  /** activityId → courseId → its mappings to known competencies, sorted by key, duplicates summed. */
  readonly mappingsByActivity: ReadonlyMap<string, ReadonlyMap<number, readonly ResolvedMapping[]>>;
  readonly mappings: readonly Mapping[];
  readonly policies: ReadonlyMap<number, CreditingPolicy>;
  readonly defaultPolicy: CreditingPolicy;
  readonly warnings: readonly CoverageWarning[];
}

/** The identity of an activity for a learner: its course and its id. */
export function activityKey(courseId: number, activityId: string): string {
  return `${courseId} ${activityId}`;
}

/**
 * The identity of an event, for voiding and de-duplication: its statement id when it has one, else its content
 * (the same completion received twice is one event).
 */
export function eventKey(event: CompletionEvent): string {
  if (event.id !== undefined) return statementKey(event.id);
  return `t:${event.courseId}|${event.timestamp}|${event.sequence}|${event.kind}|${event.success}|${event.durationSeconds}|${event.activityId}`;
}

/** The event key of a statement id (what a voiding statement refers to). */
export function statementKey(statementId: string): string {
  return `id:${statementId}`;
}

const successRank = (success: boolean | null): number => (success === true ? 2 : success === null ? 1 : 0);

/**
 * The total order of the events of one activity: timestamp, then sequence; remaining ties (which only
 * distinct events with equal timestamp and sequence reach) are broken by content, then key, so the outcome
 * never depends on arrival order. Positive when a is later than b.
 */
export function compareEvents(a: CompletionEvent, b: CompletionEvent): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  if (a.sequence !== b.sequence) return a.sequence < b.sequence ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === 'completed' ? 1 : -1;
  if (a.success !== b.success) return successRank(a.success) - successRank(b.success);
  if (a.durationSeconds !== b.durationSeconds) {
    if (a.durationSeconds === null) return -1;
    if (b.durationSeconds === null) return 1;
    return a.durationSeconds < b.durationSeconds ? -1 : 1;
  }
  const ka = eventKey(a);
  const kb = eventKey(b);
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

export function compileRules(
  referential: ReferentialVersion,
  mappings: readonly Mapping[] = [],
  policies: readonly CoursePolicy[] = [],
  defaultPolicy: CreditingPolicy = DEFAULT_POLICY,
): CoverageRules {
  const warnings: CoverageWarning[] = [];
  const competencyIndex = new Map<string, number>();
  let next = 0;
  const domains: CompiledDomain[] = referential.domains.map((domain) => {
    const competencies: CompiledCompetency[] = [];
    for (const competency of domain.competencies) {
      if (competencyIndex.has(competency.key)) {
        warnings.push({ code: 'duplicate_competency_key', competencyKey: competency.key });
        continue;
      }
      const compiled = { index: next++, ...pick(competency) };
      competencyIndex.set(competency.key, compiled.index);
      competencies.push(compiled);
    }
    const own = competencies.filter((c) => c.requiredMinutes !== null);
    const requiredMinutes =
      domain.requiredMinutes ?? (own.length > 0 ? own.reduce((sum, c) => sum + (c.requiredMinutes ?? 0), 0) : null);
    return { code: domain.code, title: domain.title, requiredMinutes, competencies };
  });
  const withHours = domains.filter((d) => d.requiredMinutes !== null);
  const domainsMinutes = withHours.reduce((sum, d) => sum + (d.requiredMinutes ?? 0), 0);
  const requiredMinutes = referential.requiredMinutes ?? (withHours.length > 0 ? domainsMinutes : null);
  if (referential.requiredMinutes !== null && withHours.length > 0 && domainsMinutes !== referential.requiredMinutes) {
    warnings.push({ code: 'required_minutes_mismatch', declaredMinutes: referential.requiredMinutes, domainsMinutes });
  }

  const grouped = new Map<string, Map<string, ResolvedMapping>>();
  const unknown = new Map<string, CoverageWarning>();
  for (const mapping of mappings) {
    const competency = competencyIndex.get(mapping.competencyKey);
    if (competency === undefined) {
      const w: CoverageWarning = {
        code: 'unknown_competency',
        source: 'mapping',
        courseId: mapping.courseId,
        activityId: mapping.activityId,
        competencyKey: mapping.competencyKey,
      };
      unknown.set(`${activityKey(mapping.courseId, mapping.activityId)}\n${mapping.competencyKey}`, w);
      continue;
    }
    const key = activityKey(mapping.courseId, mapping.activityId);
    let byCompetency = grouped.get(key);
    if (!byCompetency) grouped.set(key, (byCompetency = new Map()));
    const existing = byCompetency.get(mapping.competencyKey);
    if (existing) {
      existing.minutes += mapping.minutes;
      warnings.push({
        code: 'duplicate_mapping',
        courseId: mapping.courseId,
        activityId: mapping.activityId,
        competencyKey: mapping.competencyKey,
      });
    } else {
      byCompetency.set(mapping.competencyKey, {
        courseId: mapping.courseId,
        activityId: mapping.activityId,
        competencyIndex: competency,
        competencyKey: mapping.competencyKey,
        minutes: mapping.minutes,
      });
    }
  }
  const mappingsByActivity = new Map<string, Map<number, readonly ResolvedMapping[]>>();
  for (const byCompetency of grouped.values()) {
    const list = [...byCompetency.values()].sort((a, b) => cmp(a.competencyKey, b.competencyKey));
    const first = list[0];
    if (first === undefined) continue;
    let byCourse = mappingsByActivity.get(first.activityId);
    if (!byCourse) mappingsByActivity.set(first.activityId, (byCourse = new Map()));
    byCourse.set(first.courseId, list);
  }
  const sortedUnknown = [...unknown.entries()].sort(([a], [b]) => cmp(a, b)).map(([, w]) => w);

  const policyMap = new Map<number, CreditingPolicy>();
  for (const p of policies) {
    policyMap.set(p.courseId, { requireSuccess: p.requireSuccess, capToMeasuredDuration: p.capToMeasuredDuration });
  }
  return {
    referential,
    hasHours: requiredMinutes !== null,
    requiredMinutes,
    domains,
    competencyCount: next,
    competencyIndex,
    mappingsByActivity,
    mappings,
    policies: policyMap,
    defaultPolicy,
    warnings: [...warnings, ...sortedUnknown],
  };
}

/** The same rules with the mappings of one activity replaced (a mapping change). */
export function withActivityMappings(
  rules: CoverageRules,
  courseId: number,
  activityId: string,
  mappings: readonly { competencyKey: string; minutes: number }[],
): CoverageRules {
  const kept = rules.mappings.filter((m) => m.courseId !== courseId || m.activityId !== activityId);
  const added = mappings.map((m) => ({ courseId, activityId, competencyKey: m.competencyKey, minutes: m.minutes }));
  return recompile(rules, [...kept, ...added], rules.policies);
}

/** The same rules with one course's crediting policy replaced. */
export function withCoursePolicy(rules: CoverageRules, courseId: number, policy: CreditingPolicy): CoverageRules {
  const policies = new Map(rules.policies);
  policies.set(courseId, { requireSuccess: policy.requireSuccess, capToMeasuredDuration: policy.capToMeasuredDuration });
  return recompile(rules, rules.mappings, policies);
}

function recompile(rules: CoverageRules, mappings: readonly Mapping[], policies: ReadonlyMap<number, CreditingPolicy>) {
  const list = [...policies].map(([courseId, p]) => ({ courseId, ...p }));
  return compileRules(rules.referential, mappings, list, rules.defaultPolicy);
}

/** The mappings of one activity of one course to the référentiel's competencies. */
export function mappingsFor(rules: CoverageRules, courseId: number, activityId: string): readonly ResolvedMapping[] {
  return rules.mappingsByActivity.get(activityId)?.get(courseId) ?? [];
}

export function policyFor(rules: CoverageRules, courseId: number): CreditingPolicy {
  return rules.policies.get(courseId) ?? rules.defaultPolicy;
}

/**
 * The latest event of each activity among valid (non-voided) events: an event marked voided voids every copy
 * of itself (same eventKey), and the activity falls back to its latest other valid event.
 */
export function latestEvents(events: Iterable<CompletionEvent>): CompletionEvent[] {
  const all: readonly CompletionEvent[] = Array.isArray(events) ? events : [...events];
  let voided: Set<string> | null = null;
  for (const event of all) if (event.voided) (voided ??= new Set()).add(eventKey(event));
  // activityId → the latest event per course (almost always one course): no key strings built per event
  const best = new Map<string, CompletionEvent[]>();
  for (const event of all) {
    if (event.voided || (voided !== null && voided.has(eventKey(event)))) continue;
    const list = best.get(event.activityId);
    if (list === undefined) {
      best.set(event.activityId, [event]);
      continue;
    }
    const i = list.findIndex((e) => e.courseId === event.courseId);
    if (i < 0) list.push(event);
    else if (compareEvents(event, list[i] as CompletionEvent) > 0) list[i] = event;
  }
  const latest: CompletionEvent[] = [];
  for (const list of best.values()) for (const event of list) latest.push(event);
  return latest;
}

/** Manual credits by id, later copies overriding earlier ones except that a revocation sticks. */
export function mergeManualCredits(credits: Iterable<ManualCredit>): Map<number, ManualCredit> {
  const byId = new Map<number, ManualCredit>();
  for (const credit of credits) {
    const existing = byId.get(credit.id);
    byId.set(credit.id, existing?.revoked ? { ...credit, revoked: true } : credit);
  }
  return byId;
}

/** Full recompute of one learner's coverage from all their events and manual credits. */
export function computeCoverage(
  rules: CoverageRules,
  events: Iterable<CompletionEvent>,
  manualCredits: Iterable<ManualCredit> = [],
): LearnerCoverage {
  return coverageFromLatest(rules, latestEvents(events), mergeManualCredits(manualCredits).values());
}

/** Convenience: compile and compute in one call (for one learner; compile once for many). */
export function computeLearnerCoverage(input: {
  referential: ReferentialVersion;
  mappings: readonly Mapping[];
  policies?: readonly CoursePolicy[];
  defaultPolicy?: CreditingPolicy;
  events: Iterable<CompletionEvent>;
  manualCredits?: Iterable<ManualCredit>;
}): LearnerCoverage {
  const rules = compileRules(input.referential, input.mappings, input.policies, input.defaultPolicy);
  return computeCoverage(rules, input.events, input.manualCredits);
}

/**
 * Splits `total` minutes across parts proportionally to `weights` (largest remainder, ties to the earlier
 * part), so the parts are integers summing exactly to `total`. Requires total ≤ sum(weights).
 */
export function splitProportionally(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (sum === 0) return weights.map(() => 0);
  const parts = weights.map((w) => Math.floor((total * w) / sum));
  let rest = total - parts.reduce((s, p) => s + p, 0);
  if (rest > 0) {
    const order = weights
      .map((w, i) => ({ i, r: (total * w) % sum }))
      .sort((a, b) => b.r - a.r || a.i - b.i);
    for (const { i } of order) {
      if (rest === 0) break;
      parts[i] = (parts[i] ?? 0) + 1;
      rest--;
    }
  }
  return parts;
}

/** Minutes each mapping of an activity credits for its current state, or null when it credits nothing. */
export function activityCredits(
  rules: CoverageRules,
  latest: CompletionEvent,
): { mappings: readonly ResolvedMapping[]; minutes: number[] } | null {
  if (latest.kind !== 'completed' || latest.voided) return null;
  const mappings = mappingsFor(rules, latest.courseId, latest.activityId);
  if (mappings.length === 0) return null;
  const policy = policyFor(rules, latest.courseId);
  if (policy.requireSuccess && latest.success === false) return null;
  const nominal = mappings.map((m) => m.minutes);
  if (!policy.capToMeasuredDuration || latest.durationSeconds === null) return { mappings, minutes: nominal };
  const total = nominal.reduce((s, m) => s + m, 0);
  const measured = Math.floor(latest.durationSeconds / 60);
  if (measured >= total) return { mappings, minutes: nominal };
  return { mappings, minutes: splitProportionally(measured, nominal) };
}

/**
 * The coverage from the current state of each activity (at most one event per activity, see latestEvents)
 * and the learner's manual credits (unique ids).
 */
export function coverageFromLatest(
  rules: CoverageRules,
  latest: Iterable<CompletionEvent>,
  manualCredits: Iterable<ManualCredit>,
): LearnerCoverage {
  const n = rules.competencyCount;
  const credited = new Array<number>(n).fill(0);
  const credits: (CreditEntry[] | undefined)[] = new Array(n);
  const warnings: CoverageWarning[] = [...rules.warnings];

  const activities: CompletionEvent[] = [];
  for (const event of latest) activities.push(event);
  activities.sort(
    (a, b) => a.timestamp - b.timestamp || a.courseId - b.courseId || cmp(a.activityId, b.activityId),
  );
  for (const event of activities) {
    const result = activityCredits(rules, event);
    if (result === null) continue;
    result.mappings.forEach((mapping, i) => {
      const minutes = result.minutes[i] ?? 0;
      credited[mapping.competencyIndex] = (credited[mapping.competencyIndex] ?? 0) + minutes;
      (credits[mapping.competencyIndex] ??= []).push({
        source: 'activity',
        courseId: event.courseId,
        activityId: event.activityId,
        completedAt: event.timestamp,
        minutes,
        nominalMinutes: mapping.minutes,
      });
    });
  }

  const manual = [...manualCredits].sort((a, b) => a.id - b.id);
  for (const credit of manual) {
    if (credit.revoked) continue;
    const index = rules.competencyIndex.get(credit.competencyKey);
    if (index === undefined) {
      warnings.push({
        code: 'unknown_competency',
        source: 'manual_credit',
        manualCreditId: credit.id,
        competencyKey: credit.competencyKey,
      });
      continue;
    }
    credited[index] = (credited[index] ?? 0) + credit.minutes;
    (credits[index] ??= []).push({
      source: 'manual',
      manualCreditId: credit.id,
      minutes: credit.minutes,
      justification: credit.justification,
    });
  }

  let anyCredit = false;
  let totalCredited = 0;
  let domainsValidated = 0;
  let covered = 0;
  let totalCompetencies = 0;
  const gaps: CoverageGap[] = [];
  const domains: DomainCoverage[] = rules.domains.map((domain) => {
    let domainCredited = 0;
    let domainValidated = 0;
    let domainCovered = 0;
    const missingKeys: string[] = [];
    const competencies = domain.competencies.map((c): CompetencyCoverage => {
      const creditedMinutes = credited[c.index] ?? 0;
      const list = credits[c.index] ?? [];
      const validatedMinutes = c.requiredMinutes === null ? creditedMinutes : Math.min(creditedMinutes, c.requiredMinutes);
      const isCovered = list.length > 0;
      domainCredited += creditedMinutes;
      domainValidated += validatedMinutes;
      if (isCovered) domainCovered++;
      if (rules.hasHours ? c.requiredMinutes !== null && validatedMinutes < c.requiredMinutes : !isCovered) {
        missingKeys.push(c.key);
      }
      return {
        key: c.key,
        code: c.code,
        title: c.title,
        requiredMinutes: c.requiredMinutes,
        creditedMinutes,
        validatedMinutes,
        covered: isCovered,
        credits: list,
      };
    });
    const required = domain.requiredMinutes;
    const validated = required === null ? domainValidated : Math.min(domainValidated, required);
    const missingMinutes = required === null ? null : required - validated;
    const total = competencies.length;
    const status: CoverageStatus =
      domainCovered === 0
        ? 'not_started'
        : (required !== null && rules.hasHours ? validated >= required : domainCovered === total)
          ? 'complete'
          : 'in_progress';
    if (domainCovered > 0) anyCredit = true;
    totalCredited += domainCredited;
    domainsValidated += validated;
    covered += domainCovered;
    totalCompetencies += total;
    const hasGap = rules.hasHours ? (missingMinutes ?? 0) > 0 : missingKeys.length > 0;
    if (hasGap) {
      gaps.push({
        domainCode: domain.code,
        domainTitle: domain.title,
        missingMinutes: rules.hasHours ? missingMinutes : null,
        missingCompetencyKeys: missingKeys,
      });
    }
    return {
      code: domain.code,
      title: domain.title,
      requiredMinutes: rules.hasHours ? required : null,
      creditedMinutes: domainCredited,
      validatedMinutes: validated,
      missingMinutes: rules.hasHours ? missingMinutes : null,
      coveredCompetencies: domainCovered,
      totalCompetencies: total,
      status,
      competencies,
    };
  });

  const required = rules.requiredMinutes;
  const validatedMinutes = required === null ? domainsValidated : Math.min(domainsValidated, required);
  const missingMinutes = required === null ? null : required - validatedMinutes;
  const complete = rules.hasHours
    ? missingMinutes === 0 && domains.every((d) => d.missingMinutes === null || d.missingMinutes === 0)
    : covered === totalCompetencies && totalCompetencies > 0;
  return {
    referential: { id: rules.referential.id, version: rules.referential.version, title: rules.referential.title },
    hasHours: rules.hasHours,
    requiredMinutes: required,
    creditedMinutes: totalCredited,
    validatedMinutes,
    missingMinutes,
    coveredCompetencies: covered,
    totalCompetencies,
    status: !anyCredit ? 'not_started' : complete ? 'complete' : 'in_progress',
    domains,
    gaps,
    warnings,
  };
}

export interface CohortLearner<Id> {
  learnerId: Id;
  events: Iterable<CompletionEvent>;
  manualCredits?: Iterable<ManualCredit>;
}

/** Coverage of many learners with rules compiled once; yields as it goes (nothing kept between learners). */
export function* cohortCoverage<Id>(
  rules: CoverageRules,
  learners: Iterable<CohortLearner<Id>>,
): Generator<{ learnerId: Id; coverage: LearnerCoverage }> {
  for (const learner of learners) {
    yield { learnerId: learner.learnerId, coverage: computeCoverage(rules, learner.events, learner.manualCredits) };
  }
}

/** Groups flat fact rows (as read from a table) by learner, keeping their order. */
export function groupByLearner<Id, Row extends { learnerId: Id }>(rows: Iterable<Row>): Map<Id, Row[]> {
  const groups = new Map<Id, Row[]>();
  for (const row of rows) {
    let list = groups.get(row.learnerId);
    if (!list) groups.set(row.learnerId, (list = []));
    list.push(row);
  }
  return groups;
}

function pick(c: { key: string; code: string; title: string; requiredMinutes: number | null }) {
  return { key: c.key, code: c.code, title: c.title, requiredMinutes: c.requiredMinutes };
}

function cmp(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
