/**
 * Programmes on both drivers: add/list/show/set (validated, audited, one platform's own), and the forecasts of a
 * programme of two courses at a fixed day — learners done, on track, behind and at risk, from real statements
 * through the ingestion and the stored coverage; a teacher and another course's learner left out.
 */
import { sql } from 'drizzle-orm';
import type { AppContext } from '../../src/context';
import { coverageDeps } from '../../src/coverage/deps';
import { drainDirty } from '../../src/coverage/freshness';
import { queryRows } from '../../src/db/store';
import { SocleError } from '../../src/domain/errors';
import { type Course, ensureCourse, ensurePlatform, ensureUser, type Platform } from '../../src/identity/records';
import { setCoursePolicy } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { forecastDay, learnerForecasts, programmeForecasts, referentialForecasts } from '../../src/programmes/forecasts';
import { addProgramme, listProgrammes, setProgramme, showProgramme } from '../../src/programmes/service';
import { getReferential, loadBundledReferentials } from '../../src/referentials/catalogue';
import type { Referential } from '../../src/domain/referential';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { testContext } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';
import { MOODLE } from '../xapi/support';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';

const REF = 'socle-sante-niveaux-4-8';
const TEACHER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
/** Half way through the intake 2025 (547 of the 1095 days to 31 August 2028): 839 of the 1,680 minutes expected. */
const TODAY = '2027-03-02';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof SocleError) return { code: e.code, paths: e.details.map((d) => d.path) };
    throw e;
  }
  return 'resolved';
};

describe.each(drivers)('programmes on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  let platform: Platform;
  let courseA: Course;
  let courseB: Course;
  let ref: Referential;
  let n = 0;
  const ids: Record<string, number> = {};

  /** Completions of pages by `sub` in Moodle course `course` (each page credits one domain, see the mappings). */
  async function complete(sub: string, course: number, cmids: number[], success: boolean | null = null) {
    const body = cmids.map((cmid) => completionStatement({ id: uuidOf(++n), sub, cmid, course, kind: 'completed', success, at: new Date(Date.UTC(2026, 10, 1, 10, n)) }));
    const prepared = prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date());
    await storeStatements(t.store.db, platform, prepared);
  }

  beforeAll(async () => {
    t = await openTestStore(driver);
    const db = t.store.db;
    await loadBundledReferentials(db);
    ctx = testContext(t.store, { badges: undefined });
    ref = (await getReferential(db, REF)) as Referential;
    platform = await ensurePlatform(db, MOODLE);
    courseA = await ensureCourse(db, platform.id, '2', 'Année 1');
    courseB = await ensureCourse(db, platform.id, '3', 'Année 2');
    await ensureCourse(db, platform.id, '4', 'Hors programme');
    // each course offers half of every domain: page 10+d in course 2 and page 20+d in course 3 credit domain d
    for (const [course, base] of [[courseA, 10], [courseB, 20]] as const) {
      const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(base + i + 1), competencyKey: d.competencies[0]?.key as string, minutes: (d.requiredMinutes ?? 0) / 2 }));
      await saveMapping(db, ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'test' });
    }
    // course 2 credits only successful completions
    await setCoursePolicy(db, ctx, { course: courseA, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'test' });
    for (const sub of ['done', 'onTrack', 'behind', 'atRisk', 'teacher', 'outsider', 'rosterOnly']) ids[sub] = (await ensureUser(db, platform.id, sub, { name: sub })).id;
    await complete('done', 2, [11, 12, 13, 14, 15], true);
    await complete('done', 3, [21, 22, 23, 24, 25]);
    await complete('onTrack', 2, [11, 12, 13, 14, 15], true);
    await complete('behind', 2, [11], true);
    // a failed page 15: completed (no longer offered) but not credited: domain 5 can no longer reach its 6 h
    await complete('atRisk', 2, [11, 12, 13, 14], true);
    await complete('atRisk', 2, [15], false);
    await complete('teacher', 2, [11], true);
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${courseA.id}, ${ids.teacher}, ARRAY[${TEACHER}])`);
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${courseB.id}, ${ids.rosterOnly}, ARRAY[${LEARNER}])`);
    await complete('outsider', 4, [11], true);
    // the coverage worker's job
    while ((await drainDirty(db, coverageDeps(ctx, db), 50)) > 0);
  });
  afterAll(() => t.destroy());

  it('adds a programme: default due date, latest version, known courses; audited', async () => {
    const p = await addProgramme(t.store.db, platform, { name: 'IFSI 2025', referential: REF, courses: ['2', '3', '2'], intakeYear: 2025 }, 'cli');
    expect(p).toMatchObject({ name: 'IFSI 2025', referential: { id: REF, version: ref.version }, intakeYear: 2025, dueDate: '2028-08-31', category: null });
    expect(p.courses.map((c) => c.contextId)).toEqual(['2', '3']);
    const [audit] = await queryRows<{ action: string; after: Record<string, unknown> }>(t.store.db, sql`SELECT action, after FROM audit_events WHERE subject = ${`programme:${p.id}`}`);
    expect(audit).toEqual({ action: 'programme.add', after: expect.objectContaining({ referential: `${REF}@${ref.version}`, courses: ['2', '3'] }) });
    ids.programme = p.id;
  });

  it('refuses bad input with the field named, and nothing stored', async () => {
    const before = await listProgrammes(t.store.db, platform.id);
    const db = t.store.db;
    expect(await code(addProgramme(db, platform, { name: ' ', referential: REF, courses: ['2'], intakeYear: 2025 }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['name'] });
    expect(await code(addProgramme(db, platform, { name: 'X', referential: 'nope@1', courses: ['2'], intakeYear: 2025 }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['referential'] });
    expect(await code(addProgramme(db, platform, { name: 'X', referential: REF, courses: ['2', '99'], intakeYear: 2025 }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['courses'] });
    expect(await code(addProgramme(db, platform, { name: 'X', referential: REF, courses: ['2'], intakeYear: 2025, dueDate: '2025-08-31' }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['dueDate'] });
    expect(await code(addProgramme(db, platform, { name: 'X', referential: REF, courses: ['2'], intakeYear: 2025, dueDate: '2027-02-30' }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['dueDate'] });
    expect(await code(addProgramme(db, platform, { name: 'IFSI 2025', referential: REF, courses: ['2'], intakeYear: 2025 }, 'cli'))).toEqual({ code: 'conflict', paths: ['name'] });
    expect(await listProgrammes(db, platform.id)).toEqual(before);
  });

  it('forecasts each learner of the programme at a fixed day', async () => {
    const forecasts = await programmeForecasts(t.store.db, platform.id, ids.programme as number, TODAY);
    const bySub = Object.fromEntries(forecasts.map((f) => [f.user.sub, f]));
    // the teacher and the other course's learner are not the programme's learners; a roster member is
    expect(Object.keys(bySub).sort()).toEqual(['atRisk', 'behind', 'done', 'onTrack', 'rosterOnly']);
    expect(bySub.done).toMatchObject({ status: 'done', missingMinutes: 0, mappableMinutes: 0, dueDate: '2028-08-31', daysLeft: 548 });
    expect(bySub.onTrack).toMatchObject({ status: 'on_track', validatedMinutes: 840, expectedMinutes: 839, missingMinutes: 840, mappableMinutes: 840 });
    expect(bySub.behind).toMatchObject({ status: 'behind', validatedMinutes: 180, mappableMinutes: 1500 });
    expect(bySub.atRisk).toMatchObject({ status: 'at_risk', validatedMinutes: 660, missingMinutes: 1020, mappableMinutes: 840, shortDomains: ['5'] });
    expect(bySub.rosterOnly).toMatchObject({ status: 'behind', validatedMinutes: 0, mappableMinutes: 1680 });
    expect(bySub.atRisk?.domains.find((d) => d.code === '5')).toEqual({ code: '5', requiredMinutes: 360, validatedMinutes: 0, mappableMinutes: 180 });
  });

  it('reads one learner’s forecasts, and a référentiel’s forecasts for a set of learners', async () => {
    const mine = await learnerForecasts(t.store.db, platform.id, ids.onTrack as number, TODAY);
    expect(mine.map((f) => [f.programmeId, f.status, f.referential])).toEqual([[ids.programme, 'on_track', { id: REF, version: ref.version }]]);
    expect(await learnerForecasts(t.store.db, platform.id, ids.outsider as number, TODAY)).toEqual([]);
    const map = await referentialForecasts(t.store.db, platform.id, { id: REF, version: ref.version }, [ids.done, ids.atRisk, ids.outsider] as number[], TODAY);
    expect([...map.entries()].map(([u, f]) => [u, f.status])).toEqual([[ids.done, 'done'], [ids.atRisk, 'at_risk']]);
    // at the due date passed, whoever is not done is at risk
    const late = await programmeForecasts(t.store.db, platform.id, ids.programme as number, '2028-09-01');
    expect(late.map((f) => f.status).sort()).toEqual(['at_risk', 'at_risk', 'at_risk', 'at_risk', 'done']);
  });

  it('changes a programme: a due date left at its default follows the intake; courses replaced; audited', async () => {
    const id = ids.programme as number;
    const changed = await setProgramme(t.store.db, platform, id, { intakeYear: 2026, courses: ['3'], category: 'IFSI' }, 'cli');
    expect(changed).toMatchObject({ intakeYear: 2026, dueDate: '2029-08-31', category: 'IFSI' });
    expect(changed.courses.map((c) => c.contextId)).toEqual(['3']);
    const set = await setProgramme(t.store.db, platform, id, { dueDate: '2029-06-30', courses: ['2', '3'], category: null }, 'cli');
    expect(set).toMatchObject({ dueDate: '2029-06-30', category: null });
    expect(await code(setProgramme(t.store.db, platform, id, { intakeYear: 1900 }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['intakeYear'] });
    const [{ n: events } = { n: 0 }] = await queryRows<{ n: number }>(t.store.db, sql`SELECT count(*)::int AS n FROM audit_events WHERE action = 'programme.set'`);
    expect(events).toBe(2);
    await setProgramme(t.store.db, platform, id, { intakeYear: 2025, dueDate: '2028-08-31' }, 'cli');
  });

  it('never shows or changes another platform’s programme', async () => {
    const other = await ensurePlatform(t.store.db, 'https://other.example');
    const id = ids.programme as number;
    expect(await code(showProgramme(t.store.db, other.id, id))).toEqual({ code: 'not_found', paths: [] });
    expect(await code(setProgramme(t.store.db, other, id, { name: 'Pris' }, 'cli'))).toEqual({ code: 'not_found', paths: [] });
    expect(await listProgrammes(t.store.db, other.id)).toEqual([]);
    expect(await programmeForecasts(t.store.db, other.id, id, TODAY)).toEqual([]);
    // courses are the platform's own: another platform's course id is unknown there
    expect(await code(addProgramme(t.store.db, other, { name: 'X', referential: REF, courses: ['2'], intakeYear: 2025 }, 'cli'))).toEqual({ code: 'invalid_request', paths: ['courses'] });
  });

  it('recomputes stale coverage first when given the coverage dependencies; counts the day in the institution’s zone', async () => {
    const db = t.store.db;
    await complete('behind', 3, [21]);
    const stale = await learnerForecasts(db, platform.id, ids.behind as number, TODAY);
    expect(stale[0]).toMatchObject({ validatedMinutes: 180, mappableMinutes: 1320 });
    const fresh = await learnerForecasts(db, platform.id, ids.behind as number, TODAY, coverageDeps(ctx, db));
    expect(fresh[0]).toMatchObject({ validatedMinutes: 360, mappableMinutes: 1320 });
    // 23:30 UTC on 1 March is already 2 March in Paris (the default zone)
    expect(await forecastDay(db, platform.id, new Date('2027-03-01T23:30:00Z'))).toBe('2027-03-02');
  });
});
