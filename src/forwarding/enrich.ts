import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
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
  const objectIds = mappedObjectIds(statements);
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
  return applyMappings(statements, rows);
}

/** The object ids whose mappings enrichment needs. */
export function mappedObjectIds(statements: readonly XapiStatement[]): string[] {
  return [...new Set(statements.map((s) => (s.object as { id?: string } | undefined)?.id).filter((id): id is string => !!id))];
}

/** One mapping of an object id, as `enrichWithMappings` reads them (callers that read them in a query of their own). */
export interface ObjectMapping {
  activityIri: string;
  contextId: string;
  id: string;
  version: string;
  competency: string;
  minutes: number;
}

/**
 * The SQL that reads the mappings of `objectIds` on the platform, as JSON rows of `ObjectMapping`, for a caller that
 * reads them in the same round trip as other things (a scalar subquery: one json value).
 */
export function objectMappingsJson(platformId: number, objectIds: readonly string[]): SQL {
  return sql`(SELECT coalesce(json_agg(json_build_object('activityIri', m.activity_iri, 'contextId', c.context_id, 'id', m.referential_id,
                'version', m.referential_version, 'competency', m.competency_key, 'minutes', m.minutes)), '[]')
              FROM activity_mappings m JOIN courses c ON c.id = m.course_id
              WHERE c.platform_id = ${platformId} AND m.activity_iri IN (SELECT jsonb_array_elements_text(${JSON.stringify(objectIds)}::jsonb)))`;
}

/** The statements with the mappings of their activity (`rows`: those of their object ids); unmapped ones are returned as they are (same object). */
export function applyMappings(statements: XapiStatement[], rows: readonly ObjectMapping[]): XapiStatement[] {
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
