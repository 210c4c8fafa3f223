import { type SQL, sql } from 'drizzle-orm';
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
 * The mappings of a stored statement's activity (`statement`: an alias of `xapi_statements`), as a JSON array of
 * `ObjectMapping` (a scalar subquery: read in the same statement as the rows, e.g. the outbox's claim).
 */
export function statementMappingsJson(statement: string): SQL {
  const s = sql.raw(statement);
  return sql`(SELECT coalesce(json_agg(json_build_object('activityIri', m.activity_iri, 'contextId', c.context_id, 'id', m.referential_id,
                'version', m.referential_version, 'competency', m.competency_key, 'minutes', m.minutes)
                ORDER BY m.referential_id, m.referential_version, m.competency_key, c.context_id), '[]')
              FROM activity_mappings m JOIN courses c ON c.id = m.course_id
              WHERE c.platform_id = ${s}.platform_id AND m.activity_iri = ${s}.object_id)`;
}

/** One mapping of an activity, as `statementMappingsJson` reads them. */
export interface ObjectMapping {
  activityIri: string;
  contextId: string;
  id: string;
  version: string;
  competency: string;
  minutes: number;
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
