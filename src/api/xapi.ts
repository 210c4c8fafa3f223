import express, { type Request, type Response, type Router } from 'express';
import { statementsReceived } from '../metrics';
import { and, asc, desc, eq, gt, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AppContext } from '../context';
import { xapiStatements } from '../db/schema';
import type { Executor } from '../db/store';
import { findUser, normalizeIssuer, type Platform } from '../identity/records';
import type { XapiPrincipal } from '../xapi/keys';
import { accountPlatforms, prepareStatements, type StatementWriter, storeStatements } from '../xapi/ingest';
import {
  type AttachmentContent,
  attachmentContents,
  attachmentHashes,
  type AttachmentOwner,
  attachmentRows,
  checkAttachments,
  multipartStatements,
  storeAttachments,
} from '../xapi/attachments';
import { newBoundary, serializeMultipart } from '../xapi/multipart';
import { XAPI_LIMITS } from '../xapi/validate';
import { grantingScope } from '../xapi/scopes';
import type { RequestAllowance } from '../web/rate-limit';
import { asyncHandler, parseOr400 } from '../web/http';
import { invalid, notFound } from '../domain/errors';
import { storableDateTime } from '../domain/storable';
import { queryInteger } from './schemas';
import { ACCEPTED_VERSION, authenticateXapi, versionHeader, type XapiVersion } from './xapi-auth';
import { xapiDocumentsRouter } from './xapi-documents';
import { alternateRequestSyntax } from './xapi-alternate';

const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a UUID');
/** A `seq` cursor: a bigint column, read as a JavaScript number (safe up to 2^53 - 1). */
const cursor = queryInteger('expected a paging cursor from `more`').refine((n) => Number.isSafeInteger(n), 'not a paging cursor of this resource');

const flag = z.enum(['true', 'false']).optional();

export const listQuery = z
  .object({
    agent: z.string().optional().describe('a JSON Agent or identified Group (mbox, mbox_sha1sum, openid or account)'),
    verb: z.string().optional().describe('a verb IRI'),
    activity: z.string().optional().describe('an activity IRI'),
    registration: uuid.optional().describe('context.registration'),
    related_agents: flag.describe('agent also matches authority, instructor, team, group members and SubStatements'),
    related_activities: flag.describe('activity also matches context activities and SubStatements'),
    since: storableDateTime.optional().describe('stored after'),
    until: storableDateTime.optional().describe('stored at or before'),
    limit: queryInteger('expected a whole number').optional().describe('at most 500; 0 or absent: 100'),
    ascending: flag,
    format: z.enum(['exact', 'ids', 'canonical']).optional(),
    attachments: flag.describe('true: a multipart/mixed answer, the statements then the contents of their attachments'),
    cursor: cursor.optional().describe('given in `more`'),
  })
  .strict();

/** GET of one statement (by id, or a voided one by its id). */
export const singleQuery = z
  .object({ statementId: uuid.optional(), voidedStatementId: uuid.optional(), format: z.enum(['exact', 'ids', 'canonical']).optional(), attachments: flag })
  .strict();

export const putQuery = z.object({ statementId: uuid }).strict();

/** The version header every request carries (checked by `authenticate`). */
export const xapiHeaders = z.object({ 'x-experience-api-version': z.string().regex(ACCEPTED_VERSION).describe('1.0.3 or 2.0.0') });

/** An Inverse Functional Identifier of the `agent` parameter: what a stored Agent or Group contains when it is that agent. */
const agentIfi = z.union([
  z.object({ mbox: z.string().regex(/^mailto:/, 'expected a mailto: IRI') }).transform((a) => ({ mbox: a.mbox })),
  z.object({ mbox_sha1sum: z.string().regex(/^[0-9a-f]{40}$/i, 'expected a SHA-1 hex digest') }).transform((a) => ({ mbox_sha1sum: a.mbox_sha1sum })),
  z.object({ openid: z.string().min(1) }).transform((a) => ({ openid: a.openid })),
  z.object({ account: z.object({ homePage: z.string().min(1), name: z.string().min(1) }) }).transform((a) => ({ account: { homePage: a.account.homePage, name: a.account.name } })),
]);

type Ifi = z.infer<typeof agentIfi>;

/** Where an agent may stand in a statement (`related`: everywhere xAPI's related_agents looks). */
function agentMatch(ifi: Ifi, related: boolean): SQL {
  const one = JSON.stringify(ifi);
  const list = JSON.stringify([ifi]);
  const s = xapiStatements.statement;
  const direct = sql`(${s}->'actor' @> ${one}::jsonb OR (${s}->'object' @> ${one}::jsonb AND ${s}->'object'->>'objectType' IN ('Agent', 'Group')))`;
  if (!related) return direct;
  return sql`(${direct} OR ${s}->'authority' @> ${one}::jsonb OR ${s}->'actor'->'member' @> ${list}::jsonb
    OR ${s}->'object'->'member' @> ${list}::jsonb OR ${s}->'authority'->'member' @> ${list}::jsonb
    OR ${s}->'context'->'instructor' @> ${one}::jsonb OR ${s}->'context'->'team' @> ${one}::jsonb
    OR ${s}->'context'->'instructor'->'member' @> ${list}::jsonb OR ${s}->'context'->'team'->'member' @> ${list}::jsonb
    OR ${s}->'object'->'actor' @> ${one}::jsonb OR ${s}->'object'->'object' @> ${one}::jsonb
    OR ${s}->'object'->'actor'->'member' @> ${list}::jsonb
    OR ${s}->'object'->'context'->'instructor' @> ${one}::jsonb OR ${s}->'object'->'context'->'team' @> ${one}::jsonb)`;
}

function activityMatch(activity: string, related: boolean): SQL {
  const s = xapiStatements.statement;
  const direct = sql`(${xapiStatements.objectId} = ${activity} AND coalesce(${s}->'object'->>'objectType', 'Activity') = 'Activity')`;
  if (!related) return direct;
  const list = JSON.stringify([{ id: activity }]);
  const ca = (base: SQL) =>
    sql`(${base}->'parent' @> ${list}::jsonb OR ${base}->'grouping' @> ${list}::jsonb OR ${base}->'category' @> ${list}::jsonb OR ${base}->'other' @> ${list}::jsonb)`;
  return sql`(${direct} OR ${ca(sql`${s}->'context'->'contextActivities'`)}
    OR (${s}->'object'->'object'->>'id' = ${activity} AND coalesce(${s}->'object'->'object'->>'objectType', 'Activity') = 'Activity')
    OR ${ca(sql`${s}->'object'->'context'->'contextActivities'`)})`;
}

type Json = Record<string, unknown>;

/** An Agent or Group reduced to its identifier (xAPI `format=ids`); an anonymous Group keeps its members reduced. */
function agentIds(agent: unknown): unknown {
  if (agent === null || typeof agent !== 'object') return agent;
  const a = agent as Json;
  const out: Json = {};
  if (a.objectType !== undefined) out.objectType = a.objectType;
  for (const k of ['mbox', 'mbox_sha1sum', 'openid', 'account']) if (a[k] !== undefined) out[k] = a[k];
  if (a.objectType === 'Group' && Array.isArray(a.member) && Object.keys(out).length === 1) out.member = a.member.map(agentIds);
  return out;
}

function objectIds(object: unknown): unknown {
  if (object === null || typeof object !== 'object') return object;
  const o = object as Json;
  if (o.objectType === 'Agent' || o.objectType === 'Group') return agentIds(o);
  if (o.objectType === 'SubStatement') return statementIds(o);
  return o.objectType === undefined || o.objectType === 'Activity' ? { id: o.id } : { objectType: o.objectType, id: o.id };
}

/** A statement in xAPI's `ids` format: agents, groups and activities by their identifiers only. */
export function statementIds(statement: Json): Json {
  const out: Json = { ...statement, actor: agentIds(statement.actor), object: objectIds(statement.object) };
  if (statement.verb && typeof statement.verb === 'object') out.verb = { id: (statement.verb as Json).id };
  if (statement.authority !== undefined) out.authority = agentIds(statement.authority);
  const context = statement.context as Json | undefined;
  if (context && typeof context === 'object') {
    const c: Json = { ...context };
    if (c.instructor !== undefined) c.instructor = agentIds(c.instructor);
    if (c.team !== undefined) c.team = agentIds(c.team);
    const ca = c.contextActivities as Record<string, unknown> | undefined;
    if (ca && typeof ca === 'object') {
      c.contextActivities = Object.fromEntries(Object.entries(ca).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => ({ id: (x as Json).id })) : v]));
    }
    out.context = c;
  }
  return out;
}

/** The language ranges of an Accept-Language header, most wanted first. */
export function languageRanges(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((part, i) => {
      const [range = '', ...params] = part.trim().split(';');
      const q = Number(params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined) ?? 1);
      return { range: range.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0, i };
    })
    .filter((r) => r.range && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
    .map((r) => r.range);
}

/** A language map reduced to the one entry the reader prefers (xAPI `format=canonical`). */
function oneLanguage(map: unknown, ranges: readonly string[]): unknown {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return map;
  const keys = Object.keys(map);
  if (keys.length <= 1) return map;
  const chosen =
    ranges
      .map((r) => (r === '*' ? keys[0] : (keys.find((k) => k.toLowerCase() === r) ?? keys.find((k) => k.toLowerCase().startsWith(`${r}-`)))))
      .find((k) => k !== undefined) ?? keys[0];
  return chosen === undefined ? map : { [chosen]: (map as Json)[chosen] };
}

function canonicalDefinition(definition: unknown, ranges: readonly string[]): unknown {
  if (definition === null || typeof definition !== 'object') return definition;
  const d: Json = { ...(definition as Json) };
  for (const k of ['name', 'description']) if (d[k] !== undefined) d[k] = oneLanguage(d[k], ranges);
  for (const k of ['choices', 'scale', 'source', 'target', 'steps']) {
    const list = d[k];
    if (Array.isArray(list)) d[k] = list.map((c: unknown) => (c && typeof c === 'object' ? { ...(c as Json), description: oneLanguage((c as Json).description, ranges) } : c));
  }
  return d;
}

function canonicalActivity(activity: unknown, ranges: readonly string[]): unknown {
  if (activity === null || typeof activity !== 'object' || (activity as Json).definition === undefined) return activity;
  return { ...(activity as Json), definition: canonicalDefinition((activity as Json).definition, ranges) };
}

/** A statement in xAPI's `canonical` format: every language map in the one language the reader prefers. */
export function statementCanonical(statement: Json, ranges: readonly string[]): Json {
  const out: Json = { ...statement };
  if (statement.verb && typeof statement.verb === 'object') out.verb = { ...(statement.verb as Json), display: oneLanguage((statement.verb as Json).display, ranges) };
  const object = statement.object as Json | undefined;
  if (object && typeof object === 'object') out.object = object.objectType === 'SubStatement' ? statementCanonical(object, ranges) : canonicalActivity(object, ranges);
  const context = statement.context as Json | undefined;
  const ca = context?.contextActivities as Record<string, unknown> | undefined;
  if (context && ca && typeof ca === 'object') {
    out.context = {
      ...context,
      contextActivities: Object.fromEntries(Object.entries(ca).map(([k, v]) => [k, Array.isArray(v) ? v.map((a) => canonicalActivity(a, ranges)) : v])),
    };
  }
  if (Array.isArray(statement.attachments)) {
    out.attachments = statement.attachments.map((a: unknown) =>
      a && typeof a === 'object' ? { ...(a as Json), display: oneLanguage((a as Json).display, ranges), description: oneLanguage((a as Json).description, ranges) } : a,
    );
  }
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

function formatted(statement: unknown, format: string | undefined, req: Request): unknown {
  if (format === 'ids') return statementIds(statement as Json);
  if (format === 'canonical') return statementCanonical(statement as Json, languageRanges(req.header('accept-language')));
  return statement;
}

interface StatementReader {
  principal: XapiPrincipal;
  allowance: RequestAllowance;
  /** The statements this request may read: its platform's, or an unrestricted client's own; `statements/read/mine`: its own. */
  owned: SQL;
  version: XapiVersion;
}

/**
 * Requests need a supported `X-Experience-API-Version` and Basic credentials with a statements scope (see
 * `authenticateXapi`). A platform key, and a client restricted to a platform, read their platform's statements; an
 * unrestricted client reads the statements it sent; `statements/read/mine` alone reads only those it sent.
 */
async function authenticate(ctx: AppContext, req: Request, write: boolean): Promise<StatementReader> {
  const { principal, allowance, version } = await authenticateXapi(ctx, req, 'statements', write);
  const mine = eq(xapiStatements.keyId, principal.keyId);
  const own = !principal.platform || (!write && grantingScope(principal.scopes, 'statements', false) === 'statements/read/mine');
  const platformOnly = principal.platform ? eq(xapiStatements.platformId, principal.platform.id) : undefined;
  const owned = (own ? and(platformOnly, mine) : platformOnly) as SQL;
  return { principal, allowance, owned, version };
}

function writerOf(principal: XapiPrincipal, platforms: Map<string, Platform> | undefined): StatementWriter {
  const strict = principal.kind === 'platform';
  return { platform: principal.platform, strict, keyId: strict ? null : principal.keyId, platforms };
}

/** The request's JSON body (parsed here when the alternate request syntax gave it as bytes); undefined when it is not JSON. */
function statementBody(req: Request): unknown {
  if (!req.is('application/json')) return undefined;
  if (!Buffer.isBuffer(req.body)) return req.body as unknown;
  try {
    return JSON.parse(req.body.toString('utf8')) as unknown;
  } catch {
    throw invalid('The content is not JSON.', [{ path: 'content', message: 'invalid JSON' }]);
  }
}

/**
 * The statements of a POST or PUT and the contents of their attachments: a JSON body (no attachment content), or a
 * `multipart/mixed` one (the statements, then one part per attachment content).
 */
function requestStatements(req: Request): { body: unknown; parts: AttachmentContent[] } {
  if (req.is('multipart/mixed')) {
    if (!Buffer.isBuffer(req.body)) throw invalid('The multipart/mixed body is empty.', [{ path: 'body', message: 'expected the statements and their attachments' }]);
    const { statements, parts } = multipartStatements(req.body, req.header('content-type') ?? '');
    return { body: statements, parts };
  }
  const body = statementBody(req);
  if (body === undefined) {
    throw invalid('The body must be JSON (Content-Type: application/json) or multipart/mixed with attachments.', [
      { path: 'headers.content-type', message: 'expected application/json or multipart/mixed' },
    ]);
  }
  return { body, parts: [] };
}

/** Validates and stores the statements of a POST or PUT, with their attachments (in the batch's transaction). */
async function receive(ctx: AppContext, req: Request, reader: StatementReader, forcedId: string | undefined, beforeCommit: () => Promise<void>) {
  const { principal, version } = reader;
  const { body, parts } = requestStatements(req);
  if (forcedId !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
    throw invalid('PUT takes one statement as JSON.', [{ path: 'body', message: 'expected one statement object' }]);
  }
  const writer = writerOf(principal, principal.platform ? undefined : await accountPlatforms(ctx.store.db, body));
  const since = await ctx.statementIds.timeOrderedSince(ctx.store.db);
  const prepared = prepareStatements(body, writer, authority(ctx, req), new Date(), forcedId, version, since);
  await checkAttachments(
    prepared.map((p) => p.statement),
    parts,
    (i) => (Array.isArray(body) ? `statements[${prepared[i]?.index}]` : 'statement'),
  );
  const alsoWrite = parts.length ? (tx: Executor) => storeAttachments(tx, attachmentRows(prepared, parts, writer.keyId)) : undefined;
  return storeStatements(ctx.store.db, writer, prepared, beforeCommit, alsoWrite);
}

/** A GET's answer with `attachments=true`: multipart/mixed, `payload` as JSON then the stored contents of the attachments. */
async function sendWithAttachments(ctx: AppContext, res: Response, payload: unknown, rows: readonly (AttachmentOwner & { statement: unknown })[]) {
  const contents = await attachmentContents(
    ctx.store.db,
    rows.map((r) => ({ platformId: r.platformId, clientId: r.clientId, sha2: attachmentHashes(r.statement) })),
  );
  const json = Buffer.from(JSON.stringify(payload), 'utf8');
  const boundary = newBoundary([json, ...contents.map((c) => c.content)]);
  const parts = [
    { headers: { 'Content-Type': 'application/json' }, body: json },
    ...contents.map((c) => ({ headers: { 'Content-Type': c.contentType, 'Content-Transfer-Encoding': 'binary', 'X-Experience-API-Hash': c.sha2 }, body: c.content })),
  ];
  res.setHeader('Content-Type', `multipart/mixed; boundary=${boundary}`);
  res.send(serializeMultipart(parts, boundary));
}

/**
 * Runs `store` (which calls its `beforeCommit` before it writes for good) within the request's allowance: past the limit
 * nothing is committed and the answer is 429, also when the request is refused for another reason.
 */
async function withinAllowance<T>(allowance: RequestAllowance, store: (beforeCommit: () => Promise<void>) => Promise<T>): Promise<T> {
  try {
    const result = await store(allowance.check);
    await allowance.check();
    return result;
  } catch (error) {
    await allowance.check();
    throw error;
  }
}

function authority(ctx: AppContext, req: Request) {
  const key = Buffer.from(/^Basic\s+(.+)$/i.exec(req.header('authorization') ?? '')?.[1] ?? '', 'base64')
    .toString('utf8')
    .split(':')[0];
  return { objectType: 'Agent', name: 'Socle', account: { homePage: ctx.config.publicUrl, name: key ?? '' } };
}

/** The inbound xAPI Statements resource (what Moodle's logstore_xapi sends to), and the document resources. */
export function xapiRouter(ctx: AppContext, wakeCoverage: () => void): Router {
  const router = express.Router();
  router.use('/xapi', alternateRequestSyntax, versionHeader);
  router.use(xapiDocumentsRouter(ctx));
  const json = express.json({ limit: '10mb', strict: true });
  // only a multipart/mixed request is read as bytes: a JSON one passes (the type is all it checks)
  const multipart = express.raw({ type: 'multipart/mixed', limit: XAPI_LIMITS.maxMultipartBytes });

  router.post(
    '/xapi/statements',
    json,
    multipart,
    asyncHandler(async (req, res) => {
      const reader = await authenticate(ctx, req, true);
      const result = await withinAllowance(reader.allowance, (beforeCommit) => receive(ctx, req, reader, undefined, beforeCommit));
      statementsReceived.inc(result.stored);
      if (result.marked) wakeCoverage();
      res.status(200).json(result.ids);
    }),
  );

  router.put(
    '/xapi/statements',
    json,
    multipart,
    asyncHandler(async (req, res) => {
      const reader = await authenticate(ctx, req, true);
      const result = await withinAllowance(reader.allowance, (beforeCommit) => {
        const { statementId } = parseOr400(putQuery, req.query, 'query');
        return receive(ctx, req, reader, statementId.toLowerCase(), beforeCommit);
      });
      statementsReceived.inc(result.stored);
      if (result.marked) wakeCoverage();
      res.status(204).end();
    }),
  );

  router.get(
    '/xapi/statements',
    asyncHandler(async (req, res) => {
      const { principal, allowance, owned } = await authenticate(ctx, req, false);
      await allowance.check();
      res.setHeader('X-Experience-API-Consistent-Through', new Date().toISOString());
      if ('statementId' in req.query || 'voidedStatementId' in req.query) {
        const q = parseOr400(singleQuery, req.query, 'query');
        if (q.statementId && q.voidedStatementId) throw invalid('Give statementId or voidedStatementId, not both.');
        const id = (q.statementId ?? q.voidedStatementId ?? '').toLowerCase();
        const [row] = await ctx.store.db
          .select({
            statement: xapiStatements.statement,
            voided: xapiStatements.voided,
            stored: xapiStatements.stored,
            platformId: xapiStatements.platformId,
            clientId: xapiStatements.keyId,
          })
          .from(xapiStatements)
          .where(and(eq(xapiStatements.id, id), owned));
        if (!row || row.voided !== Boolean(q.voidedStatementId)) throw notFound(`No ${q.voidedStatementId ? 'voided ' : ''}statement ${id}.`);
        res.setHeader('Last-Modified', row.stored.toUTCString());
        const statement = formatted(row.statement, q.format, req);
        if (q.attachments === 'true') await sendWithAttachments(ctx, res, statement, [row]);
        else res.json(statement);
        return;
      }
      const q = parseOr400(listQuery, req.query, 'query');
      const limit = Math.min(q.limit === undefined || q.limit === 0 ? 100 : q.limit, 500);
      const ascending = q.ascending === 'true';
      const where: SQL[] = [owned, eq(xapiStatements.voided, false)];
      const filters: SQL[] = [];
      if (q.agent !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(q.agent);
        } catch {
          throw invalid('query.agent must be a JSON Agent.', [{ path: 'query.agent', message: 'invalid JSON' }]);
        }
        const ifi = parseOr400(agentIfi, parsed, 'query.agent');
        const match = agentMatch(ifi, q.related_agents === 'true');
        // a platform's learner: also the statements credited to them (an account whose homePage differs in its trailing slash)
        const platform = principal.platform;
        const user =
          'account' in ifi && platform && normalizeIssuer(ifi.account.homePage) === platform.issuer ? await findUser(ctx.store.db, platform.id, ifi.account.name) : undefined;
        filters.push(user ? (or(eq(xapiStatements.userId, user.id), match) as SQL) : match);
      }
      if (q.verb) filters.push(eq(xapiStatements.verb, q.verb));
      if (q.activity) filters.push(activityMatch(q.activity, q.related_activities === 'true'));
      if (q.registration) filters.push(sql`${xapiStatements.statement}->'context'->>'registration' = ${q.registration.toLowerCase()}`);
      if (filters.length) {
        // a statement targeting (StatementRef) one that matches the filters matches them too, even when that one is voided
        const matching = and(...filters) as SQL;
        where.push(
          or(
            matching,
            sql`(${xapiStatements.statement}->'object'->>'objectType' = 'StatementRef' AND lower(${xapiStatements.statement}->'object'->>'id') IN (SELECT xapi_statements.id::text FROM xapi_statements WHERE ${owned} AND ${matching}))`,
          ) as SQL,
        );
      }
      if (q.since) where.push(gt(xapiStatements.stored, new Date(q.since)));
      if (q.until) where.push(lte(xapiStatements.stored, new Date(q.until)));
      if (q.cursor !== undefined) where.push(ascending ? gt(xapiStatements.seq, q.cursor) : lt(xapiStatements.seq, q.cursor));
      const rows = await ctx.store.db
        .select({ seq: xapiStatements.seq, statement: xapiStatements.statement, platformId: xapiStatements.platformId, clientId: xapiStatements.keyId })
        .from(xapiStatements)
        .where(and(...where))
        .orderBy(ascending ? asc(xapiStatements.seq) : desc(xapiStatements.seq))
        .limit(limit + 1);
      const page = rows.slice(0, limit);
      let more = '';
      if (rows.length > limit) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(req.query)) if (k !== 'cursor' && typeof v === 'string') params.set(k, v);
        params.set('cursor', String(page[page.length - 1]?.seq));
        more = `${req.baseUrl}/xapi/statements?${params.toString()}`;
      }
      const result = { statements: page.map((r) => formatted(r.statement, q.format, req)), more };
      if (q.attachments === 'true') await sendWithAttachments(ctx, res, result, page);
      else res.json(result);
    }),
  );
  return router;
}
