/**
 * The cohort page in SQL (cohortPage): every sort, both directions, walked page by page forwards and back over a
 * cohort mixing stored coverages, learners without any yet, learners known only by their events, teachers and
 * other courses' learners; `course_learners` kept by the database from the events; the keyed walk on its index.
 */
import { sql } from 'drizzle-orm';
import type { AppContext } from '../../src/context';
import { coverageDeps } from '../../src/coverage/deps';
import { queryRows } from '../../src/db/store';
import { type CohortCursor, cohortPage, keyedWalk, parseCursor, type SortDir, type SortKey } from '../../src/gradebook/cohort';
import { type Course, ensureCourse, ensurePlatform, ensureUser, type Platform } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { socle28 } from '../domain/coverage-fixtures';
import { testContext } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';
import { MOODLE } from '../xapi/support';
import { fixtureReferentials, pageIri } from '../coverage/support';

const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
const TEACHER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const required = socle28.domains.map((d) => d.requiredMinutes ?? 0);
const REQUIRED = required.reduce((a, b) => a + b, 0);

interface Expected {
  userId: number;
  sub: string;
  name: string | null;
  validated: number[];
}

describe.each(drivers)('cohort pages in SQL on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  let platform: Platform;
  let course: Course;
  const cohort: Expected[] = [];
  let seq = 0;

  async function insertEvent(userId: number, courseId: number) {
    seq++;
    await t.store.db.execute(sql`
      INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, statement_timestamp, position)
      VALUES (${`00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`}::uuid, ${platform.id}, ${userId}, ${courseId}, ${pageIri(1)}, 'completed', now(), 0)`);
  }

  beforeAll(async () => {
    t = await openTestStore(driver);
    ctx = testContext(t.store, { referentials: fixtureReferentials(), badges: undefined });
    const db = t.store.db;
    platform = await ensurePlatform(db, MOODLE);
    course = await ensureCourse(db, platform.id, '2', 'Cours');
    const other = await ensureCourse(db, platform.id, '3', 'Autre');
    await saveMapping(db, ctx, {
      courseId: course.id,
      referential: socle28,
      activityIris: new Set([pageIri(1)]),
      entries: [{ activityIri: pageIri(1), competencyKey: '2.1', minutes: 60 }],
      actor: 'test',
    });
    // 40 learners: stored coverages with ties of missing hours (validated in steps of 90 minutes over the domains),
    // every fifth without stored coverage (in the roster only), every seventh known by its events only
    for (let i = 0; i < 40; i++) {
      const name = i % 9 === 4 ? null : `Learner ${String.fromCharCode(65 + ((i * 7) % 26))}${i}`;
      const u = await ensureUser(db, platform.id, `s${i}`, name ? { name } : {});
      const validated = required.map((r, d) => (i % 5 === 0 ? 0 : Math.min(r, ((i * (d + 1)) % 4) * 90)));
      if (i % 7 === 3) await insertEvent(u.id, course.id);
      else await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${u.id}, ARRAY[${LEARNER}])`);
      if (i % 5 !== 0) {
        const domains = socle28.domains.map((d, k) => ({ code: d.code, requiredMinutes: d.requiredMinutes, creditedMinutes: validated[k], validatedMinutes: validated[k] }));
        const total = validated.reduce((a, b) => a + b, 0);
        await db.execute(sql`
          INSERT INTO learner_coverage (platform_id, user_id, referential_id, referential_version, required_minutes, credited_minutes,
            validated_minutes, covered_competencies, total_competencies, status, domains)
          VALUES (${platform.id}, ${u.id}, ${socle28.id}, ${socle28.version}, ${REQUIRED}, ${total}, ${total}, 0, 1,
            ${total === 0 ? 'not_started' : 'in_progress'}, ${JSON.stringify(domains)}::jsonb)`);
      }
      cohort.push({ userId: u.id, sub: u.sub, name, validated });
    }
    // not in the cohort: a teacher with events, a deleted member, another course's learner with events
    const teacher = await ensureUser(db, platform.id, 'teacher', { name: 'Teacher' });
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${teacher.id}, ARRAY[${TEACHER}])`);
    await insertEvent(teacher.id, course.id);
    const gone = await ensureUser(db, platform.id, 'gone', { name: 'Gone' });
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles, status) VALUES (${course.id}, ${gone.id}, ARRAY[${LEARNER}], 'deleted')`);
    const elsewhere = await ensureUser(db, platform.id, 'elsewhere', { name: 'Elsewhere' });
    await insertEvent(elsewhere.id, other.id);
  });
  afterAll(() => t.destroy());

  /** The order the page must follow, computed here from what was inserted. */
  function expected(sort: SortKey, dir: SortDir): string[] {
    const sign = dir === 'asc' ? 1 : -1;
    const validatedOf = (e: Expected) => e.validated.reduce((a, b) => a + b, 0);
    const value = (e: Expected) =>
      sort === 'missing' ? REQUIRED - validatedOf(e) : sort === 'total' ? validatedOf(e) : (e.validated[socle28.domains.findIndex((d) => `domain:${d.code}` === sort)] ?? 0);
    const label = (e: Expected) => e.name ?? e.sub;
    const byName = (a: Expected, b: Expected) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0);
    const sorted = [...cohort].sort((a, b) => {
      if (sort === 'name') return sign * byName(a, b);
      const d = value(a) - value(b);
      if (d) return sign * d;
      // keyed sorts: ties by user id in the sort's direction; domain sorts: ties by name
      return sort === 'missing' || sort === 'total' ? sign * (a.userId - b.userId) : byName(a, b);
    });
    return sorted.map((e) => e.sub);
  }

  const page = (sort: SortKey, dir: SortDir, limit: number, at: { after?: CohortCursor; before?: CohortCursor } = {}) =>
    cohortPage(t.store.db, coverageDeps(ctx, t.store.db), platform, course, { sort, dir, limit, ...at });

  it('keeps course_learners from the events: a row per learner and course, gone with the last event', async () => {
    const db = t.store.db;
    const rows = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM course_learners WHERE course_id = ${course.id}`);
    // the learners known by their events (i % 7 === 3: 6 of them) and the teacher
    expect(rows[0]?.n).toBe(cohort.filter((_, i) => i % 7 === 3).length + 1);
    const lone = await ensureUser(db, platform.id, 'lone');
    await insertEvent(lone.id, course.id);
    await insertEvent(lone.id, course.id);
    const has = async () => (await queryRows(db, sql`SELECT 1 FROM course_learners WHERE course_id = ${course.id} AND user_id = ${lone.id}`)).length;
    expect(await has()).toBe(1);
    await db.execute(sql`DELETE FROM completion_events WHERE id = (SELECT min(id) FROM completion_events WHERE user_id = ${lone.id})`);
    expect(await has()).toBe(1);
    await db.execute(sql`DELETE FROM completion_events WHERE user_id = ${lone.id}`);
    expect(await has()).toBe(0);
    await db.execute(sql`DELETE FROM users WHERE id = ${lone.id}`);
  });

  it.each<[SortKey, SortDir]>([
    ['missing', 'desc'],
    ['missing', 'asc'],
    ['total', 'desc'],
    ['total', 'asc'],
    ['name', 'asc'],
    ['name', 'desc'],
    ['domain:2', 'desc'],
    ['domain:1', 'asc'],
  ])('walks the whole cohort sorted by %s %s, forwards then back, 7 learners a page', async (sort, dir) => {
    const want = expected(sort, dir);
    const pages: string[][] = [];
    let p = await page(sort, dir, 7);
    expect(p.total).toBe(cohort.length);
    expect(p.previous).toBeNull();
    for (;;) {
      pages.push(p.learners.map((l) => l.user.sub));
      if (!p.next) break;
      p = await page(sort, dir, 7, { after: parseCursor(p.next.after) });
    }
    expect(pages.flat()).toEqual(want);
    expect(pages.every((x) => x.length === 7 || x === pages[pages.length - 1])).toBe(true);
    // and back from the last page to the first, each page as it was
    for (let i = pages.length - 2; i >= 0; i--) {
      const prev = p.previous;
      if (!prev) throw new Error(`no previous page before page ${i + 2}`);
      p = 'before' in prev ? await page(sort, dir, 7, { before: parseCursor(prev.before) }) : await page(sort, dir, 7, { after: parseCursor(prev.after) });
      expect(p.learners.map((l) => l.user.sub)).toEqual(pages[i]);
    }
    expect(p.previous).toBeNull();
  });

  it('gives each learner’s figures with the missing hours (all of them for a learner without stored coverage)', async () => {
    const p = await page('missing', 'desc', 50);
    const none = p.learners.find((l) => l.user.sub === 's0');
    expect(none).toMatchObject({ status: 'not_started', validatedHours: 0, missingHours: REQUIRED / 60, requiredHours: REQUIRED / 60 });
    const some = cohort[6] as Expected;
    const shown = p.learners.find((l) => l.user.sub === some.sub);
    const validated = some.validated.reduce((a, b) => a + b, 0);
    expect(shown?.missingHours).toBe(Math.round(((REQUIRED - validated) / 60) * 100) / 100);
    expect(shown?.domains.map((d) => Math.round((d.validatedHours ?? 0) * 60))).toEqual(some.validated);
    expect(shown?.userId).toBe(some.userId);
  });

  it('walks the index in order and stops at the page: no sort, no scan of the whole course', async () => {
    const db = t.store.db;
    // a platform large enough for the index to matter: 3,000 more stored coverages in the course
    await db.execute(sql`INSERT INTO users (platform_id, sub) SELECT ${platform.id}, 'bulk' || g FROM generate_series(1, 3000) g`);
    // half of them in the roster, half known by their events (one INSERT … SELECT: the trigger's rows come in bulk)
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) SELECT ${course.id}, id, ARRAY[${LEARNER}] FROM users WHERE sub LIKE 'bulk%' AND id % 2 = 0`);
    await db.execute(sql`
      INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, statement_timestamp, position)
      SELECT gen_random_uuid(), ${platform.id}, id, ${course.id}, ${pageIri(1)}, 'completed', now(), 0 FROM users WHERE sub LIKE 'bulk%' AND id % 2 = 1`);
    await db.execute(sql`
      INSERT INTO learner_coverage (platform_id, user_id, referential_id, referential_version, required_minutes, credited_minutes,
        validated_minutes, covered_competencies, total_competencies, status, domains)
      SELECT ${platform.id}, id, ${socle28.id}, ${socle28.version}, ${REQUIRED}, id % 1500, id % 1500, 0, 1, 'in_progress', '[]'::jsonb
        FROM users WHERE sub LIKE 'bulk%'`);
    await db.execute(sql`ANALYZE`);
    for (const sort of ['missing', 'total'] as const) {
      const walk = keyedWalk({ platformId: platform.id, referential: socle28, courseId: course.id, sort, ascending: false, cursor: { value: 900, userId: 1_000_000 }, limit: 26 });
      const plan = (await queryRows<{ 'QUERY PLAN': string }>(db, sql`EXPLAIN ${walk}`)).map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(new RegExp(`Index (Only )?Scan Backward using learner_coverage_${sort === 'missing' ? 'missing' : 'validated'}_idx`));
      expect(plan).not.toMatch(/\bSort\b/);
      expect(plan).not.toMatch(/hashed SubPlan|Seq Scan on course_learners|Seq Scan on course_members cm/);
    }
    const p = await page('missing', 'desc', 25);
    expect(p.total).toBe(cohort.length + 3000);
    expect((await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM course_learners WHERE course_id = ${course.id}`))[0]?.n).toBe(7 + 1500);
    await db.execute(sql`DELETE FROM users WHERE sub LIKE 'bulk%'`);
  });
});
