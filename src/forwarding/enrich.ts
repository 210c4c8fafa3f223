import { and, eq, inArray } from 'drizzle-orm';
import { activityMappings, courses } from '../db/schema';
import type { Executor } from '../db/store';
import type { ReferentialRef } from '../domain/referential';
import { SOCLE_XAPI, type XapiStatement } from '../domain/xapi';

/**
 * Forwarded statements carry the competencies and hours of their activity when it is mapped (Socle's profile
 * extension `mapped-competencies`).
 */
export const MAPPED_COMPETENCIES = 'https://w3id.org/xapi/socle/extensions/mapped-competencies';

interface MappedCompetency extends ReferentialRef {
  competency: string;
  minutes: number;
}

/** The Moodle course a statement names in `contextActivities.parent`/`grouping` (found by its IRI, not its position). */
function courseContextIds(statement: XapiStatement): string[] {
  const ctx = (statement.context ?? {}) as { contextActivities?: Record<string, { id?: string }[] | undefined> };
  const activities = [...(ctx.contextActivities?.parent ?? []), ...(ctx.contextActivities?.grouping ?? [])];
  return activities.flatMap((a) => /\/course\/view\.php\?id=(\d+)$/.exec(a.id ?? '')?.slice(1) ?? []);
}

/**
 * Statements forwarded to the institution's LRS carry what their activity credits when it is mapped: the
 * `mapped-competencies` context extension of Socle's profile (référentiel, competency key, minutes) and the
 * profile version in `contextActivities.category`. Statements whose activity is not mapped go unchanged. When the
 * statement names its course, only that course's mapping counts; otherwise every course of the platform that maps it.
 */
export async function enrichWithMappings(ex: Executor, statements: XapiStatement[], platformId: number): Promise<XapiStatement[]> {
  const objectIds = [...new Set(statements.map((s) => (s.object as { id?: string } | undefined)?.id).filter((id): id is string => !!id))];
  if (!objectIds.length) return statements;
  const rows = await ex
    .select({
      activityIri: activityMappings.activityIri,
      contextId: courses.contextId,
      id: activityMappings.referentialId,
      version: activityMappings.referentialVersion,
      competency: activityMappings.competencyKey,
      minutes: activityMappings.minutes,
    })
    .from(activityMappings)
    .innerJoin(courses, eq(courses.id, activityMappings.courseId))
    .where(and(eq(courses.platformId, platformId), inArray(activityMappings.activityIri, objectIds)));
  if (!rows.length) return statements;
  return statements.map((statement) => {
    const objectId = (statement.object as { id?: string } | undefined)?.id;
    const named = courseContextIds(statement);
    const mapped: MappedCompetency[] = rows
      .filter((r) => r.activityIri === objectId && (named.length === 0 || named.includes(r.contextId)))
      .map(({ id, version, competency, minutes }) => ({ id, version, competency, minutes }));
    if (!mapped.length) return statement;
    const context = { ...((statement.context ?? {}) as Record<string, unknown>) };
    const contextActivities = { ...((context.contextActivities ?? {}) as Record<string, unknown[]>) };
    const category = [...(contextActivities.category ?? [])] as { id?: string }[];
    if (!category.some((c) => c.id === SOCLE_XAPI.version)) {
      category.push({ objectType: 'Activity', id: SOCLE_XAPI.version, definition: { type: 'http://adlnet.gov/expapi/activities/profile' } } as { id: string });
    }
    contextActivities.category = category;
    context.contextActivities = contextActivities;
    context.extensions = { ...((context.extensions ?? {}) as Record<string, unknown>), [MAPPED_COMPETENCIES]: mapped };
    return { ...statement, context };
  });
}
