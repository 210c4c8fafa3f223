/**
 * The instructor's cohort: every learner of a course (the roster from Names and Roles, and anyone with events in
 * it) with their stored coverage per domain, from `courseView`, sorted and paginated for the cohort page and the
 * gradebook publication. Members whose roles in the course include no Learner role (teachers) are left out.
 */
import { sql } from 'drizzle-orm';
import { courseView } from '../coverage/read';
import type { CoverageDeps } from '../coverage/deps';
import { type Executor, queryRows } from '../db/store';
import type { Course, Platform } from '../identity/records';

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

export type SortKey = 'name' | 'total' | `domain:${string}`;
export type SortDir = 'asc' | 'desc';

const collator = new Intl.Collator('fr', { sensitivity: 'base', numeric: true });
export const displayName = (l: { user: { sub: string; name: string | null } }) => l.user.name ?? l.user.sub;

/** Sorts learners by name, total validated hours or one domain's validated hours (ties by name). */
export function sortLearners(learners: readonly CohortLearner[], key: SortKey, dir: SortDir): CohortLearner[] {
  const value = (l: CohortLearner): number => {
    if (key === 'total') return l.validatedHours ?? 0;
    const code = key.slice('domain:'.length);
    return l.domains.find((d) => d.code === code)?.validatedHours ?? 0;
  };
  const byName = (a: CohortLearner, b: CohortLearner) => collator.compare(displayName(a), displayName(b)) || collator.compare(a.user.sub, b.user.sub);
  const sign = dir === 'asc' ? 1 : -1;
  return [...learners].sort((a, b) => (key === 'name' ? sign * byName(a, b) : sign * (value(a) - value(b)) || byName(a, b)));
}
