/**
 * The stored coverage kept fresh incrementally (ingestion, voiding, mapping, policy and manual-credit hooks, with
 * large changes deferred to the dirty queue) equals a full recompute, on random histories, on every driver.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { grantManualCredit, revokeManualCredit } from '../../src/coverage/credits';
import { afterCoursePolicyChange, afterPlatformPolicyChange, drainDirty } from '../../src/coverage/freshness';
import { recomputeAll } from '../../src/coverage/recompute';
import type { AppContext } from '../../src/context';
import { coverageDeps } from '../../src/coverage/deps';
import { queryRows } from '../../src/db/store';
import { ensureCourse, ensurePlatform, ensureUser, type Platform } from '../../src/identity/records';
import { setCoursePolicy, setPlatformDefaults } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import { arm18, socle28 } from '../domain/coverage-fixtures';
import { testContext } from '../support/app';
import { openTestStore, drivers, type TestStore } from '../support/db';
import { MOODLE } from '../xapi/support';
import { completionStatement, fixtureReferentials, pageIri, storedCoverage, uuidOf, voidingStatement } from './support';

const SUBS = ['s1', 's2', 's3', 's4', 's5'];
const CMIDS = [1, 2, 3, 4, 5, 6];
const COURSES = [2, 3];
const REFS = [socle28, arm18];
const keysOf = (r: typeof socle28) => r.domains.flatMap((d) => d.competencies.map((c) => c.key));

const statementArb = fc.record({
  sub: fc.constantFrom(...SUBS),
  cmid: fc.constantFrom(...CMIDS),
  course: fc.constantFrom(...COURSES),
  kind: fc.constantFrom('completed' as const, 'completed' as const, 'uncompleted' as const),
  success: fc.constantFrom(true, false, null),
  durationSeconds: fc.constantFrom(undefined, 600, 3600),
  minute: fc.integer({ min: 0, max: 4 }),
});
const opArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constant('batch' as const), statements: fc.array(statementArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('void' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('mapping' as const),
      course: fc.constantFrom(...COURSES),
      ref: fc.nat({ max: 1 }),
      entries: fc.array(fc.record({ cmid: fc.constantFrom(...CMIDS), competency: fc.nat(), quarters: fc.integer({ min: 1, max: 16 }) }), { maxLength: 6 }),
      deferred: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('grant' as const), sub: fc.constantFrom(...SUBS), ref: fc.nat({ max: 1 }), competency: fc.nat(), quarters: fc.integer({ min: 1, max: 24 }) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('revoke' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('policy' as const),
      course: fc.option(fc.constantFrom(...COURSES), { nil: undefined }),
      requireSuccess: fc.boolean(),
      cap: fc.boolean(),
      deferred: fc.boolean(),
    }),
  },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

describe.each(drivers)('coverage freshness on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  beforeAll(async () => {
    t = await openTestStore(driver);
    // the rules only: fixture référentiels, no badge issuing
    ctx = testContext(t.store, { referentials: fixtureReferentials(), badges: undefined });
  });
  afterAll(() => t.destroy());

  async function run(ops: Op[]) {
    const db = t.store.db;
    await db.execute(sql`TRUNCATE platforms, audit_events CASCADE`);
    const platform: Platform = await ensurePlatform(db, MOODLE);
    const users = new Map<string, number>();
    for (const sub of SUBS) users.set(sub, (await ensureUser(db, platform.id, sub)).id);
    const courses = new Map<number, number>();
    for (const c of COURSES) courses.set(c, (await ensureCourse(db, platform.id, String(c))).id);
    const statements: { id: string; sub: string }[] = [];
    const credits: number[] = [];
    let n = 0;
    const base = Date.UTC(2026, 10, 22, 10, 0, 0);
    for (const op of ops) {
      if (op.type === 'batch' || op.type === 'void') {
        let body: Record<string, unknown>[];
        if (op.type === 'batch') {
          body = op.statements.map((s) => {
            const id = uuidOf(++n);
            statements.push({ id, sub: s.sub });
            return completionStatement({ id, ...s, at: new Date(base + s.minute * 60_000) });
          });
        } else {
          const target = statements[op.pick % Math.max(1, statements.length)];
          if (!target) continue;
          body = [voidingStatement(uuidOf(++n), target.sub, target.id)];
        }
        const prepared = prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date());
        await storeStatements(db, platform, prepared);
      } else if (op.type === 'mapping') {
        const referential = REFS[op.ref] as typeof socle28;
        const keys = keysOf(referential);
        const entries = [
          ...new Map(op.entries.map((e) => [`${e.cmid} ${e.competency % keys.length}`, { activityIri: pageIri(e.cmid), competencyKey: keys[e.competency % keys.length] as string, minutes: e.quarters * 15 }])).values(),
        ];
        const courseId = courses.get(op.course) as number;
        await saveMapping(db, ctx, { courseId, referential, activityIris: new Set(CMIDS.map(pageIri)), entries, actor: 'test', coverageImmediateLimit: op.deferred ? 0 : 200 });
      } else if (op.type === 'grant') {
        const referential = REFS[op.ref] as typeof socle28;
        const keys = keysOf(referential);
        const record = await db.transaction((tx) =>
          grantManualCredit(tx, coverageDeps(ctx, tx), {
            platformId: platform.id,
            userId: users.get(op.sub) as number,
            referentialId: referential.id,
            competencyKey: keys[op.competency % keys.length] as string,
            minutes: op.quarters * 15,
            justification: 'Présentiel',
            actor: 'test',
          }),
        );
        credits.push(record.id);
      } else if (op.type === 'revoke') {
        const id = credits[op.pick % Math.max(1, credits.length)];
        if (id !== undefined) await db.transaction((tx) => revokeManualCredit(tx, coverageDeps(ctx, tx), { id, actor: 'test' }));
      } else if (op.course !== undefined) {
        const courseId = courses.get(op.course) as number;
        await db.execute(sql`INSERT INTO course_settings (course_id, require_success, cap_to_measured_duration) VALUES (${courseId}, ${op.requireSuccess}, ${op.cap})
                             ON CONFLICT (course_id) DO UPDATE SET require_success = excluded.require_success, cap_to_measured_duration = excluded.cap_to_measured_duration`);
        await afterCoursePolicyChange(db, coverageDeps(ctx, db), courseId, op.deferred ? 0 : 200);
      } else {
        await db.execute(sql`INSERT INTO platform_settings (platform_id, require_success, cap_to_measured_duration) VALUES (${platform.id}, ${op.requireSuccess}, ${op.cap})
                             ON CONFLICT (platform_id) DO UPDATE SET require_success = excluded.require_success, cap_to_measured_duration = excluded.cap_to_measured_duration`);
        await afterPlatformPolicyChange(db, coverageDeps(ctx, db), platform.id, op.deferred ? 0 : 200);
      }
    }
    while ((await drainDirty(db, coverageDeps(ctx, db), 2)) > 0) {
      // the worker's job, in small batches
    }
    const incremental = await storedCoverage(db);
    await recomputeAll(db, coverageDeps(ctx, db), { chunk: 2 });
    const full = await storedCoverage(db);
    expect(incremental).toEqual(full);
    return full;
  }

  it('incremental updates equal a full recompute on random histories', async () => {
    let credited = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 25 }), async (ops) => {
        const rows = await run(ops);
        credited += rows.filter((r) => Number(r.validated_minutes) > 0).length;
      }),
      { numRuns: driver === 'pglite' ? 6 : 10, seed: 7 },
    );
    // the histories did credit hours (the comparison was not between empty tables)
    expect(credited).toBeGreaterThan(5);
  }, 120_000);

  it('a large mapping change only marks learners dirty; the next read of the queue recomputes them', async () => {
    const db = t.store.db;
    await db.execute(sql`TRUNCATE platforms, audit_events CASCADE`);
    const platform = await ensurePlatform(db, MOODLE);
    const body = SUBS.map((sub, i) => completionStatement({ id: uuidOf(i + 1), sub, cmid: 1, course: 2, kind: 'completed', at: new Date(Date.UTC(2026, 0, 1)) }));
    await storeStatements(db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date()));
    expect(await storedCoverage(db)).toEqual([]); // nothing mapped yet
    const course = await ensureCourse(db, platform.id, '2');
    const saved = await saveMapping(db, ctx, {
      courseId: course.id,
      referential: socle28,
      activityIris: new Set([pageIri(1)]),
      entries: [{ activityIri: pageIri(1), competencyKey: '2.1', minutes: 90 }],
      actor: 'test',
      coverageImmediateLimit: 3,
    });
    expect(saved.coverage).toEqual({ learners: 5, deferred: true });
    expect(await queryRows(db, sql`SELECT user_id FROM coverage_dirty`)).toHaveLength(5);
    expect(await storedCoverage(db)).toEqual([]);
    expect(await drainDirty(db, coverageDeps(ctx, db))).toBe(5);
    const rows = await storedCoverage(db);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatchObject({ sub: 's1', referential_id: socle28.id, validated_minutes: 90, status: 'in_progress' });
    expect(await queryRows(db, sql`SELECT user_id FROM coverage_dirty`)).toHaveLength(0);
  });
  it('a crediting policy set for a course or as the platform default re-credits past completions', async () => {
    const db = t.store.db;
    await db.execute(sql`TRUNCATE platforms, audit_events CASCADE`);
    const platform = await ensurePlatform(db, MOODLE);
    // s1 completed with success, s2 failed the same activity
    const body = [
      completionStatement({ id: uuidOf(1), sub: 's1', cmid: 1, course: 2, kind: 'completed', success: true, at: new Date(Date.UTC(2026, 0, 1)) }),
      completionStatement({ id: uuidOf(2), sub: 's2', cmid: 1, course: 2, kind: 'completed', success: false, at: new Date(Date.UTC(2026, 0, 1)) }),
    ];
    await storeStatements(db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date()));
    const course = await ensureCourse(db, platform.id, '2');
    const entries = [{ activityIri: pageIri(1), competencyKey: '2.1', minutes: 90 }];
    await saveMapping(db, ctx, { courseId: course.id, referential: socle28, activityIris: new Set([pageIri(1)]), entries, actor: 'test' });
    const validated = async () => (await storedCoverage(db)).map((r) => [r.sub, Number(r.validated_minutes)]);
    expect(await validated()).toEqual([['s1', 90], ['s2', 90]]);

    await setPlatformDefaults(db, ctx, { platformId: platform.id, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'cli' });
    expect(await validated()).toEqual([['s1', 90], ['s2', 0]]);
    await setCoursePolicy(db, ctx, { course, policy: { requireSuccess: false, capToMeasuredDuration: false }, actor: 'test' });
    expect(await validated()).toEqual([['s1', 90], ['s2', 90]]);
    const audit = await queryRows<{ action: string }>(db, sql`SELECT action FROM audit_events WHERE action IN ('platform.defaults', 'course.policy') ORDER BY id`);
    expect(audit.map((a) => a.action)).toEqual(['platform.defaults', 'course.policy']);
  });
});
