/**
 * The instructor's cohort: every learner of a course (the roster from Names and Roles, and anyone with events in
 * it) with their stored coverage per domain, from `courseView`, sorted and paginated for the cohort page and the
 * gradebook publication. Members whose roles in the course include no Learner role (teachers) are left out.
 */
import { type SQL, sql } from 'drizzle-orm';
import { compileRules, computeCoverage } from '../domain/coverage';
import { courseReferential, courseView, hours, type StoredCoverageRow, storedFigures } from '../coverage/read';
import type { CoverageDeps } from '../coverage/deps';
import { refreshLearners } from '../coverage/engine';
import { type Executor, queryRows } from '../db/store';
import type { Course, Platform } from '../identity/records';
import { RISK_ORDER } from '../domain/forecast';
import { forecastDay, type LearnerForecast, referentialForecasts, teacherIn } from '../programmes/forecasts';

export type CourseView = Awaited<ReturnType<typeof courseView>>;
export type CohortLearner = CourseView['learners'][number] & { userId: number };

export interface Cohort {
  referential: CourseView['referential'];
  requiredHours: number | null;
  domains: CourseView['domains'];
  learners: CohortLearner[];
}

const PAGE = 500;
const LEARNER_ROLE = /#Learner$|^Learner$/;

/** A member whose roles in the course are known and include no Learner role (teacher, manager) is not in the cohort. */
export function inCohort(roles: readonly string[] | null | undefined): boolean {
  return !roles || roles.length === 0 || roles.some((r) => LEARNER_ROLE.test(r));
}

/** Every learner of the course with their coverage (all pages of `courseView`). */
export async function loadCohort(ex: Executor, deps: CoverageDeps, platform: Platform, course: Course): Promise<Cohort> {
  let after: number | undefined;
  let first: CourseView | undefined;
  const learners: CourseView['learners'] = [];
  for (;;) {
    const view = await courseView(ex, deps, platform, course, { limit: PAGE, ...(after !== undefined ? { after } : {}) });
    first ??= view;
    learners.push(...view.learners);
    if (!view.next) break;
    after = Number(view.next);
  }
  const members = await queryRows<{ id: number; sub: string; roles: string[] | null }>(
    ex,
    sql`SELECT u.id, u.sub, cm.roles FROM users u LEFT JOIN course_members cm ON cm.user_id = u.id AND cm.course_id = ${course.id}
        WHERE u.platform_id = ${platform.id} AND u.sub IN (SELECT jsonb_array_elements_text(${JSON.stringify(learners.map((l) => l.user.sub))}::jsonb))`,
  );
  const bySub = new Map(members.map((m) => [m.sub, m]));
  const cohort: CohortLearner[] = [];
  for (const l of learners) {
    const m = bySub.get(l.user.sub);
    if (!m) continue;
    if (!inCohort(m.roles)) continue;
    cohort.push({ ...l, userId: m.id });
  }
  const view = first as CourseView;
  return { referential: view.referential, requiredHours: view.requiredHours, domains: view.domains, learners: cohort };
}

export type SortKey = 'missing' | 'name' | 'total' | 'risk' | `domain:${string}`;

/** A keyed sort: paged by a (value, user id) cursor. */
export const isKeyed = (sort: string) => sort === 'missing' || sort === 'total' || sort === 'risk';

/** The rank of a forecast in the "by risk" order (at risk first, …, done, then learners in no programme). */
export const riskRank = (f: LearnerForecast | undefined) => (f ? RISK_ORDER.indexOf(f.status) : RISK_ORDER.length);
export type SortDir = 'asc' | 'desc';

const collator = new Intl.Collator('fr', { sensitivity: 'base', numeric: true });
export const displayName = (l: { user: { sub: string; name: string | null } }) => l.user.name ?? l.user.sub;

/** Sorts learners by name, missing or total validated hours or one domain's validated hours (ties by name). */
export function sortLearners(learners: readonly CohortLearner[], key: SortKey, dir: SortDir): CohortLearner[] {
  const value = (l: CohortLearner): number => {
    if (key === 'total') return l.validatedHours ?? 0;
    if (key === 'missing') return Math.max(0, (l.requiredHours ?? 0) - (l.validatedHours ?? 0));
    const code = key.slice('domain:'.length);
    return l.domains.find((d) => d.code === code)?.validatedHours ?? 0;
  };
  const byName = (a: CohortLearner, b: CohortLearner) => collator.compare(displayName(a), displayName(b)) || collator.compare(a.user.sub, b.user.sub);
  const sign = dir === 'asc' ? 1 : -1;
  return [...learners].sort((a, b) => (key === 'name' ? sign * byName(a, b) : sign * (value(a) - value(b)) || byName(a, b)));
}

/**
 * Where a cohort page starts: after (or, going back, before) a learner of a keyed sort — the sort's value and the
 * user id — or at an offset (sorts by name or by a domain). Written in links as `k<value>_<userId>` or `o<offset>`.
 */
export type CohortCursor = { kind: 'key'; value: number; userId: number } | { kind: 'offset'; offset: number };
export const CURSOR_PATTERN = /^(k-?\d{1,9}_\d{1,10}|o\d{1,9})$/;

export function parseCursor(text: string): CohortCursor {
  if (!CURSOR_PATTERN.test(text)) throw new Error(`not a cohort cursor: ${text}`);
  if (text.startsWith('o')) return { kind: 'offset', offset: Number(text.slice(1)) };
  const [value, userId] = text.slice(1).split('_');
  return { kind: 'key', value: Number(value), userId: Number(userId) };
}
export const cursorText = (c: CohortCursor) => (c.kind === 'offset' ? `o${c.offset}` : `k${c.value}_${c.userId}`);

export interface CohortPage {
  referential: CourseView['referential'];
  requiredHours: number | null;
  domains: CourseView['domains'];
  /** Learners in the whole cohort. */
  total: number;
  /** Each with their forecast in the programme of the course's référentiel version they belong to (null: none). */
  learners: (CohortLearner & { missingHours: number | null; forecast: LearnerForecast | null })[];
  /** Cursors of the next page (`after`) and of the previous one (`before` for keyed sorts, `after` for offsets). */
  next: { after: string } | null;
  previous: { after: string } | { before: string } | null;
}

/** Known roles that are all other than Learner (teacher, manager): not in the cohort (as `inCohort`). */
const notLearner = (courseId: number, user: SQL) => teacherIn(sql`${courseId}`, user);

/**
 * The walk of a keyed cohort page: the stored coverages of the course's référentiel version on the platform, in the
 * order of `learner_coverage_missing_idx` (or `_validated_idx`) from the cursor, each checked in the course (its
 * events or its roster, by their primary keys: one EXISTS over a UNION ALL, so that PostgreSQL probes per row and
 * stops at `limit` rather than hashing the whole course) and not a teacher.
 */
export function keyedWalk(q: {
  platformId: number;
  referential: { id: string; version: string };
  courseId: number;
  sort: 'missing' | 'total';
  ascending: boolean;
  cursor?: { value: number; userId: number };
  limit: number;
}): SQL {
  const column = sql.raw(q.sort === 'missing' ? 'missing_minutes' : 'validated_minutes');
  const order = sql.raw(q.ascending ? 'ASC' : 'DESC');
  const beyond = q.cursor ? sql`AND (lc.${column}, lc.user_id) ${sql.raw(q.ascending ? '>' : '<')} (${q.cursor.value}::int, ${q.cursor.userId}::int)` : sql``;
  return sql`SELECT lc.user_id, lc.${column} AS value FROM learner_coverage lc
     WHERE lc.platform_id = ${q.platformId} AND lc.referential_id = ${q.referential.id} AND lc.referential_version = ${q.referential.version} ${beyond}
       AND EXISTS (SELECT 1 FROM course_learners cl WHERE cl.course_id = ${q.courseId} AND cl.user_id = lc.user_id
                   UNION ALL
                   SELECT 1 FROM course_members cm WHERE cm.course_id = ${q.courseId} AND cm.user_id = lc.user_id AND cm.status <> 'deleted')
       AND NOT ${notLearner(q.courseId, sql`lc.user_id`)}
     ORDER BY lc.${column} ${order}, lc.user_id ${order} LIMIT ${q.limit}`;
}

/**
 * One page of a course's cohort (as `loadCohort`'s learners: the roster but its teachers, and whoever has events
 * in the course, the latter from `course_learners`), in SQL, never the whole course in memory.
 *
 * Sorted by missing hours (required − validated) or by total validated hours, a page is a keyset page walked on the
 * index `learner_coverage_missing_idx` / `_validated_idx` from the cursor, each learner checked in the course by its
 * primary keys; learners without stored coverage yet (nothing validated: all hours missing) are merged in at that
 * value. Ties go by user id, in the sort's direction. Sorted by name or by one domain's hours, a page is an offset
 * page of the whole cohort sorted by PostgreSQL. Learners of the page whose coverage is stale are recomputed before
 * their figures are read (the order is the stored one).
 */
export async function cohortPage(
  ex: Executor,
  deps: CoverageDeps,
  platform: Platform,
  course: Course,
  options: { sort: SortKey; dir: SortDir; limit: number; after?: CohortCursor; before?: CohortCursor },
): Promise<CohortPage> {
  const referential = await courseReferential(ex, deps, course);
  const empty = computeCoverage(compileRules(referential), [], []);
  const ref = sql`lc.platform_id = ${platform.id} AND lc.referential_id = ${referential.id} AND lc.referential_version = ${referential.version}`;
  const [counted] = await queryRows<{ n: number }>(
    ex,
    sql`SELECT ((SELECT count(*) FROM course_learners cl WHERE cl.course_id = ${course.id})
              + (SELECT count(*) FROM course_members cm WHERE cm.course_id = ${course.id} AND cm.status <> 'deleted'
                   AND NOT EXISTS (SELECT 1 FROM course_learners cl WHERE cl.course_id = ${course.id} AND cl.user_id = cm.user_id))
              - (SELECT count(*) FROM course_members cm WHERE cm.course_id = ${course.id} AND ${notLearner(course.id, sql`cm.user_id`)}
                   AND (cm.status <> 'deleted' OR EXISTS (SELECT 1 FROM course_learners cl WHERE cl.course_id = ${course.id} AND cl.user_id = cm.user_id))))::int AS n`,
  );
  const total = counted?.n ?? 0;
  const limit = options.limit;
  let ids: number[];
  let next: CohortPage['next'] = null;
  let previous: CohortPage['previous'] = null;
  const today = await forecastDay(ex, platform.id, deps.clock());
  let forecasts: Map<number, LearnerForecast> | undefined;
  const keyedPage = (walked: { user_id: number; value: number }[], more: boolean, back: boolean, cursor: CohortCursor | undefined) => {
    const page = walked.slice(0, limit);
    if (back) page.reverse();
    const first = page[0];
    const last = page[page.length - 1];
    const keyed = (r: { value: number; user_id: number }) => cursorText({ kind: 'key', value: r.value, userId: r.user_id });
    return {
      ids: page.map((r) => r.user_id),
      next: last && (back || more) ? { after: keyed(last) } : null,
      previous: first && (back ? more : cursor !== undefined) ? { before: keyed(first) } : null,
    };
  };
  if (options.sort === 'risk') {
    // by risk: every learner of the cohort ranked by their forecast (computed for the cohort's learners, ids and
    // ranks only in memory), then the same keyset pages as the other keyed sorts, on (rank, user id)
    const back = options.before !== undefined;
    const cursor = options.before ?? options.after;
    if (cursor && cursor.kind !== 'key') throw new Error('a keyed sort pages with a keyed cursor');
    const members = await queryRows<{ user_id: number }>(
      ex,
      sql`SELECT m.user_id FROM (SELECT user_id FROM course_learners WHERE course_id = ${course.id}
                                 UNION SELECT user_id FROM course_members WHERE course_id = ${course.id} AND status <> 'deleted') m
           WHERE NOT ${notLearner(course.id, sql`m.user_id`)}`,
    );
    forecasts = await referentialForecasts(ex, platform.id, referential, members.map((m) => m.user_id), today, deps);
    const ascending = (options.dir === 'asc') !== back;
    const sign = ascending ? 1 : -1;
    const ranked = members
      .map((m) => ({ user_id: m.user_id, value: riskRank(forecasts?.get(m.user_id)) }))
      .filter((r) => !cursor || sign * (r.value - cursor.value || r.user_id - cursor.userId) > 0)
      .sort((a, b) => sign * (a.value - b.value || a.user_id - b.user_id));
    ({ ids, next, previous } = keyedPage(ranked.slice(0, limit + 1), ranked.length > limit, back, cursor));
  } else if (options.sort === 'missing' || options.sort === 'total') {
    /** What a learner without stored coverage counts for: all hours missing, none validated. */
    const none = options.sort === 'missing' ? empty.requiredMinutes ?? 0 : 0;
    const back = options.before !== undefined;
    const cursor = (options.before ?? options.after) as Extract<CohortCursor, { kind: 'key' }> | undefined;
    if (cursor && cursor.kind !== 'key') throw new Error('a keyed sort pages with a keyed cursor');
    // the walk's own direction: the sort's, reversed when going back
    const ascending = (options.dir === 'asc') !== back;
    const order = sql.raw(ascending ? 'ASC' : 'DESC');
    const beyond = (value: SQL | number, user: SQL) =>
      cursor ? sql`AND (${value}, ${user}) ${sql.raw(ascending ? '>' : '<')} (${cursor.value}::int, ${cursor.userId}::int)` : sql``;
    const walked = await queryRows<{ user_id: number; value: number }>(
      ex,
      keyedWalk({ platformId: platform.id, referential, courseId: course.id, sort: options.sort, ascending, limit: limit + 1, ...(cursor ? { cursor } : {}) }),
    );
    // learners without stored coverage all stand at `none`: read only when the page reaches that value
    const reaches = !cursor || (ascending ? none >= cursor.value : none <= cursor.value);
    const uncovered = reaches
      ? await queryRows<{ user_id: number; value: number }>(
          ex,
          sql`SELECT m.user_id, ${none}::int AS value
                FROM (SELECT user_id FROM course_learners WHERE course_id = ${course.id}
                      UNION SELECT user_id FROM course_members WHERE course_id = ${course.id} AND status <> 'deleted') m
               WHERE NOT EXISTS (SELECT 1 FROM learner_coverage lc WHERE lc.user_id = m.user_id AND ${ref})
                 AND NOT ${notLearner(course.id, sql`m.user_id`)} ${beyond(none, sql`m.user_id`)}
               ORDER BY m.user_id ${order} LIMIT ${limit + 1}`,
        )
      : [];
    const sign = ascending ? 1 : -1;
    const merged = [...walked, ...uncovered].sort((a, b) => sign * (a.value - b.value || a.user_id - b.user_id)).slice(0, limit + 1);
    ({ ids, next, previous } = keyedPage(merged, merged.length > limit, back, cursor));
  } else {
    const start = options.after ?? options.before;
    const offset = start?.kind === 'offset' ? start.offset : 0;
    const dir = sql.raw(options.dir === 'asc' ? 'ASC' : 'DESC');
    const name = sql`coalesce(u.name, u.sub) COLLATE "und-x-icu" ${dir}, u.sub ${dir}, u.id ${dir}`;
    const orderBy =
      options.sort === 'name'
        ? name
        : sql`coalesce((SELECT (d->>'validatedMinutes')::int FROM jsonb_array_elements(lc.domains) d WHERE d->>'code' = ${options.sort.slice('domain:'.length)}), 0) ${dir},
              coalesce(u.name, u.sub) COLLATE "und-x-icu", u.sub, u.id`;
    const rows = await queryRows<{ user_id: number }>(
      ex,
      sql`SELECT u.id AS user_id
            FROM (SELECT user_id FROM course_learners WHERE course_id = ${course.id}
                  UNION SELECT user_id FROM course_members WHERE course_id = ${course.id} AND status <> 'deleted') m
            JOIN users u ON u.id = m.user_id
            LEFT JOIN learner_coverage lc ON lc.user_id = m.user_id AND ${ref}
           WHERE NOT ${notLearner(course.id, sql`m.user_id`)}
           ORDER BY ${orderBy} LIMIT ${limit + 1} OFFSET ${offset}`,
    );
    ids = rows.slice(0, limit).map((r) => r.user_id);
    if (rows.length > limit) next = { after: cursorText({ kind: 'offset', offset: offset + limit }) };
    if (offset > 0) previous = { after: cursorText({ kind: 'offset', offset: Math.max(0, offset - limit) }) };
  }
  // three lookups by primary key rather than one join: a join planned on stale statistics (a bulk recompute not
  // analysed yet) can scan learner_coverage once per learner of the page
  const list = sql`string_to_array(${ids.join(',')}, ',')::int[]`;
  const details = async (): Promise<StoredCoverageRow[]> => {
    const users = await queryRows<{ user_id: number; sub: string; name: string | null }>(ex, sql`SELECT id AS user_id, sub, name FROM users WHERE id = ANY(${list})`);
    const stored = await queryRows<Omit<StoredCoverageRow, 'sub' | 'name' | 'dirty'>>(
      ex,
      sql`SELECT lc.user_id, lc.required_minutes, lc.credited_minutes, lc.validated_minutes, lc.status, lc.domains, lc.computed_at
            FROM learner_coverage lc WHERE lc.user_id = ANY(${list}) AND ${ref}`,
    );
    const dirty = new Set((await queryRows<{ user_id: number }>(ex, sql`SELECT user_id FROM coverage_dirty WHERE user_id = ANY(${list})`)).map((r) => r.user_id));
    const byUser = new Map(stored.map((r) => [r.user_id, r]));
    const none = { required_minutes: null, credited_minutes: null, validated_minutes: null, status: null, domains: null, computed_at: null };
    return users.map((u) => ({ ...none, ...byUser.get(u.user_id), ...u, dirty: dirty.has(u.user_id) }));
  };
  let rows = ids.length ? await details() : [];
  const dirty = rows.filter((r) => r.dirty).map((r) => r.user_id);
  if (dirty.length) {
    await refreshLearners(ex, deps, platform.id, dirty);
    rows = await details();
  }
  forecasts ??= await referentialForecasts(ex, platform.id, referential, ids, today);
  const byId = new Map(rows.map((r) => [r.user_id, r]));
  const learners = ids.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    const required = r.required_minutes ?? empty.requiredMinutes;
    return [
      {
        userId: r.user_id,
        ...storedFigures(r, empty),
        missingHours: required === null ? null : hours(Math.max(0, required - (r.validated_minutes ?? 0))),
        forecast: forecasts?.get(r.user_id) ?? null,
      },
    ];
  });
  return {
    referential: { id: referential.id, version: referential.version, title: referential.title },
    requiredHours: hours(empty.requiredMinutes),
    domains: empty.domains.map((d) => ({ code: d.code, title: d.title, requiredHours: hours(d.requiredMinutes) })),
    total,
    learners,
    next,
    previous,
  };
}
