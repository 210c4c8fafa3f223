import { type SQL, sql } from 'drizzle-orm';
import { type CoverageDeps, coverageDeps, type CoverageServices } from '../coverage/deps';
import { afterCompletionStatements } from '../coverage/freshness';
import { type Database, type Executor, inList, queryRows } from '../db/store';
import { conflict, type ErrorDetail, forbidden, invalid } from '../domain/errors';
import type { Platform } from '../identity/records';
import { statementIdentity } from '../domain/statement-ids';
import { enrichWithMappings } from '../forwarding/enrich';
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
    const { derivedId, hash } = statementIdentity(content);
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
      hash,
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
 * anything fails.
 */
export async function storeStatements(db: Database, services: CoverageServices, platform: Platform, prepared: Prepared[]): Promise<IngestResult> {
  const ids = prepared.map((p) => p.id);
  if (prepared.length === 0) return { ids, stored: 0 };
  const unique = [...new Map(prepared.map((p) => [p.id, p])).values()];
  // One transaction; the common case (all new) costs no lookup: insert, then compare only what was already there.
  let stored = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      stored = await db.transaction((tx) => insertFresh(tx, coverageDeps(services, tx), platform, unique));
      break;
    } catch (error) {
      // A deadlock or serialization failure between concurrent batches: the transaction rolled back, try again.
      const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
      if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw error;
    }
  }
  return { ids, stored };
}

/** Ids of the platform's users with these subs, creating the missing ones, in one round trip without touching existing rows. */
async function resolveUsers(tx: Executor, platformId: number, subs: string[]): Promise<Map<string, number>> {
  const list = sql.join(
    subs.map((sub) => sql`(${platformId}::int, ${sub}::text)`),
    sql`, `,
  );
  const rows = await queryRows<{ id: number; sub: string }>(
    tx,
    sql`WITH wanted(platform_id, sub) AS (VALUES ${list}),
        created AS (INSERT INTO users (platform_id, sub) SELECT platform_id, sub FROM wanted ON CONFLICT DO NOTHING RETURNING id, sub)
        SELECT id, sub FROM created
        UNION ALL SELECT u.id, u.sub FROM users u JOIN wanted w ON w.platform_id = u.platform_id AND w.sub = u.sub`,
  );
  const ids = new Map(rows.map((r) => [r.sub, Number(r.id)]));
  const missing = subs.filter((sub) => !ids.has(sub));
  if (missing.length) {
    // Created by a concurrent transaction that committed after this statement's snapshot: a new statement sees it.
    const late = await queryRows<{ id: number; sub: string }>(
      tx,
      sql`SELECT id, sub FROM users WHERE platform_id = ${platformId} AND sub IN (${inList(missing)})`,
    );
    for (const r of late) ids.set(r.sub, Number(r.id));
  }
  if (ids.size !== subs.length) throw new Error('cannot resolve the users of a statement batch');
  return ids;
}

/** Ids of the platform's courses with these context ids, creating the missing ones (titled from the statement). */
async function resolveCourses(tx: Executor, platformId: number, wanted: Map<string, string | null>): Promise<Map<string, number>> {
  if (wanted.size === 0) return new Map();
  const list = sql.join(
    [...wanted].map(([contextId, title]) => sql`(${platformId}::int, ${contextId}::text, ${title}::text)`),
    sql`, `,
  );
  const rows = await queryRows<{ id: number; context_id: string }>(
    tx,
    sql`WITH wanted(platform_id, context_id, title) AS (VALUES ${list}),
        created AS (INSERT INTO courses (platform_id, context_id, title) SELECT platform_id, context_id, title FROM wanted
                    ON CONFLICT DO NOTHING RETURNING id, context_id)
        SELECT id, context_id FROM created
        UNION ALL SELECT c.id, c.context_id FROM courses c JOIN wanted w ON w.platform_id = c.platform_id AND w.context_id = c.context_id`,
  );
  const ids = new Map(rows.map((r) => [r.context_id, Number(r.id)]));
  const missing = [...wanted.keys()].filter((c) => !ids.has(c));
  if (missing.length) {
    const late = await queryRows<{ id: number; context_id: string }>(
      tx,
      sql`SELECT id, context_id FROM courses WHERE platform_id = ${platformId} AND context_id IN (${inList(missing)})`,
    );
    for (const r of late) ids.set(r.context_id, Number(r.id));
  }
  return ids;
}

async function insertFresh(tx: Executor, deps: CoverageDeps, platform: Platform, fresh: Prepared[]): Promise<number> {
  const userIds = await resolveUsers(tx, platform.id, [...new Set(fresh.map((p) => p.sub))]);
  const wantedCourses = new Map<string, string | null>();
  for (const p of fresh) if (p.course && !wantedCourses.has(p.course.contextId)) wantedCourses.set(p.course.contextId, p.course.title);
  const courseIds = await resolveCourses(tx, platform.id, wantedCourses);
  // Rows travel as one JSON parameter: no per-value parameters to build and bind (the hot path of the endpoint).
  const statementRows = JSON.stringify(
    fresh.map((p) => ({
      id: p.id,
      u: userIds.get(p.sub),
      v: p.verb,
      o: p.objectId,
      s: p.statement.stored,
      t: p.timestamp.toISOString(),
      h: p.hash,
      j: p.statement,
    })),
  );
  const inserted = await queryRows<{ id: string }>(
    tx,
    sql`INSERT INTO xapi_statements (id, platform_id, user_id, verb, object_id, stored, "timestamp", content_hash, statement)
        SELECT (r->>'id')::uuid, ${platform.id}::int, (r->>'u')::int, r->>'v', r->>'o', (r->>'s')::timestamptz, (r->>'t')::timestamptz, r->>'h', r->'j'
        FROM jsonb_array_elements(${statementRows}::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
        ON CONFLICT (id) DO NOTHING RETURNING id::text AS id`,
  );
  const insertedIds = new Set(inserted.map((r) => r.id));
  const already = fresh.filter((p) => !insertedIds.has(p.id));
  if (already.length) {
    const existing = await queryRows<{ id: string; content_hash: string }>(
      tx,
      sql`SELECT id::text AS id, content_hash FROM xapi_statements WHERE id::text IN (${inList(already.map((p) => p.id))})`,
    );
    const known = new Map(existing.map((r) => [r.id, r.content_hash]));
    for (const p of already) {
      if (known.get(p.id) !== p.hash) {
        throw conflict(`Statement ${p.id} is already stored with a different content (statements[${p.index}]).`);
      }
    }
  }
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

  // Completion events, activities seen and the outbox in one statement (one round trip), rows as JSON parameters.
  const writes: SQL[] = [];
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
    writes.push(
      sql`INSERT INTO completion_events (statement_id, platform_id, user_id, course_id, activity_iri, kind, success, duration_seconds, statement_timestamp, position)
          SELECT (r->>'id')::uuid, ${platform.id}::int, (r->>'u')::int, (r->>'c')::int, r->>'a', r->>'k', (r->>'s')::boolean, (r->>'d')::int,
                 (r->>'t')::timestamptz, (r->>'p')::smallint
          FROM jsonb_array_elements(${eventRows}::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
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
          SELECT ${platform.id}::int, r->>'iri', r->>'name', r->>'moduleType', (r->>'courseId')::int
          FROM jsonb_array_elements(${activityRows}::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
          ON CONFLICT (platform_id, activity_iri) DO UPDATE SET
            last_seen_at = now(),
            name = coalesce(excluded.name, xapi_activities.name),
            module_type = coalesce(excluded.module_type, xapi_activities.module_type),
            course_id = coalesce(excluded.course_id, xapi_activities.course_id)`,
    );
  }
  const forwarded = await enrichWithMappings(tx, rows.map((p) => p.statement), platform.id);
  if (forwarded.length) {
    const outboxRows = JSON.stringify(forwarded);
    writes.push(
      sql`INSERT INTO xapi_outbox (statement_id, statement)
          SELECT (r->>'id')::uuid, r FROM jsonb_array_elements(${outboxRows}::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
          ON CONFLICT (statement_id) DO NOTHING`,
    );
  }
  if (writes.length) {
    const ctes = sql.join(
      writes.map((w, i) => sql`${sql.raw(`w${i}`)} AS (${w})`),
      sql`, `,
    );
    await tx.execute(sql`WITH ${ctes} SELECT 1`);
  }
  // Stored coverage follows the completion facts just written or voided (same transaction).
  await afterCompletionStatements(tx, deps, platform.id, [...completions.map((p) => p.id), ...targets]);
  return rows.length;
}
