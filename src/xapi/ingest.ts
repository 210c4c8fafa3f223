import { randomUUID } from 'node:crypto';
import { inArray, type SQL, sql } from 'drizzle-orm';
import { platforms } from '../db/schema';
import { type Database, type Executor, type NamedStatement, namedStatement, queryNamed, queryRows } from '../db/store';
import { sqlState } from '../db/faults';
import { conflict, type ErrorDetail, forbidden, invalid } from '../domain/errors';
import { normalizeIssuer, type Platform } from '../identity/records';
import { statementIdentity } from '../domain/statement-ids';
import { VERBS, type XapiStatement } from '../domain/xapi';
import { type ActivityFact, type CompletionFact, type CourseFact, statementFacts } from './sources';
import { platformActor, statementErrors, statementList, XAPI_LIMITS } from './validate';

export { VERBS };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

type Json = Record<string, unknown>;

interface Prepared {
  index: number;
  id: string;
  hash: string;
  explicitId: boolean;
  /** The learner credited (the LTI `sub` of an account actor of `platform`); undefined: stored only. */
  sub: string | undefined;
  /** The platform the statement belongs to (undefined: an unrestricted client's statement about no platform's learner). */
  platform: Platform | undefined;
  statement: XapiStatement;
  /** `statement` as JSON (its canonical content completed with what the LRS sets): serialised once. */
  json: string;
  verb: string;
  objectId: string;
  timestamp: Date;
  voidTarget?: string;
  completion?: CompletionFact;
  course?: CourseFact;
  activity?: ActivityFact;
}

export interface IngestResult {
  /** The statement ids, in the order received. */
  ids: string[];
  /** How many were new (the others were already stored with the same content). */
  stored: number;
  /** Learners marked dirty: their coverage follows the batch (the coverage worker's work). */
  marked: number;
}

/**
 * Who writes a batch. A platform key (`strict`) sends statements of its platform's learners only (an account actor
 * of its issuer, else 403). An LRS client sends any actor: a statement whose actor is an account of its platform
 * (a client restricted to one) or of a registered platform (`platforms`, by normalised issuer: an unrestricted
 * client) is credited to that platform's learner, any other is stored only, under the client's platform or, for an
 * unrestricted client, under the client itself (`keyId`).
 */
export interface StatementWriter {
  platform: Platform | undefined;
  strict: boolean;
  keyId: number | null;
  platforms?: ReadonlyMap<string, Platform>;
}

function writerOf(target: Platform | StatementWriter): StatementWriter {
  return 'strict' in target ? target : { platform: target, strict: true, keyId: null };
}

/** The registered platforms whose issuer is the `account.homePage` of a statement's actor in `body` (one query). */
export async function accountPlatforms(db: Database, body: unknown): Promise<Map<string, Platform>> {
  const issuers = new Set<string>();
  for (const s of Array.isArray(body) ? body : [body]) {
    const homePage = (s as { actor?: { account?: { homePage?: unknown } } } | null)?.actor?.account?.homePage;
    if (typeof homePage === 'string') issuers.add(normalizeIssuer(homePage));
  }
  const found = new Map<string, Platform>();
  if (issuers.size === 0) return found;
  const rows = await db.select().from(platforms).where(inArray(platforms.issuer, [...issuers]));
  for (const row of rows) found.set(normalizeIssuer(row.issuer), row);
  return found;
}

/** The learner a client's statement credits, or undefined (stored only). */
function clientActor(statement: Json, writer: StatementWriter): { platform: Platform; sub: string } | undefined {
  const actor = statement.actor as { objectType?: unknown; account?: { homePage?: unknown; name?: unknown } } | undefined;
  if (actor?.objectType === 'Group' || typeof actor?.account?.homePage !== 'string' || typeof actor.account.name !== 'string') return undefined;
  const issuer = normalizeIssuer(actor.account.homePage);
  const platform = writer.platform ? (normalizeIssuer(writer.platform.issuer) === issuer ? writer.platform : undefined) : writer.platforms?.get(issuer);
  return platform ? { platform, sub: actor.account.name } : undefined;
}

function arrayContext(context: unknown): unknown {
  const activities = (context as { contextActivities?: unknown } | null | undefined)?.contextActivities;
  if (activities === null || typeof activities !== 'object' || Array.isArray(activities)) return context;
  const entries = Object.entries(activities as Json);
  if (!entries.some(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))) return context;
  const arrays = Object.fromEntries(entries.map(([k, v]) => [k, v !== null && typeof v === 'object' && !Array.isArray(v) ? [v] : v]));
  return { ...(context as Json), contextActivities: arrays };
}

/**
 * A statement whose context activities (its own, or its SubStatement's) are given as one Activity, with them as
 * arrays: xAPI 1.0.3 allows the single form and the LRS returns the array form.
 */
export function contextActivityArrays(statement: Json): Json {
  const context = arrayContext(statement.context);
  const object = statement.object as Json | null | undefined;
  const subContext = object !== null && typeof object === 'object' && object.objectType === 'SubStatement' ? arrayContext(object.context) : undefined;
  if (context === statement.context && (subContext === undefined || subContext === object?.context)) return statement;
  const out: Json = { ...statement, context };
  if (statement.context === undefined) delete out.context;
  if (subContext !== undefined && subContext !== object?.context) out.object = { ...object, context: subContext };
  return out;
}

/**
 * Validates a request body (one statement or an array) and prepares every statement; throws a 4xx naming the first
 * faults. `timeOrderedSince`: from when the store derives time-ordered ids (`StatementIdScheme`; 0: a new store's).
 */
export function prepareStatements(
  body: unknown,
  target: Platform | StatementWriter,
  authority: Json,
  now: Date,
  forcedId?: string,
  xapiVersion: '1.0.3' | '2.0.0' = '1.0.3',
  timeOrderedSince = 0,
): Prepared[] {
  const writer = writerOf(target);
  const list = statementList(body);
  const details: ErrorDetail[] = [];
  let forbiddenActor = false;
  const prepared: Prepared[] = [];
  const stored = now.toISOString();
  const lrsProperties = `"stored":${JSON.stringify(stored)},"authority":${JSON.stringify(authority)}`;
  list.forEach((raw, index) => {
    const prefix = Array.isArray(body) ? `statements[${index}]` : 'statement';
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      details.push({ path: prefix, message: 'expected a statement object' });
      return;
    }
    const input = contextActivityArrays(raw as Json);
    const errors = statementErrors(input, prefix, xapiVersion);
    if (errors.length) {
      details.push(...errors);
      return;
    }
    let credited: { platform: Platform; sub: string } | undefined;
    if (writer.strict && writer.platform) {
      const actor = platformActor(input, writer.platform.issuer, prefix);
      if ('path' in actor) {
        if (actor.path.endsWith('homePage')) forbiddenActor = true;
        details.push(actor);
        return;
      }
      credited = { platform: writer.platform, sub: actor.name };
    } else {
      credited = clientActor(input, writer);
    }
    if (forcedId !== undefined && input.id !== undefined && input.id !== forcedId) {
      details.push({ path: `${prefix}.id`, message: `differs from the statementId parameter (${forcedId})` });
      return;
    }
    const { stored: _s, authority: _a, version: _v, ...content } = input;
    const { derivedId, hash, content: contentJson } = statementIdentity(content, timeOrderedSince);
    // A platform key's statement without id gets one derived from its content (logstore_xapi resends a batch it is
    // unsure of), time-ordered when the store's scheme says so; an LRS client's gets a new one, as xAPI asks.
    const id = forcedId ?? (typeof input.id === 'string' ? input.id.toLowerCase() : writer.strict ? derivedId : randomUUID());
    if (!UUID.test(id)) {
      details.push({ path: `${prefix}.id`, message: 'expected a UUID' });
      return;
    }
    const verb = (input.verb as { id: string }).id;
    const object = input.object as { id?: unknown; objectType?: unknown };
    const timestamp = typeof input.timestamp === 'string' ? new Date(input.timestamp) : now;
    if (Number.isNaN(timestamp.getTime())) {
      details.push({ path: `${prefix}.timestamp`, message: 'expected an ISO 8601 date and time' });
      return;
    }
    const version = typeof input.version === 'string' ? input.version : '1.0.0';
    const statement: XapiStatement = {
      ...content,
      id,
      timestamp: typeof input.timestamp === 'string' ? input.timestamp : stored,
      stored,
      authority,
      version,
    };
    // the same value as JSON.stringify(statement) (jsonb keeps no key order); the content has none of these keys
    // (a valid timestamp is a string: the content has it, or the statement is given the stored instant)
    const added = `"id":"${id}",${lrsProperties},"version":${JSON.stringify(version)}${typeof input.timestamp === 'string' ? '' : `,"timestamp":${JSON.stringify(stored)}`}`;
    const json = contentJson === '{}' ? `{${added}}` : `${contentJson.slice(0, -1)},${added}}`;
    const entry: Prepared = {
      index,
      id,
      hash,
      explicitId: forcedId !== undefined || typeof input.id === 'string',
      sub: credited?.sub,
      platform: credited?.platform ?? writer.platform,
      statement,
      json,
      verb,
      objectId: typeof object.id === 'string' ? object.id : '',
      timestamp,
    };
    if (verb === VERBS.voided) {
      entry.voidTarget = String(object.id).toLowerCase();
    } else if (credited) {
      const { source: _source, ...facts } = statementFacts(input, credited.platform);
      Object.assign(entry, facts);
    }
    prepared.push(entry);
  });
  // The same id twice in one batch: fine if the content is the same (kept once), else the batch is refused; xAPI
  // 2.0 refuses an id given twice whatever the content (an id Socle derived from the content stays kept once).
  const seen = new Map<string, Prepared>();
  for (const p of prepared) {
    const first = seen.get(p.id);
    if (first && (first.hash !== p.hash || (xapiVersion === '2.0.0' && p.explicitId))) {
      details.push({ path: `statements[${p.index}].id`, message: `same id as statements[${first.index}]${first.hash === p.hash ? '' : ' with a different content'}` });
    } else if (!first) seen.set(p.id, p);
  }
  if (details.length) {
    const first = details[0] as ErrorDetail;
    const message = `Statement rejected, nothing was stored: ${first.path}: ${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`;
    // A batch of 10,000 bad statements names the first ones, not every fault (the message gives the count).
    const named = details.slice(0, XAPI_LIMITS.maxDetails);
    if (forbiddenActor) throw forbidden(message, named);
    throw invalid(message, named);
  }
  return prepared;
}

/**
 * Stores a prepared batch: statements (already stored ones with the same content are skipped, a different content
 * under a known id is a 409), their completion events, the activities seen, the outbox rows and the dirty marks of
 * the learners whose coverage follows (credited by the coverage worker, woken by the caller, or by their next read).
 * A batch without voiding is one SQL statement, atomic on its own; a batch with voiding statements adds the voiding
 * in a second statement of the same transaction (so it also voids what the batch itself stored). Nothing is stored
 * when anything fails, `beforeWrite` included (the request's rate-limit allowance, checked just before the writes).
 * `alsoWrite` writes what goes with the batch (its attachments) in the same transaction, before the statements.
 */
export async function storeStatements(
  db: Database,
  target: Platform | StatementWriter,
  prepared: Prepared[],
  beforeWrite?: () => Promise<void>,
  alsoWrite?: (tx: Executor) => Promise<void>,
): Promise<IngestResult> {
  const writer = writerOf(target);
  const ids = prepared.map((p) => p.id);
  if (prepared.length === 0) return { ids, stored: 0, marked: 0 };
  const unique = [...new Map(prepared.map((p) => [p.id, p])).values()];
  const voiding = unique.filter((p) => p.voidTarget !== undefined);
  // One query per platform credited, one per owner of statements stored only (a platform key's batch: one query).
  const groups = new Map<string, { platformId: number | null; credited: boolean; batch: Prepared[] }>();
  for (const p of unique) {
    const platformId = p.platform?.id ?? null;
    const key = `${p.sub === undefined ? 's' : 'c'}${platformId ?? ''}`;
    const group = groups.get(key) ?? groups.set(key, { platformId, credited: p.sub !== undefined, batch: [] }).get(key);
    group?.batch.push(p);
  }
  const returnIds = voiding.length > 0;
  const queries = [...groups.values()].map((g) =>
    g.credited && g.platformId !== null
      ? ingestQuery(g.platformId, g.batch, returnIds, writer.keyId)
      : storeOnlyQuery(g.platformId, g.batch, returnIds, writer.keyId),
  );
  const owner = writer.platform ? sql`platform_id = ${writer.platform.id}::int` : sql`key_id = ${writer.keyId}::int`;
  for (let attempt = 1; ; attempt++) {
    try {
      const { stored, marked } =
        voiding.length || queries.length > 1 || alsoWrite
          ? await db.transaction(async (tx) => {
              await alsoWrite?.(tx);
              let stored = 0;
              let marked = 0;
              const inserted = new Set<string>();
              for (const query of queries) {
                const [answer] = await queryNamed<IngestAnswer>(tx, query.statement, query.values);
                stored += answer?.stored ?? 0;
                marked += answer?.marked ?? 0;
                for (const id of answer?.inserted ?? []) inserted.add(id);
              }
              const targets = voiding.filter((p) => inserted.has(p.id) && UUID.test(p.voidTarget as string)).map((p) => p.voidTarget as string);
              const voided = targets.length ? await queryRows<{ user_id: number }>(tx, voidQuery(owner, targets)) : [];
              await beforeWrite?.();
              return { stored, marked: marked + voided.length };
            })
          : await (async () => {
              await beforeWrite?.();
              const query = queries[0] as BatchQuery;
              const [answer] = await queryNamed<IngestAnswer>(db, query.statement, query.values);
              return { stored: answer?.stored ?? 0, marked: answer?.marked ?? 0 };
            })();
      return { ids, stored, marked };
    } catch (error) {
      const code = sqlState(error);
      if (code === REFUSED.conflict) {
        // the message of the refusal is the statement's id
        const message = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
        const p = unique.find((u) => u.id === message) ?? unique[0];
        throw conflict(`Statement ${p?.id} is already stored with a different content (statements[${p?.index}]).`);
      }
      // A row committed by a concurrent batch after this statement's snapshot (a new learner, course or statement
      // id), a deadlock or a serialization failure: nothing was written, the next attempt sees it.
      if (attempt >= 3 || (code !== REFUSED.again && code !== '40P01' && code !== '40001')) throw error;
    }
  }
}

/** The SQLSTATEs of Socle's own refusals (`socle_refuse`, migration 0005). */
const REFUSED = { conflict: 'SC409', again: 'SC40R' } as const;

interface IngestAnswer {
  stored: number;
  marked: number;
  /** The ids inserted, when asked (batches with voiding statements). */
  inserted: string[] | null;
}

/** A uuid[] from `list` (ids joined by commas: hex and dashes, no separator to escape), compared as uuid so the unique index is used. */
function uuids(list: unknown): SQL {
  return sql`string_to_array(${list}::text, ',')::uuid[]`;
}

/** A batch statement: built once (`NamedStatement`), with its values for this batch. */
export interface BatchQuery {
  statement: NamedStatement;
  values: Record<string, unknown>;
}

/** The placeholders of the batch statements, each named after the value it takes. */
const $ = {
  platform: sql`${sql.placeholder('platform')}::int`,
  key: sql`${sql.placeholder('key')}::int`,
  subs: sql`${sql.placeholder('subs')}::jsonb`,
  courses: sql`${sql.placeholder('courses')}::jsonb`,
  rows: sql`${sql.placeholder('rows')}::jsonb`,
  ids: uuids(sql.placeholder('ids')),
  events: sql`${sql.placeholder('events')}::jsonb`,
  activities: sql`${sql.placeholder('activities')}::jsonb`,
};

/** What the batch's ids find stored before the batch (the statement's snapshot): both batch statements' `known`. */
const KNOWN = sql`known AS (SELECT id, content_hash FROM xapi_statements WHERE id = ANY(${$.ids}))`;

/**
 * Both batch statements' verdict: a statement neither inserted (`ins`) nor stored before with the same content
 * (`known`) refuses the whole statement, SC409 when stored with another content, SC40R when a concurrent batch
 * committed it after the snapshot.
 */
const REFUSED_COUNT = sql`(SELECT count(socle_refuse(CASE WHEN k.id IS NULL THEN ${REFUSED.again} ELSE ${REFUSED.conflict} END, r->>'id'))
       FROM b LEFT JOIN ins i ON i.id = (b.r->>'id')::uuid LEFT JOIN known k ON k.id = (b.r->>'id')::uuid
       WHERE i.id IS NULL AND (k.id IS NULL OR k.content_hash <> b.r->>'h')) AS refused`;

/**
 * The one statement that stores a batch. Everything travels as JSON parameters (no per-value parameters to build and
 * bind): each statement's JSON is the one prepared, with its learner's LTI `sub` and its course's context id,
 * resolved here. In order:
 * - the batch's learners and courses are created when new (without touching existing rows) and read;
 * - the statements are inserted (`ON CONFLICT DO NOTHING`); `known` is what was stored before (the snapshot);
 * - for the statements inserted only: completion events, the outbox rows (the statement itself is not copied: the
 *   outbox worker reads it at delivery), the dirty marks of the learners of the new completions; the activities
 *   seen when anything is new, those already known written only when the batch tells something new of them (a
 *   name, a type, a course) or their `last_seen_at` is a day old: concurrent batches of one course name the same
 *   activities, and an upsert of each would rewrite their rows and hold their locks to the end of every batch;
 * - the verdict: a statement neither inserted nor stored before with the same content refuses the whole statement
 *   (`socle_refuse`: rolled back): SC409 when stored with another content, SC40R when a concurrent batch committed
 *   it (or its learner) after this statement's snapshot; SC40R too for a course created that way.
 * Rows are written in a stable order (learners, courses, activities, dirty marks sorted; statements and events in
 * batch order) so that concurrent batches lock shared rows in the same order.
 */
function ingestSql(returnIds: boolean): SQL {
  const p = $.platform;
  return sql`WITH wu AS (SELECT value AS sub FROM jsonb_array_elements_text(${$.subs})),
      cu AS (INSERT INTO users (platform_id, sub) SELECT ${p}, sub FROM wu ORDER BY sub ON CONFLICT DO NOTHING RETURNING id, sub),
      au AS (SELECT id, sub FROM cu UNION ALL SELECT u.id, u.sub FROM users u WHERE u.platform_id = ${p} AND u.sub = ANY(ARRAY(SELECT sub FROM wu))),
      wc AS (SELECT r->>'c' AS context_id, r->>'t' AS title FROM jsonb_array_elements(${$.courses}) AS x(r)),
      cc AS (INSERT INTO courses (platform_id, context_id, title) SELECT ${p}, context_id, title FROM wc ORDER BY context_id
             ON CONFLICT DO NOTHING RETURNING id, context_id),
      ac AS (SELECT id, context_id FROM cc UNION ALL SELECT c.id, c.context_id FROM courses c WHERE c.platform_id = ${p} AND c.context_id = ANY(ARRAY(SELECT context_id FROM wc))),
      b AS (SELECT r, n FROM jsonb_array_elements(${$.rows}) WITH ORDINALITY AS x(r, n)),
      ${KNOWN},
      ins AS (INSERT INTO xapi_statements (id, platform_id, user_id, key_id, verb, object_id, stored, "timestamp", content_hash, statement)
              SELECT (r->>'id')::uuid, ${p}, au.id, ${$.key}, r->>'v', r->>'o', (r->>'s')::timestamptz, (r->>'t')::timestamptz, r->>'h', r->'j'
              FROM b JOIN au ON au.sub = b.r->>'a' ORDER BY n
              ON CONFLICT (id) DO NOTHING RETURNING id, seq, user_id),
      ev AS (INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds, statement_timestamp, position)
             SELECT i.id, ${p}, i.user_id, ac.id, e->>'a', e->>'k', (e->>'s')::boolean, (e->>'d')::int, (e->>'t')::timestamptz, (e->>'p')::smallint
             FROM jsonb_array_elements(${$.events}) WITH ORDINALITY AS x(e, n) JOIN ins i ON i.id = (e->>'id')::uuid
             LEFT JOIN ac ON ac.context_id = e->>'c' ORDER BY n
             ON CONFLICT (statement_id) DO NOTHING RETURNING user_id),
      act AS (INSERT INTO xapi_activities (platform_id, activity_iri, name, module_type, course_id)
              SELECT ${p}, r->>'iri', r->>'name', r->>'moduleType', ac.id
              FROM jsonb_array_elements(${$.activities}) WITH ORDINALITY AS x(r, n) LEFT JOIN ac ON ac.context_id = r->>'c'
              LEFT JOIN xapi_activities xa ON xa.platform_id = ${p} AND xa.activity_iri = r->>'iri'
              WHERE EXISTS (SELECT 1 FROM ins)
                AND (xa.id IS NULL OR xa.last_seen_at < now() - interval '1 day'
                  OR (r->>'name' IS NOT NULL AND r->>'name' IS DISTINCT FROM xa.name)
                  OR (r->>'moduleType' IS NOT NULL AND r->>'moduleType' IS DISTINCT FROM xa.module_type)
                  OR (ac.id IS NOT NULL AND ac.id IS DISTINCT FROM xa.course_id))
              ORDER BY n
              ON CONFLICT (platform_id, activity_iri) DO UPDATE SET
                last_seen_at = now(),
                name = coalesce(excluded.name, xapi_activities.name),
                module_type = coalesce(excluded.module_type, xapi_activities.module_type),
                course_id = coalesce(excluded.course_id, xapi_activities.course_id)),
      ob AS (INSERT INTO xapi_outbox (statement_id) SELECT id FROM ins ORDER BY seq ON CONFLICT (statement_id) DO NOTHING),
      dirty AS (${markDirty(p, sql`SELECT DISTINCT user_id FROM ev`)})
    SELECT (SELECT count(*) FROM ins)::int AS stored, (SELECT count(*) FROM dirty)::int AS marked,
      ${returnIds ? sql`(SELECT json_agg(id) FROM ins)` : sql`NULL::json`} AS inserted,
      ${REFUSED_COUNT},
      (SELECT count(socle_refuse(${REFUSED.again}, context_id)) FROM wc WHERE NOT EXISTS (SELECT 1 FROM ac WHERE ac.context_id = wc.context_id)) AS unseen_courses`;
}

/** Statements that credit no learner: the statements only, with the same verdict as `ingestSql`. */
function storeOnlySql(returnIds: boolean): SQL {
  return sql`WITH b AS (SELECT r, n FROM jsonb_array_elements(${$.rows}) WITH ORDINALITY AS x(r, n)),
      ${KNOWN},
      ins AS (INSERT INTO xapi_statements (id, platform_id, user_id, key_id, verb, object_id, stored, "timestamp", content_hash, statement)
              SELECT (r->>'id')::uuid, ${$.platform}, NULL, ${$.key}, r->>'v', r->>'o', (r->>'s')::timestamptz, (r->>'t')::timestamptz, r->>'h', r->'j'
              FROM b ORDER BY n
              ON CONFLICT (id) DO NOTHING RETURNING id)
    SELECT (SELECT count(*) FROM ins)::int AS stored, 0 AS marked,
      ${returnIds ? sql`(SELECT json_agg(id) FROM ins)` : sql`NULL::json`} AS inserted,
      ${REFUSED_COUNT}`;
}

/** The batch statements, built once: with or without the ids inserted (asked by batches with voiding statements). */
const BATCH_STATEMENTS = {
  ingest: namedStatement('socle_ingest', ingestSql(false)),
  ingestIds: namedStatement('socle_ingest_ids', ingestSql(true)),
  storeOnly: namedStatement('socle_store_only', storeOnlySql(false)),
  storeOnlyIds: namedStatement('socle_store_only_ids', storeOnlySql(true)),
};

/** The statements of a batch and their ids as the batch statements' values. */
function statementValues(platformId: number | null, batch: readonly Prepared[], keyId: number | null) {
  return { platform: platformId, key: keyId, rows: batchRows(batch), ids: batch.map((s) => s.id).join(',') };
}

/** The statement storing `batch`, credited to platform `platformId`'s learners (exported for the query-plan test). */
export function ingestQuery(platformId: number, batch: readonly Prepared[], returnIds = false, keyId: number | null = null): BatchQuery {
  const courses = new Map<string, string | null>();
  for (const s of batch) if (s.course && !courses.has(s.course.contextId)) courses.set(s.course.contextId, s.course.title);
  // In batch order: the event id (arrival order) then follows the position within the batch.
  const events = batch
    .filter((s) => s.completion)
    .sort((a, b) => a.index - b.index)
    .map((s) => ({
      id: s.id,
      c: s.course?.contextId ?? null,
      a: s.objectId,
      k: s.completion?.kind,
      s: s.completion?.success ?? null,
      d: s.completion?.durationSeconds ?? null,
      t: s.timestamp.toISOString(),
      p: s.index,
    }));
  const activities = new Map<string, { iri: string; name: string | null; moduleType: string | null; c: string | null }>();
  for (const s of batch) {
    if (!s.activity) continue;
    activities.set(s.activity.iri, { ...s.activity, c: s.course?.contextId ?? activities.get(s.activity.iri)?.c ?? null });
  }
  return {
    statement: returnIds ? BATCH_STATEMENTS.ingestIds : BATCH_STATEMENTS.ingest,
    values: {
      ...statementValues(platformId, batch, keyId),
      subs: JSON.stringify([...new Set(batch.map((s) => s.sub))].sort()),
      courses: JSON.stringify([...courses].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, t]) => ({ c, t }))),
      events: JSON.stringify(events),
      activities: JSON.stringify([...activities.values()].sort((x, y) => (x.iri < y.iri ? -1 : 1))),
    },
  };
}

/** The statements of a batch as one JSON array (each statement's JSON is the one prepared). */
function batchRows(batch: readonly Prepared[]): string {
  return `[${batch
    .map(
      (s) =>
        `{"id":"${s.id}","a":${JSON.stringify(s.sub ?? null)},"v":${JSON.stringify(s.verb)},"o":${JSON.stringify(s.objectId)},"s":"${s.statement.stored}","t":"${s.timestamp.toISOString()}","h":"${s.hash}","j":${s.json}}`,
    )
    .join(',')}]`;
}

/**
 * Stores statements that credit no learner (an LRS client's statements of any other actor), under platform
 * `platformId` or (null) the client `keyId` alone.
 */
function storeOnlyQuery(platformId: number | null, batch: readonly Prepared[], returnIds = false, keyId: number | null = null): BatchQuery {
  return { statement: returnIds ? BATCH_STATEMENTS.storeOnlyIds : BATCH_STATEMENTS.storeOnly, values: statementValues(platformId, batch, keyId) };
}

/** Marks the learners `users` (a query answering user_id) of platform `p` dirty, sorted (concurrent batches lock in one order). */
function markDirty(p: SQL, users: SQL): SQL {
  return sql`INSERT INTO coverage_dirty (user_id, platform_id) SELECT user_id, ${p} FROM (${users}) AS d ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET marked_at = now(), generation = DEFAULT RETURNING user_id`;
}

/**
 * Voids the platform's statements `targets` (not voiding statements themselves) and their completion events, and
 * marks the learners of those events dirty, in one statement. Exported for the query-plan test.
 */
export function voidStatementsQuery(platformId: number, targets: readonly string[]): SQL {
  return voidQuery(sql`platform_id = ${platformId}::int`, targets);
}

/** `voidStatementsQuery` for the statements `owner` (a condition on xapi_statements: a platform's, or a client's). */
function voidQuery(owner: SQL, targets: readonly string[]): SQL {
  return sql`WITH v AS (
        UPDATE xapi_statements SET voided = true
        WHERE id = ANY(${uuids(targets.join(','))}) AND ${owner} AND verb <> ${VERBS.voided} RETURNING id),
      e AS (UPDATE completion_events SET voided = true WHERE statement_id IN (SELECT id FROM v) RETURNING user_id, platform_id),
      d AS (INSERT INTO coverage_dirty (user_id, platform_id) SELECT DISTINCT user_id, platform_id FROM e ORDER BY user_id
            ON CONFLICT (user_id) DO UPDATE SET marked_at = now(), generation = DEFAULT RETURNING user_id)
      SELECT DISTINCT user_id FROM e`;
}
