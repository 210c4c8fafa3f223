/**
 * What a weekly digest says, for one recipient: for each course they teach and, for a manager (an administrator of
 * the platform), each programme of the platform — the learners newly at risk (at risk now, not in the recipient's
 * previous digest), the domains nobody has covered (no learner has validated minutes in them) and the mapped
 * activities no learner ever completed. Read only: the worker records what it sent.
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { alertDigests, alertPreferences, courseMembers, courses, users } from '../db/schema';
import { type Executor, inList, queryRows } from '../db/store';
import { type Locale, pickLocale } from '../domain/locale';
import { socleRoles } from '../domain/roles';
import type { ReferentialVersion } from '../domain/coverage';
import { SocleError } from '../domain/errors';
import { courseReferential } from '../coverage/read';
import { coverageDeps } from '../coverage/deps';
import { type LearnerForecast, programmeForecasts, referentialForecasts, teacherIn } from '../programmes/forecasts';
import { listProgrammes } from '../programmes/service';

export interface AtRiskLearner {
  userId: number;
  name: string;
  dueDate: string;
  minutesLeft: number;
}

export interface DigestSection {
  /** `course:<id>` or `programme:<id>`: the key of the statuses kept from one digest to the next. */
  scope: string;
  kind: 'course' | 'programme';
  title: string;
  learners: number;
  /** Every learner at risk now; `newlyAtRisk` those of them the previous digest did not name. */
  atRisk: AtRiskLearner[];
  newlyAtRisk: AtRiskLearner[];
  uncoveredDomains: { code: string; title: string }[];
  neverCompleted: { name: string; courseTitle: string | null }[];
}

export interface Digest {
  userId: number;
  platformId: number;
  name: string | null;
  email: string | null;
  locale: Locale;
  week: string;
  sections: DigestSection[];
  /** Nothing new to say: no newly at risk learner, no uncovered domain, no activity never completed. */
  empty: boolean;
}

export interface Recipient {
  userId: number;
  platformId: number;
  name: string | null;
  email: string | null;
  locale: Locale;
  manager: boolean;
}

/**
 * The people of a platform who receive digests: teachers and administrators with an address who did not opt out;
 * with `pendingWeek`, only those whose digest of that week is neither done nor claimed by a live lease.
 */
export async function recipients(ex: Executor, platformId: number, only: { userId?: number; pendingWeek?: string } = {}): Promise<Recipient[]> {
  const rows = await ex
    .select({ userId: alertPreferences.userId, platformId: alertPreferences.platformId, email: alertPreferences.email, manager: alertPreferences.manager, name: users.name, locale: users.locale })
    .from(alertPreferences)
    .innerJoin(users, eq(users.id, alertPreferences.userId))
    .where(
      and(
        eq(alertPreferences.platformId, platformId),
        isNotNull(alertPreferences.email),
        isNull(alertPreferences.optedOutAt),
        ...(only.userId !== undefined ? [eq(alertPreferences.userId, only.userId)] : []),
        ...(only.pendingWeek !== undefined
          ? [
              sql`NOT EXISTS (SELECT 1 FROM ${alertDigests} d WHERE d.user_id = ${alertPreferences.userId} AND d.week = ${only.pendingWeek}
                                AND (d.status <> 'sending' OR d.lease_until >= now()))`,
            ]
          : []),
      ),
    )
    .orderBy(alertPreferences.userId);
  return rows.map((r) => ({ ...r, locale: pickLocale(r.locale) }));
}

/** The courses a person teaches (an active membership with an instructor's role). */
export async function taughtCourses(ex: Executor, userId: number) {
  const rows = await ex
    .select({ id: courses.id, contextId: courses.contextId, title: courses.title, referentialId: courses.referentialId, referentialVersion: courses.referentialVersion, roles: courseMembers.roles })
    .from(courseMembers)
    .innerJoin(courses, eq(courses.id, courseMembers.courseId))
    .where(and(eq(courseMembers.userId, userId), eq(courseMembers.status, 'active')))
    .orderBy(courses.id);
  return rows.filter((r) => socleRoles(r.roles).includes('instructor')).map(({ roles: _roles, ...course }) => course);
}

/** The learners of some courses, as the programmes count them (roster or events, not the courses' teachers). */
export async function learnersOf(ex: Executor, courseIds: readonly number[]): Promise<number[]> {
  if (!courseIds.length) return [];
  const rows = await queryRows<{ user_id: number }>(
    ex,
    sql`WITH c AS (SELECT course_id, user_id FROM course_members WHERE course_id IN (${inList(courseIds)}) AND status <> 'deleted'
                   UNION SELECT course_id, user_id FROM course_learners WHERE course_id IN (${inList(courseIds)}))
        SELECT DISTINCT user_id FROM c WHERE NOT ${teacherIn(sql`c.course_id`, sql`c.user_id`)} ORDER BY user_id`,
  );
  return rows.map((r) => r.user_id);
}

/** The domains of a référentiel version in which none of `userIds` has validated minutes. */
export async function uncoveredDomains(ex: Executor, platformId: number, referential: ReferentialVersion, userIds: readonly number[]) {
  if (!userIds.length) return [];
  const covered = await queryRows<{ code: string }>(
    ex,
    sql`SELECT DISTINCT d->>'code' AS code FROM learner_coverage lc, jsonb_array_elements(lc.domains) d
         WHERE lc.platform_id = ${platformId} AND lc.referential_id = ${referential.id} AND lc.referential_version = ${referential.version}
           AND lc.user_id IN (${inList(userIds)}) AND (d->>'validatedMinutes')::int > 0`,
  );
  const done = new Set(covered.map((c) => c.code));
  return referential.domains.filter((d) => !done.has(d.code)).map((d) => ({ code: d.code, title: d.title }));
}

/** The activities mapped in some courses (to this référentiel version), still in the course, that no learner ever completed. */
export async function neverCompleted(ex: Executor, courseIds: readonly number[], referential: { id: string; version: string }) {
  if (!courseIds.length) return [];
  return queryRows<{ name: string; courseTitle: string | null }>(
    ex,
    sql`SELECT coalesce(ca.name, xa.name, m.activity_iri) AS name, c.title AS "courseTitle"
          FROM (SELECT DISTINCT course_id, activity_iri FROM activity_mappings
                 WHERE course_id IN (${inList(courseIds)}) AND referential_id = ${referential.id} AND referential_version = ${referential.version}) m
          JOIN courses c ON c.id = m.course_id
          LEFT JOIN course_activities ca ON ca.course_id = m.course_id AND ca.iri = m.activity_iri
          LEFT JOIN xapi_activities xa ON xa.platform_id = c.platform_id AND xa.activity_iri = m.activity_iri
         WHERE ca.gone_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM completion_events e WHERE e.course_id = m.course_id AND e.activity_iri = m.activity_iri
                             AND e.kind = 'completed' AND NOT e.voided)
         ORDER BY c.id, ca.section_number NULLS LAST, ca.position, 1`,
  );
}

/** What a digest is computed at: today in the institution's time zone, and the recipient's previous statuses. */
export interface DigestAt {
  today: string;
  /** Scope → the learners the previous digest found at risk. */
  previous: Record<string, number[]>;
}

const atRiskOf = (forecasts: Iterable<LearnerForecast>, previous: readonly number[] | undefined) => {
  const atRisk = [...forecasts]
    .filter((f) => f.status === 'at_risk')
    .map((f) => ({ userId: f.userId, name: f.user.name ?? f.user.sub, dueDate: f.dueDate, minutesLeft: f.missingMinutes }))
    .sort((a, b) => b.minutesLeft - a.minutesLeft || a.name.localeCompare(b.name, 'fr'));
  const before = new Set(previous ?? []);
  return { atRisk, newlyAtRisk: atRisk.filter((l) => !before.has(l.userId)) };
};

type CourseRow = { id: number; contextId: string; title: string | null; referentialId: string | null; referentialVersion: string | null };

/**
 * The section of one course: its learners at risk in their programme of the course's référentiel version, the
 * domains none of them has covered, the course's mapped activities never completed. Undefined for a course with
 * no référentiel yet (nothing mapped: nothing to say).
 */
export async function courseSection(ctx: AppContext, ex: Executor, platformId: number, course: CourseRow, at: DigestAt): Promise<DigestSection | undefined> {
  const deps = coverageDeps(ctx, ex);
  let referential: ReferentialVersion;
  try {
    referential = await courseReferential(ex, deps, course);
  } catch (error) {
    if (SocleError.is(error, 'not_found')) return undefined;
    throw error;
  }
  const scope = `course:${course.id}`;
  const learners = await learnersOf(ex, [course.id]);
  const forecasts = await referentialForecasts(ex, platformId, referential, learners, at.today, deps);
  return {
    scope,
    kind: 'course',
    title: course.title ?? course.contextId,
    learners: learners.length,
    ...atRiskOf(forecasts.values(), at.previous[scope]),
    uncoveredDomains: await uncoveredDomains(ex, platformId, referential, learners),
    neverCompleted: learners.length ? await neverCompleted(ex, [course.id], referential) : [],
  };
}

/** The sections of the platform's programmes (a manager's digest). */
export async function programmeSections(ctx: AppContext, ex: Executor, platformId: number, at: DigestAt): Promise<DigestSection[]> {
  const deps = coverageDeps(ctx, ex);
  const sections: DigestSection[] = [];
  for (const programme of await listProgrammes(ex, platformId)) {
    const scope = `programme:${programme.id}`;
    const forecasts = await programmeForecasts(ex, platformId, programme.id, at.today, deps);
    const referential = await deps.lookup(programme.referential.id, programme.referential.version);
    const learners = forecasts.map((f) => f.userId);
    sections.push({
      scope,
      kind: 'programme',
      title: programme.name,
      learners: forecasts.length,
      ...atRiskOf(forecasts, at.previous[scope]),
      uncoveredDomains: referential ? await uncoveredDomains(ex, platformId, referential, learners) : [],
      neverCompleted: learners.length ? await neverCompleted(ex, programme.courses.map((c) => c.id), programme.referential) : [],
    });
  }
  return sections;
}

/** A recipient's digest of the week: their courses, and the programmes for a manager. */
export async function buildDigest(ctx: AppContext, ex: Executor, r: Recipient, at: DigestAt & { week: string }): Promise<Digest> {
  const sections: DigestSection[] = [];
  for (const course of await taughtCourses(ex, r.userId)) {
    const section = await courseSection(ctx, ex, r.platformId, course, at);
    if (section) sections.push(section);
  }
  if (r.manager) sections.push(...(await programmeSections(ctx, ex, r.platformId, at)));
  const empty = sections.every((s) => !s.newlyAtRisk.length && !s.uncoveredDomains.length && !s.neverCompleted.length);
  return { userId: r.userId, platformId: r.platformId, name: r.name, email: r.email, locale: r.locale, week: at.week, sections, empty };
}
