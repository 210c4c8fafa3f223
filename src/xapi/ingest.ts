import { type SQL, sql } from 'drizzle-orm';
import { type CoverageDeps, coverageDeps, type CoverageServices } from '../coverage/deps';
import { afterCompletionLearners } from '../coverage/freshness';
import { sharedCreditingLock } from '../coverage/engine';
import { type Database, type Executor, queryRows } from '../db/store';
import { conflict, type ErrorDetail, forbidden, invalid } from '../domain/errors';
import type { Platform } from '../identity/records';
import { statementIdentity } from '../domain/statement-ids';
import { applyMappings, mappedObjectIds, type ObjectMapping, objectMappingsJson } from '../forwarding/enrich';
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
  sub: string;
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
}

/** Validates a request body (one statement or an array) and prepares every statement; throws a 4xx naming the first faults. */
export function prepareStatements(
  body: unknown,
  platform: Platform,
  authority: Json,
  now: Date,
  forcedId?: string,
): Prepared[] {
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
    const input = raw as Json;
    const errors = statementErrors(input, prefix);
    if (errors.length) {
      details.push(...errors);
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
    const { derivedId, hash, content: contentJson } = statementIdentity(content);
    const id = forcedId ?? (typeof input.id === 'string' ? input.id.toLowerCase() : derivedId);
    if (!UUID.test(id)) {
      details.push({ path: `${prefix}.id`, message: 'expected a UUID' });
      return;
    }
    const verb = (input.verb as { id: string }).id;
    const object = input.object as { id: string };
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
      sub: actor.name,
      statement,
      json,
      verb,
      objectId: String(object.id),
      timestamp,
    };
    if (verb === VERBS.voided) {
      entry.voidTarget = String(object.id).toLowerCase();
    } else {
      const { source: _source, ...facts } = statementFacts(input, platform);
      Object.assign(entry, facts);
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
    // A batch of 10,000 bad statements names the first ones, not every fault (the message gives the count).
    const named = details.slice(0, XAPI_LIMITS.maxDetails);
    if (forbiddenActor) throw forbidden(message, named);
    throw invalid(message, named);
  }
  return prepared;
}

/**
 * Stores a prepared batch in one transaction: statements (already stored ones with the same content are
 * skipped, a different content under a known id is a 409), voiding, completion events, activities seen, the
 * outbox and the learners' coverage (with the référentiels and badge issuing of `services`). Nothing is stored when
 * anything fails, `beforeCommit` included (the request's rate-limit allowance).
 */
export async function storeStatements(
  db: Database,
  services: CoverageServices,
  platform: Platform,
  prepared: Prepared[],
  beforeCommit?: () => Promise<void>,
): Promise<IngestResult> {
  const ids = prepared.map((p) => p.id);
  if (prepared.length === 0) return { ids, stored: 0 };
  const unique = [...new Map(prepared.map((p) => [p.id, p])).values()];
  // One transaction; the common case (all new) costs no lookup: insert, then compare only what was already there.
  let stored = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      stored = await db.transaction(async (tx) => {
        const inserted = await insertFresh(tx, coverageDeps(services, tx), platform, unique);
        await beforeCommit?.();
        return inserted;
      });
      break;
    } catch (error) {
      // A deadlock or serialization failure between concurrent batches: the transaction rolled back, try again.
      const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
      if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw error;
    }
  }
  return { ids, stored };
}


/** A uuid[] parameter from ids (hex and dashes: no separator to escape), compared as uuid so the unique index is used. */
function uuidArray(ids: readonly string[]): SQL {
  return sql`string_to_array(${ids.join(',')}, ',')::uuid[]`;
}

/**
 * Ids of the platform's users with these subs and of its courses with these context ids (titled from the
 * statement), creating the missing ones without touching existing rows, and the mappings of the statements'
 * objects (for the forwarded statements), in one round trip.
 */
async function resolveUsersAndCourses(
  tx: Executor,
  platformId: number,
  subs: string[],
  wanted: Map<string, string | null>,
  objectIds: readonly string[],
): Promise<{ users: Map<string, number>; courses: Map<string, number>; mappings: ObjectMapping[] }> {
  const courseRows = [...wanted].map(([c, t]) => ({ c, t }));
  const rows = await queryRows<{ k: 'u' | 'c' | 'm'; id: number; key: string }>(
    tx,
    sql`WITH wu AS (SELECT DISTINCT value AS sub FROM jsonb_array_elements_text(${JSON.stringify(subs)}::jsonb)),
        cu AS (INSERT INTO users (platform_id, sub) SELECT ${platformId}::int, sub FROM wu ON CONFLICT DO NOTHING RETURNING id, sub),
        wc AS (SELECT r->>'c' AS context_id, r->>'t' AS title FROM jsonb_array_elements(${JSON.stringify(courseRows)}::jsonb) AS x(r)),
        cc AS (INSERT INTO courses (platform_id, context_id, title) SELECT ${platformId}::int, context_id, title FROM wc
               ON CONFLICT DO NOTHING RETURNING id, context_id)
        SELECT 'u' AS k, id, sub AS key FROM cu
        UNION ALL SELECT 'u', u.id, u.sub FROM users u JOIN wu ON u.platform_id = ${platformId} AND u.sub = wu.sub
        UNION ALL SELECT 'c', id, context_id FROM cc
        UNION ALL SELECT 'c', c.id, c.context_id FROM courses c JOIN wc ON c.platform_id = ${platformId} AND c.context_id = wc.context_id
        UNION ALL SELECT 'm', 0, ${objectMappingsJson(platformId, objectIds)}::text`,
  );
  const users = new Map<string, number>();
  const courses = new Map<string, number>();
  let mappings: ObjectMapping[] = [];
  for (const r of rows) {
    if (r.k === 'm') mappings = JSON.parse(r.key) as ObjectMapping[];
    else (r.k === 'u' ? users : courses).set(r.key, Number(r.id));
  }
  const missingUsers = subs.filter((sub) => !users.has(sub));
  const missingCourses = [...wanted.keys()].filter((c) => !courses.has(c));
  if (missingUsers.length || missingCourses.length) {
    // Created by a concurrent transaction that committed after this statement's snapshot: a new statement sees them.
    const late = await queryRows<{ k: 'u' | 'c'; id: number; key: string }>(
      tx,
      sql`SELECT 'u' AS k, id, sub AS key FROM users WHERE platform_id = ${platformId} AND sub IN (SELECT jsonb_array_elements_text(${JSON.stringify(missingUsers)}::jsonb))
          UNION ALL SELECT 'c', id, context_id FROM courses WHERE platform_id = ${platformId} AND context_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(missingCourses)}::jsonb))`,
    );
    for (const r of late) (r.k === 'u' ? users : courses).set(r.key, Number(r.id));
  }
  if (users.size !== new Set(subs).size) throw new Error('cannot resolve the users of a statement batch');
  return { users, courses, mappings };
}

/**
 * The statements' INSERT and, in the same statement, the content hashes of those already stored (the snapshot
 * before the INSERT: rows inserted by it are not among them). `ids` are the rows' ids. Exported for the query-plan test.
 */
export function insertStatementsQuery(
  platformId: number,
  statementRows: string,
  ids: readonly string[],
  following?: { writes: SQL[]; expected: number; lock: boolean },
): SQL {
  // the writes that hope every row is new (`batchWrites`), and the shared crediting lock (`creditingLock`) taken
  // here, before the coverage inputs are read by a later statement
  const writes = following
    ? sql`, all_new AS (SELECT count(*) = ${following.expected}::int AS ok FROM ins)
        ${sql.join(
          following.writes.map((w, i) => sql`, ${sql.raw(`w${i}`)} AS (${w})`),
          sql``,
        )}`
    : sql``;
  const lock = following?.lock === true ? sql` UNION ALL SELECT NULL, NULL FROM (${sharedCreditingLock(platformId)} FROM all_new WHERE ok) AS locked` : sql``;
  return sql`WITH ins AS (
        INSERT INTO xapi_statements (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
        SELECT (r->>'id')::uuid, ${platformId}::int, (r->>'u')::int, r->>'v', r->>'o', (r->>'s')::timestamptz, (r->>'t')::timestamptz, r->>'h', r->'j'
        FROM jsonb_array_elements(${statementRows}::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
        ON CONFLICT (id) DO NOTHING RETURNING id, seq, statement)${writes}
      SELECT id::text AS id, NULL::text AS content_hash FROM ins
      UNION ALL
      SELECT id::text, content_hash FROM xapi_statements WHERE id = ANY(${uuidArray(ids)})${lock}`;
}

/** The content hashes of statements already stored (compared as uuid: the unique index). Exported for the query-plan test. */
export function storedHashesQuery(ids: readonly string[]): SQL {
  return sql`SELECT id::text AS id, content_hash FROM xapi_statements WHERE id = ANY(${uuidArray(ids)})`;
}

/**
 * Voids the platform's statements `targets` (not voiding statements themselves) and their completion events, in
 * one statement; answers the learners whose events were voided. Exported for the query-plan test.
 */
export function voidStatementsQuery(platformId: number, targets: readonly string[]): SQL {
  return sql`WITH v AS (
        UPDATE xapi_statements SET voided = true
        WHERE id = ANY(${uuidArray(targets)}) AND platform_id = ${platformId} AND verb <> ${VERBS.voided} RETURNING id),
      e AS (UPDATE completion_events SET voided = true WHERE statement_id IN (SELECT id FROM v) RETURNING user_id)
      SELECT DISTINCT user_id FROM e`;
}

async function insertFresh(tx: Executor, deps: CoverageDeps, platform: Platform, fresh: Prepared[]): Promise<number> {
  const wantedCourses = new Map<string, string | null>();
  for (const p of fresh) if (p.course && !wantedCourses.has(p.course.contextId)) wantedCourses.set(p.course.contextId, p.course.title);
  const {
    users: userIds,
    courses: courseIds,
    mappings,
  } = await resolveUsersAndCourses(tx, platform.id, [...new Set(fresh.map((p) => p.sub))], wantedCourses, mappedObjectIds(fresh.map((p) => p.statement)));
  // Rows travel as one JSON parameter: no per-value parameters to build and bind (the hot path of the endpoint);
  // each statement's JSON is the one prepared (ids, hashes and instants need no escaping).
  const statementRows = `[${fresh
    .map(
      (p) =>
        `{"id":"${p.id}","u":${userIds.get(p.sub)},"v":${JSON.stringify(p.verb)},"o":${JSON.stringify(p.objectId)},"s":"${p.statement.stored}","t":"${p.timestamp.toISOString()}","h":"${p.hash}","j":${p.json}}`,
    )
    .join(',')}]`;
  // The common batch (no voiding statement) hopes every statement is new: its completion events, activities, outbox
  // rows and the crediting lock ride in the INSERT's own statement, each guarded by "every row was inserted". When
  // some were already stored, that statement wrote nothing else, and the writes follow for the new ones only.
  const hopeful = fresh.every((p) => p.voidTarget === undefined);
  const planned = hopeful ? batchWrites(platform.id, fresh, userIds, courseIds, mappings, 'inserted') : undefined;
  const ids = fresh.map((p) => p.id);
  // One round trip: the INSERT, the hashes of those already stored (a resend costs this statement only) and, hoping, the writes.
  const answer = await queryRows<{ id: string | null; content_hash: string | null }>(
    tx,
    insertStatementsQuery(platform.id, statementRows, ids, planned && { writes: planned.writes, expected: fresh.length, lock: planned.learners.size > 0 }),
  );
  const insertedIds = new Set<string>();
  const known = new Map<string, string>();
  for (const r of answer) {
    if (r.id === null) continue; // the row of the crediting lock
    if (r.content_hash === null) insertedIds.add(r.id);
    else known.set(r.id, r.content_hash);
  }
  const already = fresh.filter((p) => !insertedIds.has(p.id));
  const unseen = already.filter((p) => !known.has(p.id));
  if (unseen.length) {
    // Committed by a concurrent transaction after the INSERT's snapshot: a new statement sees them.
    for (const r of await queryRows<{ id: string; content_hash: string }>(tx, storedHashesQuery(unseen.map((p) => p.id)))) known.set(r.id, r.content_hash);
  }
  for (const p of already) {
    if (known.get(p.id) !== p.hash) {
      throw conflict(`Statement ${p.id} is already stored with a different content (statements[${p.index}]).`);
    }
  }
  if (planned && already.length === 0) {
    // Stored coverage follows the completion facts just written (same transaction, crediting lock already held).
    await afterCompletionLearners(tx, deps, platform.id, [...planned.learners], { locked: true });
    return fresh.length;
  }
  const rows = fresh.filter((p) => insertedIds.has(p.id));
  if (rows.length === 0) return 0;

  // Learners whose coverage follows this batch: those of its completions and of the completions it voids.
  const learners = new Set<number>();
  const targets = rows.filter((p) => p.voidTarget && UUID.test(p.voidTarget)).map((p) => p.voidTarget as string);
  if (targets.length) {
    for (const r of await queryRows<{ user_id: number }>(tx, voidStatementsQuery(platform.id, targets))) learners.add(Number(r.user_id));
  }
  // Completion events, activities seen and the outbox in one statement (one round trip), rows as JSON parameters.
  const later = batchWrites(platform.id, rows, userIds, courseIds, mappings, 'stored');
  for (const l of later.learners) learners.add(l);
  const ctes = sql.join(
    later.writes.map((w, i) => sql`${sql.raw(`w${i}`)} AS (${w})`),
    sql`, `,
  );
  await tx.execute(sql`WITH ${ctes} SELECT 1`);
  // Stored coverage follows the completion facts just written or voided (same transaction).
  await afterCompletionLearners(tx, deps, platform.id, [...learners]);
  return rows.length;
}

/**
 * The writes that follow the statements `rows` (stored by this transaction): completion events, activities seen and
 * the outbox, as data-modifying statements for one WITH, rows as JSON parameters; and the learners of the
 * completions. `from`: `inserted`, in the statements' INSERT itself (its `ins` rows, each write guarded by
 * `all_new`), or `stored`, in a later statement (the table).
 */
function batchWrites(
  platformId: number,
  rows: Prepared[],
  userIds: Map<string, number>,
  courseIds: Map<string, number>,
  mappings: ObjectMapping[],
  from: 'inserted' | 'stored',
): { writes: SQL[]; learners: Set<number> } {
  const guard = from === 'inserted' ? sql`WHERE (SELECT ok FROM all_new)` : sql``;
  const writes: SQL[] = [];
  const learners = new Set<number>();
  // In batch order: the event id (arrival order) then follows the position within the batch.
  const completions = rows.filter((p) => p.completion).sort((a, b) => a.index - b.index);
  if (completions.length) {
    const eventRows = JSON.stringify(
      completions.map((p) => ({
        id: p.id,
        u: userIds.get(p.sub),
        c: p.course ? (courseIds.get(p.course.contextId) ?? null) : null,
        a: p.objectId,
        k: p.completion?.kind,
        s: p.completion?.success ?? null,
        d: p.completion?.durationSeconds ?? null,
        t: p.timestamp.toISOString(),
        p: p.index,
      })),
    );
    for (const p of completions) learners.add(userIds.get(p.sub) as number);
    writes.push(
      sql`INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds, statement_timestamp, position)
          SELECT (r->>'id')::uuid, ${platformId}::int, (r->>'u')::int, (r->>'c')::int, r->>'a', r->>'k', (r->>'s')::boolean, (r->>'d')::int,
                 (r->>'t')::timestamptz, (r->>'p')::smallint
          FROM jsonb_array_elements(${eventRows}::jsonb) WITH ORDINALITY AS x(r, n) ${guard} ORDER BY n
          ON CONFLICT (statement_id) DO NOTHING`,
    );
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
    // Sorted: concurrent batches lock shared activity rows in the same order (no deadlock).
    const activityRows = JSON.stringify([...activities.values()].sort((x, y) => (x.iri < y.iri ? -1 : 1)));
    writes.push(
      sql`INSERT INTO xapi_activities (platform_id, activity_iri, name, module_type, course_id)
          SELECT ${platformId}::int, r->>'iri', r->>'name', r->>'moduleType', (r->>'courseId')::int
          FROM jsonb_array_elements(${activityRows}::jsonb) WITH ORDINALITY AS x(r, n) ${guard} ORDER BY n
          ON CONFLICT (platform_id, activity_iri) DO UPDATE SET
            last_seen_at = now(),
            name = coalesce(excluded.name, xapi_activities.name),
            module_type = coalesce(excluded.module_type, xapi_activities.module_type),
            course_id = coalesce(excluded.course_id, xapi_activities.course_id)`,
    );
  }
  // The outbox copies the statements just stored inside the server (their JSON is not sent a second time); only
  // those the mappings enrich travel again, in their forwarded form.
  const statements = rows.map((p) => p.statement);
  const forwarded = applyMappings(statements, mappings);
  const enriched = JSON.stringify(forwarded.filter((st, i) => st !== statements[i]));
  const source =
    from === 'inserted'
      ? sql`ins s LEFT JOIN jsonb_array_elements(${enriched}::jsonb) AS e(r) ON (e.r->>'id')::uuid = s.id ${guard}`
      : sql`xapi_statements s LEFT JOIN jsonb_array_elements(${enriched}::jsonb) AS e(r) ON (e.r->>'id')::uuid = s.id
            WHERE s.id = ANY(${uuidArray(rows.map((p) => p.id))})`;
  writes.push(
    sql`INSERT INTO xapi_outbox (statement_id, statement)
        SELECT s.id, coalesce(e.r, s.statement) FROM ${source} ORDER BY s.seq
        ON CONFLICT (statement_id) DO NOTHING`,
  );
  return { writes, learners };
}
