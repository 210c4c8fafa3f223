import fc from 'fast-check';
import {
  cohortCoverage,
  compileRules,
  computeCoverage,
  eventKey,
  splitProportionally,
  statementKey,
  type CompletionEvent,
  type CoursePolicy,
  type LearnerCoverage,
  type ManualCredit,
  type Mapping,
  type ReferentialVersion,
} from '../../src/domain/coverage';
import {
  applyChange,
  applyToState,
  coverageFromState,
  emptyLearnerState,
  learnerStateFrom,
  type CoverageChange,
} from '../../src/domain/coverage-incremental';

/* Small pools so that collisions happen: same activity, same timestamp, same sequence, same statement id. */
const COURSES = [2, 3];
const ACTIVITIES = ['a1', 'a2', 'a3', 'a4'];
const IDS = ['s1', 's2', 's3', 's4', 's5'];

const minutesOrNull = fc.option(fc.integer({ min: 0, max: 600 }), { nil: null, freq: 2 });

const referentialArb: fc.Arbitrary<ReferentialVersion> = fc
  .record({
    total: minutesOrNull,
    domains: fc.array(
      fc.record({ required: minutesOrNull, competencies: fc.array(minutesOrNull, { minLength: 1, maxLength: 3 }) }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ total, domains }) => ({
    id: 'r',
    version: '1',
    title: 'R',
    requiredMinutes: total,
    domains: domains.map((d, i) => ({
      code: `D${i}`,
      title: `Domaine ${i}`,
      requiredMinutes: d.required,
      competencies: d.competencies.map((required, j) => ({ key: `k${i}.${j}`, code: `${i}.${j}`, title: `C${i}.${j}`, requiredMinutes: required })),
    })),
  }));

const keysOf = (r: ReferentialVersion) => [...r.domains.flatMap((d) => d.competencies.map((c) => c.key)), 'unknown'];

const mappingsArb = (r: ReferentialVersion): fc.Arbitrary<Mapping[]> =>
  fc.array(
    fc.record({
      courseId: fc.constantFrom(...COURSES),
      activityId: fc.constantFrom(...ACTIVITIES),
      competencyKey: fc.constantFrom(...keysOf(r)),
      minutes: fc.integer({ min: 0, max: 300 }),
    }),
    { maxLength: 10 },
  );

const policiesArb: fc.Arbitrary<CoursePolicy[]> = fc.array(
  fc.record({ courseId: fc.constantFrom(...COURSES), requireSuccess: fc.boolean(), capToMeasuredDuration: fc.boolean() }),
  { maxLength: 2 },
);

const eventArb: fc.Arbitrary<CompletionEvent> = fc
  .record({
    id: fc.option(fc.constantFrom(...IDS), { nil: undefined }),
    activityId: fc.constantFrom(...ACTIVITIES),
    courseId: fc.constantFrom(...COURSES),
    kind: fc.constantFrom('completed' as const, 'completed' as const, 'uncompleted' as const),
    success: fc.constantFrom(true, false, null),
    durationSeconds: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }),
    timestamp: fc.integer({ min: 0, max: 4 }).map((t) => 1_700_000_000_000 + t * 1000),
    sequence: fc.integer({ min: 0, max: 2 }),
    voided: fc.constantFrom(false, false, false, true),
  })
  .map(({ id, ...rest }) => (id === undefined ? rest : { id, ...rest }));

const manualArb = (r: ReferentialVersion): fc.Arbitrary<ManualCredit[]> =>
  fc
    .uniqueArray(
      fc.record({
        id: fc.integer({ min: 1, max: 20 }),
        competencyKey: fc.constantFrom(...keysOf(r)),
        minutes: fc.integer({ min: 0, max: 400 }),
        revoked: fc.boolean(),
        alsoRevokedCopy: fc.boolean(),
      }),
      { selector: (c) => c.id, maxLength: 4 },
    )
    .map((list) =>
      list.flatMap(({ alsoRevokedCopy, ...c }) => {
        const credit = { ...c, justification: `Justification ${c.id}` };
        return alsoRevokedCopy ? [credit, { ...credit, revoked: true }] : [credit];
      }),
    );

const scenarioArb = referentialArb.chain((referential) =>
  fc.record({
    referential: fc.constant(referential),
    mappings: mappingsArb(referential),
    policies: policiesArb,
    events: fc.array(eventArb, { maxLength: 25 }),
    voids: fc.array(fc.oneof(fc.constantFrom(...IDS).map(statementKey), fc.constant('t:nothing')), { maxLength: 3 }),
    manualCredits: manualArb(referential),
    seed: fc.integer(),
  }),
);

/** The facts a scenario describes, as the full recompute sees them: voidings marked on their targets. */
function fullEvents(events: CompletionEvent[], voids: string[]): CompletionEvent[] {
  const voided = new Set(voids);
  return events.map((e) => (voided.has(eventKey(e)) ? { ...e, voided: true } : e));
}

function changesOf(s: { events: CompletionEvent[]; voids: string[]; manualCredits: ManualCredit[] }): CoverageChange[] {
  return [
    ...s.events.map((event): CoverageChange => ({ type: 'event', event })),
    ...s.voids.map((eventKey): CoverageChange => ({ type: 'void', eventKey })),
    ...s.manualCredits.map((credit): CoverageChange => ({ type: 'manual_credit', credit })),
  ];
}

/** A deterministic shuffle from a seed. */
function shuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let x = seed | 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = Math.abs(x) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function checkInvariants(c: LearnerCoverage): void {
  for (const d of c.domains) {
    for (const k of d.competencies) {
      expect(k.validatedMinutes).toBeLessThanOrEqual(k.creditedMinutes);
      if (k.requiredMinutes !== null) expect(k.validatedMinutes).toBeLessThanOrEqual(k.requiredMinutes);
      expect(k.credits.reduce((s, x) => s + x.minutes, 0)).toBe(k.creditedMinutes);
      expect(k.covered).toBe(k.credits.length > 0);
      // an activity credits a competency once
      const activities = k.credits.flatMap((x) => (x.source === 'activity' ? [`${x.courseId} ${x.activityId}`] : []));
      expect(new Set(activities).size).toBe(activities.length);
      for (const x of k.credits) if (x.source === 'activity') expect(x.minutes).toBeLessThanOrEqual(x.nominalMinutes);
    }
    expect(d.validatedMinutes).toBeLessThanOrEqual(d.creditedMinutes);
    if (d.requiredMinutes !== null) {
      expect(d.validatedMinutes).toBeLessThanOrEqual(d.requiredMinutes);
      expect(d.missingMinutes).toBe(d.requiredMinutes - d.validatedMinutes);
    }
    expect(d.creditedMinutes).toBe(d.competencies.reduce((s, k) => s + k.creditedMinutes, 0));
  }
  expect(c.validatedMinutes).toBeLessThanOrEqual(c.creditedMinutes);
  if (c.requiredMinutes !== null) expect(c.validatedMinutes).toBeLessThanOrEqual(c.requiredMinutes);
  expect(c.hasHours).toBe(c.requiredMinutes !== null);
  expect(c.creditedMinutes).toBe(c.domains.reduce((s, d) => s + d.creditedMinutes, 0));
  const anyCredit = c.coveredCompetencies > 0;
  if (!anyCredit) expect(c.status).toBe('not_started');
  else expect(c.status === 'complete').toBe(c.gaps.length === 0 && (c.missingMinutes ?? 0) === 0 && (c.hasHours || c.coveredCompetencies === c.totalCompetencies));
}

describe('coverage rules: properties', () => {
  test('incremental (change by change, any arrival order) = full recompute, and the invariants hold', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const rules = compileRules(s.referential, s.mappings, s.policies);
        const full = computeCoverage(rules, fullEvents(s.events, s.voids), s.manualCredits);
        checkInvariants(full);
        let state = emptyLearnerState;
        const changes = changesOf(s);
        // manual credits keep their relative order (a later copy overrides an earlier one)
        const shuffled = shuffle(changes.filter((c) => c.type !== 'manual_credit'), s.seed);
        for (const change of [...shuffled, ...changes.filter((c) => c.type === 'manual_credit')]) {
          state = applyToState(state, change);
        }
        expect(coverageFromState(rules, state)).toEqual(full);
      }),
      { numRuns: 300 },
    );
  });

  test('the arrival order of events does not change the full recompute', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const rules = compileRules(s.referential, s.mappings, s.policies);
        const events = fullEvents(s.events, s.voids);
        expect(computeCoverage(rules, shuffle(events, s.seed), s.manualCredits)).toEqual(
          computeCoverage(rules, events, s.manualCredits),
        );
      }),
      { numRuns: 200 },
    );
  });

  test('re-applying the same change is idempotent (state and coverage)', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const rules = compileRules(s.referential, s.mappings, s.policies);
        let once = emptyLearnerState;
        let twice = emptyLearnerState;
        for (const change of changesOf(s)) {
          once = applyToState(once, change);
          twice = applyToState(twice, change);
          const again = applyToState(twice, change);
          expect(again).toBe(twice); // nothing changes, not even identity
        }
        // replaying the whole history changes nothing either
        let replayed = once;
        for (const change of changesOf(s)) replayed = applyToState(replayed, change);
        expect(coverageFromState(rules, replayed)).toEqual(coverageFromState(rules, once));
        expect(computeCoverage(rules, [...s.events, ...s.events], s.manualCredits)).toEqual(computeCoverage(rules, s.events, s.manualCredits));
      }),
      { numRuns: 200 },
    );
  });

  test('a mapping change applied incrementally = recompute with the new mappings', () => {
    const newMappings = fc.array(fc.record({ competencyKey: fc.constantFrom('k0.0', 'k0.1', 'unknown'), minutes: fc.integer({ min: 0, max: 200 }) }), { maxLength: 3 });
    fc.assert(
      fc.property(scenarioArb, fc.constantFrom(...COURSES), fc.constantFrom(...ACTIVITIES), newMappings, (s, courseId, activityId, mappings) => {
        const rules = compileRules(s.referential, s.mappings, s.policies);
        const state = learnerStateFrom(fullEvents(s.events, s.voids), s.manualCredits);
        const next = applyChange(rules, state, { type: 'mappings', courseId, activityId, mappings });
        const expected = compileRules(
          s.referential,
          [...s.mappings.filter((m) => m.courseId !== courseId || m.activityId !== activityId), ...mappings.map((m) => ({ ...m, courseId, activityId }))],
          s.policies,
        );
        expect(next.coverage).toEqual(computeCoverage(expected, fullEvents(s.events, s.voids), s.manualCredits));
      }),
      { numRuns: 150 },
    );
  });

  test('a granted manual credit never lowers validated minutes; a revoked one never raises them', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 500 }), fc.nat(), (s, minutes, pick) => {
        const rules = compileRules(s.referential, s.mappings, s.policies);
        const keys = keysOf(s.referential);
        const credit = { id: 99, competencyKey: keys[pick % keys.length] ?? 'unknown', minutes, justification: 'VAE', revoked: false };
        const base = computeCoverage(rules, s.events, s.manualCredits);
        const more = computeCoverage(rules, s.events, [...s.manualCredits, credit]);
        expect(more.validatedMinutes).toBeGreaterThanOrEqual(base.validatedMinutes);
        for (const [i, d] of more.domains.entries()) expect(d.validatedMinutes).toBeGreaterThanOrEqual(base.domains[i]?.validatedMinutes ?? 0);
        expect(computeCoverage(rules, s.events, [...s.manualCredits, { ...credit, revoked: true }]).validatedMinutes).toBe(base.validatedMinutes);
      }),
      { numRuns: 150 },
    );
  });

  test('the cohort helper gives each learner what the single-learner computation gives', () => {
    fc.assert(
      fc.property(referentialArb.chain((r) => fc.tuple(fc.constant(r), mappingsArb(r), fc.array(fc.array(eventArb, { maxLength: 8 }), { maxLength: 5 }))), ([r, mappings, learners]) => {
        const rules = compileRules(r, mappings);
        const results = [...cohortCoverage(rules, learners.map((events, learnerId) => ({ learnerId, events })))];
        expect(results.map((x) => x.learnerId)).toEqual(learners.map((_, i) => i));
        results.forEach(({ learnerId, coverage }) => expect(coverage).toEqual(computeCoverage(rules, learners[learnerId] ?? [])));
      }),
      { numRuns: 100 },
    );
  });

  test('the proportional split sums exactly and never exceeds a weight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 6 }), fc.nat(), (weights, n) => {
        const sum = weights.reduce((a, b) => a + b, 0);
        const total = sum === 0 ? 0 : n % (sum + 1);
        const parts = splitProportionally(total, weights);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
        parts.forEach((p, i) => {
          expect(Number.isInteger(p)).toBe(true);
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(weights[i] ?? 0);
        });
      }),
    );
  });
});
