import express, { type Request, type Router } from 'express';
import { statementsReceived } from '../metrics';
import { and, asc, desc, eq, gt, lt, lte, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { AppContext } from '../context';
import { xapiStatements } from '../db/schema';
import { findUser, normalizeIssuer, type Platform } from '../identity/records';
import { prepareStatements, storeStatements } from '../xapi/ingest';
import { grantingScope } from '../xapi/scopes';
import type { RequestAllowance } from '../web/rate-limit';
import { asyncHandler, parseOr400 } from '../web/http';
import { forbidden, invalid, notFound, SocleError } from '../domain/errors';
import { storableDateTime } from '../domain/storable';
import { queryInteger } from './schemas';
import { ACCEPTED_VERSION, authenticateXapi, versionHeader } from './xapi-auth';
import { xapiDocumentsRouter } from './xapi-documents';

const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a UUID');
/** A `seq` cursor: a bigint column, read as a JavaScript number (safe up to 2^53 - 1). */
const cursor = queryInteger('expected a paging cursor from `more`').refine((n) => Number.isSafeInteger(n), 'not a paging cursor of this resource');

export const listQuery = z
  .object({
    agent: z.string().optional().describe('a JSON Agent with an account (homePage = the platform, name = the LTI sub)'),
    verb: z.string().optional().describe('a verb IRI'),
    activity: z.string().optional().describe('an activity IRI'),
    since: storableDateTime.optional().describe('stored after'),
    until: storableDateTime.optional().describe('stored at or before'),
    limit: queryInteger('expected a whole number').optional().describe('at most 500; 0 or absent: 100'),
    ascending: z.enum(['true', 'false']).optional(),
    format: z.enum(['exact', 'ids', 'canonical']).optional(),
    cursor: cursor.optional().describe('given in `more`'),
  })
  .strict();

/** GET of one statement (by id, or a voided one by its id). */
export const singleQuery = z
  .object({ statementId: uuid.optional(), voidedStatementId: uuid.optional(), format: z.string().optional(), attachments: z.string().optional() })
  .strict();

export const putQuery = z.object({ statementId: uuid }).strict();

/** The version header every request carries (checked by `authenticate`). */
export const xapiHeaders = z.object({ 'x-experience-api-version': z.string().regex(ACCEPTED_VERSION).describe('1.0.3 or 2.0.0') });

const agentSchema = z.object({ account: z.object({ homePage: z.string(), name: z.string() }) });

/**
 * Requests need a supported `X-Experience-API-Version` and Basic credentials with a statements scope (see
 * `authenticateXapi`). Statements belong to a platform: a platform key writes and reads its platform's; an LRS
 * client restricted to a platform acts as that platform's key; an unrestricted client is refused here for now.
 */
async function authenticate(ctx: AppContext, req: Request, write: boolean): Promise<{ platform: Platform; allowance: RequestAllowance }> {
  const { principal, allowance } = await authenticateXapi(ctx, req, 'statements', write);
  if (!principal.platform) {
    await allowance.check();
    throw forbidden(
      'This LRS client is not restricted to a platform: statements are stored per platform, so the statements resource is open only to platform keys and clients created with --platform for now (the document resources are open to it).',
    );
  }
  if (!write && grantingScope(principal.scopes, 'statements', false) === 'statements/read/mine') {
    await allowance.check();
    throw forbidden('Reading only this client\'s own statements (scope statements/read/mine) is not available yet: give the client statements/read or all/read.', [
      { path: 'scope', message: 'one of statements/read, all/read, all' },
    ]);
  }
  return { platform: principal.platform, allowance };
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
  router.use('/xapi', versionHeader);
  router.use(xapiDocumentsRouter(ctx));
  const json = express.json({ limit: '10mb', strict: true });

  router.post(
    '/xapi/statements',
    json,
    asyncHandler(async (req, res) => {
      const { platform, allowance } = await authenticate(ctx, req, true);
      const result = await withinAllowance(allowance, (beforeCommit) => {
        if (req.body === undefined || !req.is('application/json')) {
          throw invalid('The body must be JSON (Content-Type: application/json).', [{ path: 'headers.content-type', message: 'expected application/json' }]);
        }
        const prepared = prepareStatements(req.body, platform, authority(ctx, req), new Date());
        return storeStatements(ctx.store.db, platform, prepared, beforeCommit);
      });
      statementsReceived.inc(result.stored);
      if (result.marked) wakeCoverage();
      res.status(200).json(result.ids);
    }),
  );

  router.put(
    '/xapi/statements',
    json,
    asyncHandler(async (req, res) => {
      const { platform, allowance } = await authenticate(ctx, req, true);
      const result = await withinAllowance(allowance, (beforeCommit) => {
        const { statementId } = parseOr400(putQuery, req.query, 'query');
        if (!req.is('application/json') || Array.isArray(req.body)) {
          throw invalid('PUT takes one statement as JSON.', [{ path: 'body', message: 'expected one statement object' }]);
        }
        const prepared = prepareStatements(req.body, platform, authority(ctx, req), new Date(), statementId.toLowerCase());
        return storeStatements(ctx.store.db, platform, prepared, beforeCommit);
      });
      statementsReceived.inc(result.stored);
      if (result.marked) wakeCoverage();
      res.status(204).end();
    }),
  );

  router.get(
    '/xapi/statements',
    asyncHandler(async (req, res) => {
      const { platform, allowance } = await authenticate(ctx, req, false);
      await allowance.check();
      if ('statementId' in req.query || 'voidedStatementId' in req.query) {
        const q = parseOr400(singleQuery, req.query, 'query');
        if (q.statementId && q.voidedStatementId) throw invalid('Give statementId or voidedStatementId, not both.');
        const id = (q.statementId ?? q.voidedStatementId ?? '').toLowerCase();
        const [row] = await ctx.store.db
          .select({ statement: xapiStatements.statement, voided: xapiStatements.voided })
          .from(xapiStatements)
          .where(and(eq(xapiStatements.id, id), eq(xapiStatements.platformId, platform.id)));
        if (!row || row.voided !== Boolean(q.voidedStatementId)) throw notFound(`No ${q.voidedStatementId ? 'voided ' : ''}statement ${id}.`);
        res.json(row.statement);
        return;
      }
      const q = parseOr400(listQuery, req.query, 'query');
      const limit = Math.min(q.limit === undefined || q.limit === 0 ? 100 : q.limit, 500);
      const ascending = q.ascending === 'true';
      const where: SQL[] = [eq(xapiStatements.platformId, platform.id), eq(xapiStatements.voided, false)];
      if (q.agent !== undefined) {
        let agent: z.infer<typeof agentSchema>;
        try {
          agent = parseOr400(agentSchema, JSON.parse(q.agent), 'query.agent');
        } catch (error) {
          if (error instanceof SocleError) throw error;
          throw invalid('query.agent must be a JSON Agent.', [{ path: 'query.agent', message: 'invalid JSON' }]);
        }
        const user =
          normalizeIssuer(agent.account.homePage) === platform.issuer ? await findUser(ctx.store.db, platform.id, agent.account.name) : undefined;
        if (!user) {
          res.json({ statements: [], more: '' });
          return;
        }
        where.push(eq(xapiStatements.userId, user.id));
      }
      if (q.verb) where.push(eq(xapiStatements.verb, q.verb));
      if (q.activity) where.push(eq(xapiStatements.objectId, q.activity));
      if (q.since) where.push(gt(xapiStatements.stored, new Date(q.since)));
      if (q.until) where.push(lte(xapiStatements.stored, new Date(q.until)));
      if (q.cursor !== undefined) where.push(ascending ? gt(xapiStatements.seq, q.cursor) : lt(xapiStatements.seq, q.cursor));
      const rows = await ctx.store.db
        .select({ seq: xapiStatements.seq, statement: xapiStatements.statement })
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
        more = `/xapi/statements?${params.toString()}`;
      }
      res.setHeader('X-Experience-API-Consistent-Through', new Date().toISOString());
      res.json({ statements: page.map((r) => r.statement), more });
    }),
  );
  return router;
}
