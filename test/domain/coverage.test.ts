import {
  compileRules,
  computeCoverage,
  computeLearnerCoverage,
  completionEventSchema,
  manualCreditSchema,
  mappingSchema,
  referentialVersionSchema,
  splitProportionally,
  statementKey,
  cohortCoverage,
  groupByLearner,
  type CompletionEvent,
  type CoursePolicy,
  type LearnerCoverage,
  type ManualCredit,
  type Mapping,
  type ReferentialVersion,
} from '../../src/domain/coverage';
import { applyChange, coverageFromState, emptyLearnerState, learnerStateFrom } from '../../src/domain/coverage-incremental';
import { activity, arm18, ev, perCompetency, rncpBlocks, socle28 } from './coverage-fixtures';

const A1 = activity(11);
const A2 = activity(12);
const A3 = activity(13);

function cover(
  referential: ReferentialVersion,
  mappings: Mapping[],
  events: CompletionEvent[],
  options: { manualCredits?: ManualCredit[]; policies?: CoursePolicy[] } = {},
): LearnerCoverage {
  return computeLearnerCoverage({ referential, mappings, events, ...options });
}

const map = (activityId: string, competencyKey: string, minutes: number, courseId = 2): Mapping => ({
  courseId,
  activityId,
  competencyKey,
  minutes,
});

const domain = (c: LearnerCoverage, code: string) => {
  const d = c.domains.find((x) => x.code === code);
  if (!d) throw new Error(`no domain ${code}`);
  return d;
};
const competency = (c: LearnerCoverage, key: string) => {
  for (const d of c.domains) for (const k of d.competencies) if (k.key === key) return k;
  throw new Error(`no competency ${key}`);
};

describe('coverage rules: 28 h référentiel', () => {
  test('a learner with no facts has not started; every domain is a gap of its full hours', () => {
    const c = cover(socle28, [map(A1, '1.1', 90)], []);
    expect(c).toMatchObject({
      hasHours: true,
      requiredMinutes: 1680,
      creditedMinutes: 0,
      validatedMinutes: 0,
      missingMinutes: 1680,
      status: 'not_started',
      coveredCompetencies: 0,
      totalCompetencies: 15,
      warnings: [],
    });
    expect(c.gaps.map((g) => [g.domainCode, g.missingMinutes])).toEqual([
      ['1', 360],
      ['2', 300],
      ['3', 300],
      ['4', 360],
      ['5', 360],
    ]);
    expect(c.domains.every((d) => d.status === 'not_started')).toBe(true);
  });

  test('a completed mapped activity credits its minutes, with the activity, course and date', () => {
    const c = cover(socle28, [map(A1, '1.1', 90)], [ev({ activityId: A1, timestamp: 1_700_000_000_000 })]);
    expect(competency(c, '1.1')).toMatchObject({ creditedMinutes: 90, validatedMinutes: 90, covered: true });
    expect(competency(c, '1.1').credits).toEqual([
      { source: 'activity', courseId: 2, activityId: A1, completedAt: 1_700_000_000_000, minutes: 90, nominalMinutes: 90 },
    ]);
    expect(domain(c, '1')).toMatchObject({ creditedMinutes: 90, validatedMinutes: 90, missingMinutes: 270, status: 'in_progress' });
    expect(c).toMatchObject({ validatedMinutes: 90, missingMinutes: 1590, status: 'in_progress' });
    expect(c.gaps[0]).toEqual({ domainCode: '1', domainTitle: 'Données de santé', missingMinutes: 270, missingCompetencyKeys: [] });
  });

  test('an unmapped activity credits nothing', () => {
    const c = cover(socle28, [map(A1, '1.1', 90)], [ev({ activityId: A2, timestamp: 1 })]);
    expect(c.status).toBe('not_started');
    expect(c.creditedMinutes).toBe(0);
  });

  test('an activity credits once however many times it is completed; the date is its current completion', () => {
    const events = [1000, 5000, 3000].map((timestamp) => ev({ activityId: A1, timestamp }));
    const c = cover(socle28, [map(A1, '1.1', 90)], events);
    expect(competency(c, '1.1').credits).toHaveLength(1);
    expect(competency(c, '1.1').credits[0]).toMatchObject({ completedAt: 5000, minutes: 90 });
    expect(c.creditedMinutes).toBe(90);
  });

  test('an uncompletion after the completion retracts it; a later completion credits again', () => {
    const m = [map(A1, '1.1', 90)];
    const done = ev({ activityId: A1, timestamp: 1000 });
    const undone = ev({ activityId: A1, timestamp: 2000, kind: 'uncompleted' });
    expect(cover(socle28, m, [done, undone]).creditedMinutes).toBe(0);
    expect(cover(socle28, m, [undone, done]).creditedMinutes).toBe(0); // arrival order does not matter
    expect(cover(socle28, m, [done, undone, ev({ activityId: A1, timestamp: 3000 })]).creditedMinutes).toBe(90);
  });

  test("Moodle's view completion (uncompleted then completed, same second) is decided by the position in the batch", () => {
    const m = [map(A1, '1.1', 90)];
    const t = 1_700_000_000_000;
    const batch = [
      ev({ activityId: A1, timestamp: t, sequence: 0, kind: 'uncompleted' }),
      ev({ activityId: A1, timestamp: t, sequence: 1, kind: 'completed' }),
    ];
    expect(cover(socle28, m, batch).creditedMinutes).toBe(90);
    expect(cover(socle28, m, [...batch].reverse()).creditedMinutes).toBe(90);
    const undo = [
      ev({ activityId: A1, timestamp: t, sequence: 0, kind: 'completed' }),
      ev({ activityId: A1, timestamp: t, sequence: 1, kind: 'uncompleted' }),
    ];
    expect(cover(socle28, m, undo).creditedMinutes).toBe(0);
  });

  test('a voided completion no longer credits, but another valid completion of the same activity still does', () => {
    const m = [map(A1, '1.1', 90)];
    const first = ev({ id: 's1', activityId: A1, timestamp: 1000 });
    const second = ev({ id: 's2', activityId: A1, timestamp: 2000 });
    expect(cover(socle28, m, [{ ...first, voided: true }]).creditedMinutes).toBe(0);
    const c = cover(socle28, m, [first, { ...second, voided: true }]);
    expect(competency(c, '1.1').credits).toEqual([expect.objectContaining({ completedAt: 1000, minutes: 90 })]);
    // a voided copy voids every copy of the same statement
    expect(cover(socle28, m, [first, { ...first, voided: true }]).creditedMinutes).toBe(0);
    // a voided uncompletion lets the earlier completion count again
    const undo = ev({ id: 's3', activityId: A1, timestamp: 3000, kind: 'uncompleted' });
    expect(cover(socle28, m, [first, undo]).creditedMinutes).toBe(0);
    expect(cover(socle28, m, [first, { ...undo, voided: true }]).creditedMinutes).toBe(90);
  });

  test('a domain counts at most its required hours toward the total', () => {
    const c = cover(
      socle28,
      [map(A1, '1.1', 600), map(A2, '2.1', 60)],
      [ev({ activityId: A1, timestamp: 1 }), ev({ activityId: A2, timestamp: 2 })],
    );
    expect(domain(c, '1')).toMatchObject({ requiredMinutes: 360, creditedMinutes: 600, validatedMinutes: 360, missingMinutes: 0, status: 'complete' });
    expect(competency(c, '1.1')).toMatchObject({ creditedMinutes: 600, validatedMinutes: 600 }); // no own hours: no cap
    expect(c).toMatchObject({ creditedMinutes: 660, validatedMinutes: 420, missingMinutes: 1260, status: 'in_progress' });
    expect(c.gaps.map((g) => g.domainCode)).toEqual(['2', '3', '4', '5']);
  });

  test('every domain at its hours: complete, no gap, validated = required', () => {
    const keys = ['1.1', '2.1', '3.1', '4.1', '5.1'];
    const hours = [6, 5, 5, 6, 6];
    const mappings = keys.map((k, i) => map(activity(100 + i), k, (hours[i] ?? 0) * 60 + 30));
    const events = keys.map((_, i) => ev({ activityId: activity(100 + i), timestamp: i }));
    const c = cover(socle28, mappings, events);
    expect(c).toMatchObject({ status: 'complete', validatedMinutes: 1680, requiredMinutes: 1680, missingMinutes: 0, gaps: [] });
    expect(c.creditedMinutes).toBe(1680 + 5 * 30);
  });

  test('an activity may split its hours across competencies of different domains', () => {
    const c = cover(socle28, [map(A1, '2.2', 45), map(A1, '5.1', 75)], [ev({ activityId: A1, timestamp: 1 })]);
    expect(competency(c, '2.2').validatedMinutes).toBe(45);
    expect(competency(c, '5.1').validatedMinutes).toBe(75);
    expect(c.validatedMinutes).toBe(120);
  });

  test('hours follow the learner across courses of the platform', () => {
    const c = cover(
      socle28,
      [map(A1, '3.1', 60, 2), map(A2, '3.1', 90, 7)],
      [ev({ activityId: A1, courseId: 2, timestamp: 1 }), ev({ activityId: A2, courseId: 7, timestamp: 2 })],
    );
    expect(competency(c, '3.1')).toMatchObject({ creditedMinutes: 150, validatedMinutes: 150 });
    expect(competency(c, '3.1').credits.map((x) => x.source === 'activity' && x.courseId)).toEqual([2, 7]);
  });

  test('a completion in a course where the activity is not mapped credits nothing', () => {
    const c = cover(socle28, [map(A1, '3.1', 60, 2)], [ev({ activityId: A1, courseId: 9, timestamp: 1 })]);
    expect(c.creditedMinutes).toBe(0);
  });

  test('a mapping to a competency the référentiel lacks is ignored and reported, never thrown', () => {
    const c = cover(socle28, [map(A1, '9.9', 60), map(A1, '1.2', 30)], [ev({ activityId: A1, timestamp: 1 })]);
    expect(c.creditedMinutes).toBe(30);
    expect(c.warnings).toEqual([{ code: 'unknown_competency', source: 'mapping', courseId: 2, activityId: A1, competencyKey: '9.9' }]);
  });

  test('duplicate mappings of one activity to one competency add up, with a warning', () => {
    const c = cover(socle28, [map(A1, '1.2', 30), map(A1, '1.2', 15)], [ev({ activityId: A1, timestamp: 1 })]);
    expect(competency(c, '1.2')).toMatchObject({ creditedMinutes: 45 });
    expect(competency(c, '1.2').credits).toHaveLength(1);
    expect(c.warnings).toEqual([{ code: 'duplicate_mapping', courseId: 2, activityId: A1, competencyKey: '1.2' }]);
  });
});

describe('crediting policies', () => {
  const m = [map(A1, '1.1', 60), map(A2, '1.2', 60, 3)];
  const strict: CoursePolicy = { courseId: 2, requireSuccess: true, capToMeasuredDuration: false };

  test('requireSuccess: success false credits nothing, true credits, null (no pass/fail) credits', () => {
    const with_ = (success: boolean | null) =>
      cover(socle28, m, [ev({ activityId: A1, timestamp: 1, success })], { policies: [strict] }).creditedMinutes;
    expect(with_(false)).toBe(0);
    expect(with_(true)).toBe(60);
    expect(with_(null)).toBe(60);
    // without the policy, a failed completion still credits
    expect(cover(socle28, m, [ev({ activityId: A1, timestamp: 1, success: false })]).creditedMinutes).toBe(60);
  });

  test('the policy is per course', () => {
    const events = [ev({ activityId: A1, timestamp: 1, success: false }), ev({ activityId: A2, courseId: 3, timestamp: 1, success: false })];
    const c = cover(socle28, m, events, { policies: [strict] });
    expect(competency(c, '1.1').creditedMinutes).toBe(0);
    expect(competency(c, '1.2').creditedMinutes).toBe(60);
  });

  test('the current state decides: a failed retry after a pass credits nothing under requireSuccess', () => {
    const events = [ev({ activityId: A1, timestamp: 1, success: true }), ev({ activityId: A1, timestamp: 2, success: false })];
    expect(cover(socle28, m, events, { policies: [strict] }).creditedMinutes).toBe(0);
  });

  test('capToMeasuredDuration credits the lesser of nominal and measured, split proportionally', () => {
    const capped: CoursePolicy = { courseId: 2, requireSuccess: false, capToMeasuredDuration: true };
    const split = [map(A3, '1.1', 20), map(A3, '2.1', 10)];
    const run = (durationSeconds: number | null) =>
      cover(socle28, split, [ev({ activityId: A3, timestamp: 1, durationSeconds })], { policies: [capped] });
    const c = run(15 * 60 + 59); // 15 whole minutes measured
    expect(competency(c, '1.1').credits[0]).toMatchObject({ minutes: 10, nominalMinutes: 20 });
    expect(competency(c, '2.1').credits[0]).toMatchObject({ minutes: 5, nominalMinutes: 10 });
    expect(run(3600).creditedMinutes).toBe(30); // longer than nominal: nominal
    expect(run(null).creditedMinutes).toBe(30); // no measurement: nominal
    expect(run(0).creditedMinutes).toBe(0);
    expect(run(0).status).toBe('in_progress'); // credited, for zero minutes
  });

  test('the proportional split is in whole minutes and sums exactly', () => {
    expect(splitProportionally(10, [10, 10, 10])).toEqual([4, 3, 3]);
    expect(splitProportionally(7, [1, 2, 4])).toEqual([1, 2, 4]);
    expect(splitProportionally(3, [0, 3, 1])).toEqual([0, 2, 1]);
    expect(splitProportionally(0, [0, 0])).toEqual([0, 0]);
  });
});

describe('manual credits', () => {
  const credit = (over: Partial<ManualCredit> = {}): ManualCredit => ({
    id: 1,
    competencyKey: '2.1',
    minutes: 120,
    justification: 'Attestation de formation en présentiel (CHU, 2024)',
    revoked: false,
    ...over,
  });

  test('a manual credit adds its minutes and stays visible as such, with its justification', () => {
    const c = cover(socle28, [], [], { manualCredits: [credit()] });
    expect(competency(c, '2.1').credits).toEqual([
      { source: 'manual', manualCreditId: 1, minutes: 120, justification: 'Attestation de formation en présentiel (CHU, 2024)' },
    ]);
    expect(c).toMatchObject({ validatedMinutes: 120, status: 'in_progress' });
  });

  test('manual and activity credits add up and are capped together', () => {
    const c = cover(socle28, [map(A1, '2.2', 240)], [ev({ activityId: A1, timestamp: 1 })], { manualCredits: [credit()] });
    expect(domain(c, '2')).toMatchObject({ creditedMinutes: 360, validatedMinutes: 300, missingMinutes: 0, status: 'complete' });
  });

  test('a revoked credit no longer counts, and a revocation sticks over a later copy', () => {
    expect(cover(socle28, [], [], { manualCredits: [credit({ revoked: true })] }).status).toBe('not_started');
    expect(cover(socle28, [], [], { manualCredits: [credit({ revoked: true }), credit()] }).creditedMinutes).toBe(0);
  });

  test('a manual credit on an unknown competency is ignored and reported', () => {
    const c = cover(socle28, [], [], { manualCredits: [credit({ id: 4, competencyKey: '7.1' })] });
    expect(c.creditedMinutes).toBe(0);
    expect(c.warnings).toEqual([{ code: 'unknown_competency', source: 'manual_credit', manualCreditId: 4, competencyKey: '7.1' }]);
  });

  test('a justification is mandatory', () => {
    const r = manualCreditSchema.safeParse({ ...credit(), justification: '   ' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['justification'], message: 'a manual credit needs a justification' });
  });
});

describe('référentiel shapes', () => {
  test('ARM: two competencies printed "4.1" are told apart by their keys', () => {
    const c = cover(arm18, [map(A1, '4.1a', 60), map(A2, '4.1b', 30)], [ev({ activityId: A1, timestamp: 1 })]);
    expect(competency(c, '4.1a')).toMatchObject({ code: '4.1', creditedMinutes: 60 });
    expect(competency(c, '4.1b')).toMatchObject({ code: '4.1', creditedMinutes: 0, covered: false });
    expect(c.requiredMinutes).toBe(18 * 60);
  });

  test('hours per competency only: each competency is capped at its hours, a domain requires their sum', () => {
    const c = cover(
      perCompetency,
      [map(A1, 'A1', 200), map(A2, 'A2', 30), map(A3, 'B1', 90)],
      [ev({ activityId: A1, timestamp: 1 }), ev({ activityId: A2, timestamp: 2 }), ev({ activityId: A3, timestamp: 3 })],
    );
    expect(competency(c, 'A1')).toMatchObject({ requiredMinutes: 60, creditedMinutes: 200, validatedMinutes: 60 });
    expect(domain(c, 'A')).toMatchObject({ requiredMinutes: 180, creditedMinutes: 230, validatedMinutes: 90, missingMinutes: 90 });
    expect(domain(c, 'B')).toMatchObject({ requiredMinutes: 90, validatedMinutes: 90, status: 'complete' });
    expect(c).toMatchObject({ requiredMinutes: 270, validatedMinutes: 180, status: 'in_progress' });
    expect(c.gaps).toEqual([{ domainCode: 'A', domainTitle: 'Domaine A', missingMinutes: 90, missingCompetencyKeys: ['A2'] }]);
  });

  test('without hours: coverage = competencies with a credit out of all competencies', () => {
    const mappings = [map(A1, '1.1.1', 0), map(A1, '1.2.1', 0), map(A2, '1.1.2', 0)];
    const c = cover(rncpBlocks, mappings, [ev({ activityId: A1, timestamp: 1 })]);
    expect(c).toMatchObject({ hasHours: false, requiredMinutes: null, missingMinutes: null, coveredCompetencies: 2, totalCompetencies: 7, status: 'in_progress' });
    expect(c.domains[0]).toMatchObject({ requiredMinutes: null, missingMinutes: null, coveredCompetencies: 1, totalCompetencies: 3, status: 'in_progress' });
    expect(c.gaps).toEqual([
      { domainCode: '1', domainTitle: rncpBlocks.domains[0]?.title, missingMinutes: null, missingCompetencyKeys: ['1.1.2', '1.1.3'] },
      { domainCode: '1.2', domainTitle: rncpBlocks.domains[1]?.title, missingMinutes: null, missingCompetencyKeys: ['1.2.2', '1.2.3', '1.2.4'] },
    ]);
    expect(cover(rncpBlocks, mappings, []).status).toBe('not_started');
  });

  test('without hours: complete when every competency has a credit (activities or manual)', () => {
    const keys = rncpBlocks.domains.flatMap((d) => d.competencies.map((c) => c.key));
    const manualCredits = keys.slice(1).map((k, i) => ({ id: i + 1, competencyKey: k, minutes: 0, justification: 'Jury VAE', revoked: false }));
    const c = cover(rncpBlocks, [map(A1, keys[0] ?? '', 0)], [ev({ activityId: A1, timestamp: 1 })], { manualCredits });
    expect(c).toMatchObject({ status: 'complete', coveredCompetencies: 7, gaps: [] });
  });

  test('a total that differs from the sum of the domains is reported; the declared total is required', () => {
    const odd = { ...socle28, requiredMinutes: 1500 };
    const rules = compileRules(odd);
    expect(rules.warnings).toEqual([{ code: 'required_minutes_mismatch', declaredMinutes: 1500, domainsMinutes: 1680 }]);
    expect(computeCoverage(rules, []).requiredMinutes).toBe(1500);
  });
});

describe('input schemas', () => {
  test('a référentiel with a repeated competency key is rejected, saying where', () => {
    const bad = { ...arm18, domains: arm18.domains.map((d) => ({ ...d, competencies: d.competencies.map((c) => ({ ...c, key: c.code })) })) };
    const r = referentialVersionSchema.safeParse(bad);
    expect(r.success).toBe(false);
    expect(r.error?.issues).toEqual([
      expect.objectContaining({ path: ['domains', 3, 'competencies', 1, 'key'], message: 'duplicate competency key "4.1": give one of them an explicit unique key' }),
    ]);
    expect(referentialVersionSchema.parse(arm18)).toEqual(arm18);
  });

  test('hours are whole minutes; events need integer course ids and a known kind', () => {
    expect(mappingSchema.safeParse({ courseId: 2, activityId: A1, competencyKey: '1.1', minutes: 1.5 }).success).toBe(false);
    expect(completionEventSchema.safeParse(ev({ activityId: A1, timestamp: 1 })).success).toBe(true);
    const r = completionEventSchema.safeParse({ ...ev({ activityId: A1, timestamp: 1 }), kind: 'passed', courseId: '2' });
    expect(r.error?.issues.map((i) => i.path[0]).sort()).toEqual(['courseId', 'kind']);
  });
});

describe('incremental form', () => {
  const rules = compileRules(socle28, [map(A1, '1.1', 90), map(A2, '2.1', 60)]);

  test('a voiding that arrives before its statement voids it when it comes', () => {
    let s = applyChange(rules, emptyLearnerState, { type: 'void', eventKey: statementKey('s9') });
    s = applyChange(s.rules, s.state, { type: 'event', event: ev({ id: 's9', activityId: A1, timestamp: 1 }) });
    expect(s.coverage.creditedMinutes).toBe(0);
  });

  test('voiding the latest completion falls back to the earlier one', () => {
    const state = learnerStateFrom([ev({ id: 'a', activityId: A1, timestamp: 1 }), ev({ id: 'b', activityId: A1, timestamp: 2 })]);
    const { coverage } = applyChange(rules, state, { type: 'void', eventKey: statementKey('b') });
    expect(competency(coverage, '1.1').credits).toEqual([expect.objectContaining({ completedAt: 1 })]);
  });

  test('a mapping change re-credits the activities already completed', () => {
    const state = learnerStateFrom([ev({ activityId: A1, timestamp: 1 })]);
    const next = applyChange(rules, state, { type: 'mappings', courseId: 2, activityId: A1, mappings: [{ competencyKey: '4.4', minutes: 30 }] });
    expect(competency(next.coverage, '1.1').creditedMinutes).toBe(0);
    expect(competency(next.coverage, '4.4').creditedMinutes).toBe(30);
    expect(next.state).toBe(state);
    const removed = applyChange(next.rules, next.state, { type: 'mappings', courseId: 2, activityId: A1, mappings: [] });
    expect(removed.coverage.status).toBe('not_started');
  });

  test('a policy change applies to the course at once', () => {
    const state = learnerStateFrom([ev({ activityId: A1, timestamp: 1, success: false })]);
    expect(coverageFromState(rules, state).creditedMinutes).toBe(90);
    const next = applyChange(rules, state, { type: 'policy', courseId: 2, policy: { requireSuccess: true, capToMeasuredDuration: false } });
    expect(next.coverage.creditedMinutes).toBe(0);
  });

  test('a manual credit granted then revoked', () => {
    const grant = { id: 3, competencyKey: '5.2', minutes: 60, justification: 'Stage', revoked: false };
    const a = applyChange(rules, emptyLearnerState, { type: 'manual_credit', credit: grant });
    expect(a.coverage.validatedMinutes).toBe(60);
    const b = applyChange(a.rules, a.state, { type: 'manual_credit', credit: { ...grant, revoked: true } });
    expect(b.coverage.validatedMinutes).toBe(0);
  });
});

describe('cohort', () => {
  test('computes each learner with the rules compiled once, from flat rows', () => {
    const rules = compileRules(socle28, [map(A1, '1.1', 90), map(A2, '2.1', 60)]);
    const rows = [
      { learnerId: 'u1', ...ev({ activityId: A1, timestamp: 1 }) },
      { learnerId: 'u2', ...ev({ activityId: A2, timestamp: 1 }) },
      { learnerId: 'u1', ...ev({ activityId: A2, timestamp: 2 }) },
    ];
    const groups = groupByLearner(rows);
    const result = new Map(
      [...cohortCoverage(rules, [...groups].map(([learnerId, events]) => ({ learnerId, events })))].map((r) => [r.learnerId, r.coverage.validatedMinutes]),
    );
    expect(result).toEqual(new Map([['u1', 150], ['u2', 60]]));
  });
});
