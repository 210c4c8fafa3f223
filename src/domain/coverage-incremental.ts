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

export interface LearnerState {
  /** activityKey → eventKey → the valid (non-voided) events of that activity. */
  readonly events: Readonly<Record<string, Readonly<Record<string, CompletionEvent>>>>;
  /** activityKey → the activity's current state: its latest valid event. */
  readonly latest: Readonly<Record<string, CompletionEvent>>;
  /** Voided event keys. Voiding is final, and may arrive before the event it voids. */
  readonly voided: Readonly<Record<string, true>>;
  /** eventKey → the activities holding an event with that key. */
  readonly eventActivities: Readonly<Record<string, readonly string[]>>;
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

export const emptyLearnerState: LearnerState = Object.freeze({
  events: {},
  latest: {},
  voided: {},
  eventActivities: {},
  manualCredits: {},
});

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
  return coverageFromLatest(rules, Object.values(state.latest), Object.values(state.manualCredits));
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
  const events = state.events[activity];
  const existing = events?.[key];
  if (existing !== undefined && compareEvents(existing, event) >= 0) return state;
  const current = state.latest[activity];
  const latest = current === undefined || compareEvents(event, current) > 0 ? event : current;
  const holders = state.eventActivities[key] ?? [];
  return {
    ...state,
    events: { ...state.events, [activity]: { ...events, [key]: event } },
    latest: latest === current ? state.latest : { ...state.latest, [activity]: latest },
    eventActivities: holders.includes(activity)
      ? state.eventActivities
      : { ...state.eventActivities, [key]: [...holders, activity] },
  };
}

function voidEvent(state: LearnerState, key: string): LearnerState {
  if (state.voided[key]) return state;
  const events = { ...state.events };
  const latest = { ...state.latest };
  for (const activity of state.eventActivities[key] ?? []) {
    const remaining = { ...events[activity] };
    delete remaining[key];
    let best: CompletionEvent | undefined;
    for (const event of Object.values(remaining)) {
      if (best === undefined || compareEvents(event, best) > 0) best = event;
    }
    if (best === undefined) {
      delete events[activity];
      delete latest[activity];
    } else {
      events[activity] = remaining;
      latest[activity] = best;
    }
  }
  const eventActivities = { ...state.eventActivities };
  delete eventActivities[key];
  return { ...state, events, latest, eventActivities, voided: { ...state.voided, [key]: true } };
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
