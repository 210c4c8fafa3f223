/**
 * Incremental form of the coverage rules: a learner's derived state (the per-activity latest-event table and
 * what is needed to keep it right under voiding) is updated by one change at a time, and the coverage is
 * derived from it. `coverageFromState(rules, state)` always equals the full recompute `computeCoverage` of the
 * same facts, whatever their arrival order (property-tested). States are plain JSON-able objects, never
 * mutated: every change returns a new state sharing the untouched parts.
 */
import {
  activityKey,
  compareEvents,
  coverageFromLatest,
  eventKey,
  withActivityMappings,
  withCoursePolicy,
  type CompletionEvent,
  type CoverageRules,
  type CreditingPolicy,
  type LearnerCoverage,
  type ManualCredit,
} from './coverage';

/** The current state of one activity for the learner. */
export interface ActivityState {
  /** The latest valid event: the activity's state. */
  readonly latest: CompletionEvent;
  /** Its valid (non-voided) events, one per eventKey: what the state falls back on when the latest is voided. */
  readonly events: readonly CompletionEvent[];
}

export interface LearnerState {
  /** activityKey → the activity's state: the per-activity latest-event table. */
  readonly activities: Readonly<Record<string, ActivityState>>;
  /** Voided event keys. Voiding is final, and may arrive before the event it voids. */
  readonly voided: Readonly<Record<string, true>>;
  /** Manual credits by id. */
  readonly manualCredits: Readonly<Record<string, ManualCredit>>;
}

export type CoverageChange =
  | { type: 'event'; event: CompletionEvent }
  /** A voiding statement: its target's eventKey (statementKey(id) for a statement id). */
  | { type: 'void'; eventKey: string }
  /** A manual credit granted, or the same id revoked. */
  | { type: 'manual_credit'; credit: ManualCredit }
  /** The mappings of one activity replaced (an empty list removes them). */
  | { type: 'mappings'; courseId: number; activityId: string; mappings: { competencyKey: string; minutes: number }[] }
  | { type: 'policy'; courseId: number; policy: CreditingPolicy };

export const emptyLearnerState: LearnerState = Object.freeze({ activities: {}, voided: {}, manualCredits: {} });

/** Applies a change to the learner's facts (a mapping or policy change leaves the state as it is). */
export function applyToState(state: LearnerState, change: CoverageChange): LearnerState {
  switch (change.type) {
    case 'event':
      return change.event.voided ? voidEvent(state, eventKey(change.event)) : addEvent(state, change.event);
    case 'void':
      return voidEvent(state, change.eventKey);
    case 'manual_credit': {
      const key = String(change.credit.id);
      const existing = state.manualCredits[key];
      const credit = existing?.revoked ? { ...change.credit, revoked: true } : change.credit;
      if (existing !== undefined && sameCredit(existing, credit)) return state;
      return { ...state, manualCredits: { ...state.manualCredits, [key]: credit } };
    }
    case 'mappings':
    case 'policy':
      return state;
  }
}

/** Applies a change to the rules (mappings and policies; facts leave them as they are). */
export function applyToRules(rules: CoverageRules, change: CoverageChange): CoverageRules {
  switch (change.type) {
    case 'mappings':
      return withActivityMappings(rules, change.courseId, change.activityId, change.mappings);
    case 'policy':
      return withCoursePolicy(rules, change.courseId, change.policy);
    default:
      return rules;
  }
}

/** One change → the new rules, state and coverage. */
export function applyChange(
  rules: CoverageRules,
  state: LearnerState,
  change: CoverageChange,
): { rules: CoverageRules; state: LearnerState; coverage: LearnerCoverage } {
  const nextRules = applyToRules(rules, change);
  const nextState = applyToState(state, change);
  return { rules: nextRules, state: nextState, coverage: coverageFromState(nextRules, nextState) };
}

export function coverageFromState(rules: CoverageRules, state: LearnerState): LearnerCoverage {
  return coverageFromLatest(
    rules,
    Object.values(state.activities).map((a) => a.latest),
    Object.values(state.manualCredits),
  );
}

/** The state of a learner built from their facts, change by change. */
export function learnerStateFrom(events: Iterable<CompletionEvent>, manualCredits: Iterable<ManualCredit> = []) {
  let state = emptyLearnerState;
  for (const event of events) state = applyToState(state, { type: 'event', event });
  for (const credit of manualCredits) state = applyToState(state, { type: 'manual_credit', credit });
  return state;
}

function addEvent(state: LearnerState, event: CompletionEvent): LearnerState {
  const key = eventKey(event);
  if (state.voided[key]) return state;
  const activity = activityKey(event.courseId, event.activityId);
  const current = state.activities[activity];
  let next: ActivityState;
  if (current === undefined) {
    next = { latest: event, events: [event] };
  } else {
    const index = current.events.findIndex((e) => eventKey(e) === key);
    const existing = index < 0 ? undefined : current.events[index];
    // the same event again changes nothing; two contents under one key: the later-ordered one is kept
    if (existing !== undefined && compareEvents(existing, event) >= 0) return state;
    const events = index < 0 ? [...current.events, event] : current.events.map((e, i) => (i === index ? event : e));
    next = { latest: compareEvents(event, current.latest) > 0 ? event : current.latest, events };
  }
  return { ...state, activities: { ...state.activities, [activity]: next } };
}

function voidEvent(state: LearnerState, key: string): LearnerState {
  if (state.voided[key]) return state;
  let activities: Record<string, ActivityState> | null = null;
  for (const [activity, current] of Object.entries(state.activities)) {
    const events = current.events.filter((e) => eventKey(e) !== key);
    if (events.length === current.events.length) continue;
    activities ??= { ...state.activities };
    let latest: CompletionEvent | undefined;
    for (const e of events) if (latest === undefined || compareEvents(e, latest) > 0) latest = e;
    if (latest === undefined) delete activities[activity];
    else activities[activity] = { latest, events };
  }
  return { ...state, activities: activities ?? state.activities, voided: { ...state.voided, [key]: true } };
}

function sameCredit(a: ManualCredit, b: ManualCredit): boolean {
  return (
    a.id === b.id &&
    a.competencyKey === b.competencyKey &&
    a.minutes === b.minutes &&
    a.justification === b.justification &&
    a.revoked === b.revoked
  );
}
