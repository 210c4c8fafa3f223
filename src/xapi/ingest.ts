import { type SQL, sql } from 'drizzle-orm';
import { afterCompletionStatements } from '../coverage/freshness';
import { completionEvents, xapiActivities, xapiStatements } from '../db/schema';
import type { Database, Executor } from '../db/store';
import { badRequest, conflict, type ErrorDetail, HttpError } from '../http/errors';
import { ensureCourse, ensureUser, type Platform } from '../identity';
import { contentHash, deterministicStatementId } from './ids';
import { enqueueStatements, enrichForForwarding, type XapiStatement } from './outbox';
import { platformActor, structuralErrors } from './validate';

export const VERBS = {
  completed: 'http://adlnet.gov/expapi/verbs/completed',
  passed: 'http://adlnet.gov/expapi/verbs/passed',
  uncompleted: 'https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted',
  voided: 'http://adlnet.gov/expapi/verbs/voided',
} as const;

/** Activity types that name a course in `contextActivities` (Moodle sends cmi5's). */
const COURSE_TYPES = new Set(['https://w3id.org/xapi/cmi5/activitytype/course', 'http://adlnet.gov/expapi/activities/course']);
/** Objects that are not learning activities a teacher would map (the site, a course, a section, an attempt…). */
const NOT_MAPPABLE_TYPES = new Set([
  ...COURSE_TYPES,
  'http://id.tincanapi.com/activitytype/lms',
  'http://id.tincanapi.com/activitytype/section',
  'http://adlnet.gov/expapi/activities/attempt',
  'http://adlnet.gov/expapi/activities/cmi.interaction',
  'http://adlnet.gov/expapi/activities/question',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

type Json = Record<string, unknown>;

interface Activity {
  id?: unknown;
  objectType?: unknown;
  definition?: { type?: unknown; name?: Record<string, unknown> };
}

interface Prepared {
  index: number;
  id: string;
  hash: string;
  explicitId: boolean;
  sub: string;
  statement: XapiStatement;
  verb: string;
  objectId: string;
  timestamp: Date;
  voidTarget?: string;
  completion?: { kind: 'completed' | 'uncompleted'; success: boolean | null; durationSeconds: number | null };
  course?: { contextId: string; title: string | null };
  activity?: { iri: string; name: string | null; moduleType: string | null };
}

export interface IngestResult {
  /** The statement ids, in the order received. */
  ids: string[];
  /** How many were new (the others were already stored with the same content). */
  stored: number;
}

function languageValue(map: Record<string, unknown> | undefined): string | null {
  if (!map) return null;
  for (const lang of ['fr', 'fr-FR', 'en', 'en-US', 'en-GB']) if (typeof map[lang] === 'string') return map[lang] as string;
  const first = Object.values(map).find((v) => typeof v === 'string');
  return (first as string | undefined) ?? null;
}

/** ISO 8601 duration (`PT1H2M3.5S`, `P1DT2H`) → whole seconds, or null. */
export function durationSeconds(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
    value,
  );
  if (!m) return null;
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return Math.round(
    (y ?? 0) * 365 * 86400 + (mo ?? 0) * 30 * 86400 + (w ?? 0) * 7 * 86400 + (d ?? 0) * 86400 + (h ?? 0) * 3600 + (mi ?? 0) * 60 + (s ?? 0),
  );
}

function courseOf(statement: Json, issuer: string): Prepared['course'] {
  const ca = (statement.context as Json | undefined)?.contextActivities as Record<string, unknown> | undefined;
  if (!ca) return undefined;
  for (const key of ['parent', 'grouping']) {
    const list = ca[key];
    const items = Array.isArray(list) ? list : list ? [list] : [];
    for (const item of items as Activity[]) {
      if (typeof item?.id !== 'string' || !COURSE_TYPES.has(item.definition?.type as string)) continue;
      const moodle = new RegExp(`^${escapeRegExp(issuer)}/course/view\\.php\\?id=(\\d+)$`).exec(item.id);
      return { contextId: moodle?.[1] ?? item.id, title: languageValue(item.definition?.name) };
    }
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function activityOf(object: Activity, issuer: string): Prepared['activity'] {
  if (typeof object.id !== 'string' || (object.objectType !== undefined && object.objectType !== 'Activity')) return undefined;
  const type = typeof object.definition?.type === 'string' ? object.definition.type : null;
  const name = languageValue(object.definition?.name);
  if (object.id.startsWith(`${issuer}/`) || object.id === issuer) {
    // Moodle: only course modules (`…/mod/<mod>/view.php?id=<cmid>`) are mappable, not their pages or attempts.
    const m = new RegExp(`^${escapeRegExp(issuer)}/mod/(\\w+)/view\\.php\\?id=\\d+$`).exec(object.id);
    return m ? { iri: object.id, name, moduleType: m[1] ?? null } : undefined;
  }
  if (type && NOT_MAPPABLE_TYPES.has(type)) return undefined;
  return { iri: object.id, name, moduleType: type };
}

function completionOf(statement: Json, verb: string): Prepared['completion'] {
  const result = statement.result as { completion?: unknown; success?: unknown; duration?: unknown } | undefined;
  const success = typeof result?.success === 'boolean' ? result.success : null;
  const duration = durationSeconds(result?.duration);
  if (verb === VERBS.uncompleted) return { kind: 'uncompleted', success, durationSeconds: duration };
  if (verb === VERBS.completed) {
    return { kind: result?.completion === false ? 'uncompleted' : 'completed', success, durationSeconds: duration };
  }
  if (verb === VERBS.passed) return { kind: 'completed', success: success ?? true, durationSeconds: duration };
  return undefined;
}

/** Validates a request body (one statement or an array) and prepares every statement; throws a 4xx naming the first faults. */
export function prepareStatements(
  body: unknown,
  platform: Platform,
  authority: Json,
  now: Date,
  forcedId?: string,
): Prepared[] {
  const list = Array.isArray(body) ? body : [body];
  if (!Array.isArray(body) && (body === null || typeof body !== 'object')) {
    throw badRequest('The body must be a statement or an array of statements.', [{ path: 'body', message: 'expected an object or an array' }]);
  }
  const details: ErrorDetail[] = [];
  let forbiddenActor = false;
  const prepared: Prepared[] = [];
  const stored = now.toISOString();
  list.forEach((raw, index) => {
    const prefix = Array.isArray(body) ? `statements[${index}]` : 'statement';
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      details.push({ path: prefix, message: 'expected a statement object' });
      return;
    }
    const input = raw as Json;
    const structural = structuralErrors(input, prefix);
    if (structural.length) {
      details.push(...structural);
      return;
    }
    const actor = platformActor(input, platform.issuer, prefix);
    if ('path' in actor) {
      if (actor.path.endsWith('homePage')) forbiddenActor = true;
      details.push(actor);
      return;
    }
    if (forcedId !== undefined && input.id !== undefined && input.id !== forcedId) {
      details.push({ path: `${prefix}.id`, message: `differs from the statementId parameter (${forcedId})` });
      return;
    }
    const { stored: _s, authority: _a, version: _v, ...content } = input;
    const id = forcedId ?? (typeof input.id === 'string' ? input.id.toLowerCase() : deterministicStatementId(content));
    if (!UUID.test(id)) {
      details.push({ path: `${prefix}.id`, message: 'expected a UUID' });
      return;
    }
    const verb = (input.verb as { id: string }).id;
    const object = input.object as Activity & { id: string };
    const timestamp = typeof input.timestamp === 'string' ? new Date(input.timestamp) : now;
    if (Number.isNaN(timestamp.getTime())) {
      details.push({ path: `${prefix}.timestamp`, message: 'expected an ISO 8601 date and time' });
      return;
    }
    const statement: XapiStatement = {
      ...content,
      id,
      timestamp: typeof input.timestamp === 'string' ? input.timestamp : stored,
      stored,
      authority,
      version: typeof input.version === 'string' ? input.version : '1.0.0',
    };
    const entry: Prepared = {
      index,
      id,
      hash: contentHash(content),
      explicitId: forcedId !== undefined || typeof input.id === 'string',
      sub: actor.name,
      statement,
      verb,
      objectId: String(object.id),
      timestamp,
    };
    if (verb === VERBS.voided) {
      entry.voidTarget = String(object.id).toLowerCase();
    } else {
      entry.activity = activityOf(object, platform.issuer);
      const completion = object.objectType === undefined || object.objectType === 'Activity' ? completionOf(input, verb) : undefined;
      if (completion) entry.completion = completion;
      if (completion || entry.activity) entry.course = courseOf(input, platform.issuer);
    }
    prepared.push(entry);
  });
  // The same id twice in one batch: fine if the content is the same (kept once), else the batch is refused.
  const seen = new Map<string, Prepared>();
  for (const p of prepared) {
    const first = seen.get(p.id);
    if (first && first.hash !== p.hash) {
      details.push({ path: `statements[${p.index}].id`, message: `same id as statements[${first.index}] with a different content` });
    } else if (!first) seen.set(p.id, p);
  }
  if (details.length) {
    const first = details[0] as ErrorDetail;
    const message = `Statement rejected, nothing was stored: ${first.path}: ${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`;
    if (forbiddenActor) throw new HttpError(403, 'forbidden', message, details);
    throw badRequest(message, details);
  }
  return prepared;
}

function inList<T>(values: readonly T[]): SQL {
  return sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );
}

/**
 * Stores a prepared batch in one transaction: statements (already stored ones with the same content are
 * skipped, a different content under a known id is a 409), voiding, completion events, activities seen and
 * the outbox. Nothing is stored when anything fails.
 */
export async function storeStatements(db: Database, platform: Platform, prepared: Prepared[]): Promise<IngestResult> {
  const ids = prepared.map((p) => p.id);
  if (prepared.length === 0) return { ids, stored: 0 };
  const unique = [...new Map(prepared.map((p) => [p.id, p])).values()];
  const stored = await db.transaction(async (tx) => {
    const existing = await tx.execute(
      sql`SELECT id::text AS id, content_hash FROM xapi_statements WHERE id IN (${inList(unique.map((p) => p.id))})`,
    );
    const known = new Map((existing as unknown as { rows: { id: string; content_hash: string }[] }).rows.map((r) => [r.id, r.content_hash]));
    for (const p of unique) {
      const hash = known.get(p.id);
      if (hash !== undefined && hash !== p.hash) {
        throw conflict(`Statement ${p.id} is already stored with a different content (statements[${p.index}]).`);
      }
    }
    const fresh = unique.filter((p) => !known.has(p.id));
    if (fresh.length === 0) return 0;
    return insertFresh(tx, platform, fresh);
  });
  return { ids, stored };
}

async function insertFresh(tx: Executor, platform: Platform, fresh: Prepared[]): Promise<number> {
  const userIds = new Map<string, number>();
  for (const sub of new Set(fresh.map((p) => p.sub))) userIds.set(sub, (await ensureUser(tx, platform.id, sub)).id);
  const courseIds = new Map<string, number>();
  for (const p of fresh) {
    if (!p.course || courseIds.has(p.course.contextId)) continue;
    courseIds.set(p.course.contextId, (await ensureCourse(tx, platform.id, p.course.contextId, p.course.title)).id);
  }
  const inserted = await tx
    .insert(xapiStatements)
    .values(
      fresh.map((p) => ({
        id: p.id,
        platformId: platform.id,
        userId: userIds.get(p.sub) as number,
        verb: p.verb,
        objectId: p.objectId,
        stored: new Date(p.statement.stored as string),
        timestamp: p.timestamp,
        contentHash: p.hash,
        statement: p.statement,
      })),
    )
    .onConflictDoNothing({ target: xapiStatements.id })
    .returning({ id: xapiStatements.id });
  const insertedIds = new Set(inserted.map((r) => r.id));
  const rows = fresh.filter((p) => insertedIds.has(p.id));
  if (rows.length === 0) return 0;

  const targets = rows.filter((p) => p.voidTarget).map((p) => p.voidTarget as string);
  if (targets.length) {
    const voided = await tx.execute(
      sql`UPDATE xapi_statements SET voided = true
          WHERE platform_id = ${platform.id} AND id::text IN (${inList(targets)}) AND verb <> ${VERBS.voided} RETURNING id`,
    );
    const voidedIds = (voided as unknown as { rows: { id: string }[] }).rows.map((r) => r.id);
    if (voidedIds.length) {
      await tx.execute(sql`UPDATE completion_events SET voided = true WHERE statement_id::text IN (${inList(voidedIds)})`);
    }
  }

  const completions = rows.filter((p) => p.completion);
  if (completions.length) {
    await tx
      .insert(completionEvents)
      .values(
        completions.map((p) => ({
          statementId: p.id,
          platformId: platform.id,
          userId: userIds.get(p.sub) as number,
          courseId: p.course ? (courseIds.get(p.course.contextId) ?? null) : null,
          activityIri: p.objectId,
          kind: p.completion?.kind ?? 'completed',
          success: p.completion?.success ?? null,
          durationSeconds: p.completion?.durationSeconds ?? null,
          statementTimestamp: p.timestamp,
          position: p.index,
        })),
      )
      .onConflictDoNothing({ target: completionEvents.statementId });
  }

  const activities = new Map<string, { iri: string; name: string | null; moduleType: string | null; courseId: number | null }>();
  for (const p of rows) {
    if (!p.activity) continue;
    activities.set(p.activity.iri, {
      ...p.activity,
      courseId: p.course ? (courseIds.get(p.course.contextId) ?? null) : (activities.get(p.activity.iri)?.courseId ?? null),
    });
  }
  if (activities.size) {
    await tx
      .insert(xapiActivities)
      .values([...activities.values()].map((a) => ({ platformId: platform.id, activityIri: a.iri, name: a.name, moduleType: a.moduleType, courseId: a.courseId })))
      .onConflictDoUpdate({
        target: [xapiActivities.platformId, xapiActivities.activityIri],
        set: {
          lastSeenAt: sql`now()`,
          name: sql`coalesce(excluded.name, ${xapiActivities.name})`,
          moduleType: sql`coalesce(excluded.module_type, ${xapiActivities.moduleType})`,
          courseId: sql`coalesce(excluded.course_id, ${xapiActivities.courseId})`,
        },
      });
  }

  await afterCompletionStatements(tx, platform.id, [...completions.map((p) => p.id), ...targets]);
  await enqueueStatements(tx, await enrichForForwarding(tx, rows.map((p) => p.statement), platform.id));
  return rows.length;
}
