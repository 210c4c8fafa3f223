import { and, desc, eq, isNotNull, sql } from 'drizzle-orm';
import { xapiActivities, xapiStatements } from '../db/schema';
import type { Executor } from '../db/store';

/** How many of the latest statements about an activity its definition is gathered from. */
const DEFINITION_STATEMENTS = 50;

type Definition = Record<string, unknown>;

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Merges definitions oldest first: language maps (name, description) keep every language, other properties the latest. */
function mergeDefinitions(definitions: readonly Definition[]): Definition {
  const merged: Definition = {};
  for (const definition of definitions) {
    for (const [property, value] of Object.entries(definition)) {
      const before = merged[property];
      merged[property] = (property === 'name' || property === 'description') && isMap(before) && isMap(value) ? { ...before, ...value } : value;
    }
  }
  return merged;
}

/**
 * The Activity object of the Activities resource: the definitions carried by the platform's latest statements about
 * it, else the name Socle recorded for it, else only its id. An unrestricted LRS client (no platform) reads the
 * definitions of the statements it sent (`keyId`).
 */
export async function activityObject(ex: Executor, platformId: number | undefined, activityId: string, keyId?: number) {
  const bare = { objectType: 'Activity' as const, id: activityId };
  if (platformId === undefined && keyId === undefined) return bare;
  const definition = sql<unknown>`${xapiStatements.statement} -> 'object' -> 'definition'`;
  const rows = await ex
    .select({ definition })
    .from(xapiStatements)
    .where(
      and(
        platformId === undefined ? eq(xapiStatements.keyId, keyId as number) : eq(xapiStatements.platformId, platformId),
        eq(xapiStatements.objectId, activityId),
        isNotNull(definition),
      ),
    )
    .orderBy(desc(xapiStatements.seq))
    .limit(DEFINITION_STATEMENTS);
  const definitions = rows.map((r) => r.definition).filter(isMap).reverse();
  if (definitions.length) return { ...bare, definition: mergeDefinitions(definitions) };
  if (platformId === undefined) return bare;
  const [known] = await ex
    .select({ name: xapiActivities.name })
    .from(xapiActivities)
    .where(and(eq(xapiActivities.platformId, platformId), eq(xapiActivities.activityIri, activityId)));
  return known?.name ? { ...bare, definition: { name: { und: known.name } } } : bare;
}
