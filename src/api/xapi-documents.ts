/**
 * The xAPI resources beside Statements (xAPI 1.0.3 Communication 2.3–2.8, 2.0 4.1.6.2–4.1.6.7): the State, Activity
 * Profile and Agent Profile document resources, Agents, Activities and About. Each request is authenticated and
 * scoped by `authenticateXapi`; documents belong to the credential's platform, or to an unrestricted client.
 */
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { invalid, notFound } from '../domain/errors';
import { storableDateTime } from '../domain/storable';
import { asyncHandler, parseOr400 } from '../web/http';
import { activityObject } from '../xapi/definitions';
import { agentIdentity, personOf, type XapiAgent, xapiAgent } from '../domain/xapi-agents';
import {
  deleteDocument,
  deleteDocuments,
  type DocumentResource,
  type DocumentSet,
  documentOwner,
  getDocument,
  listDocumentIds,
  writeDocument,
} from '../xapi/documents';
import { authenticateXapi, XAPI_VERSIONS, type XapiRequest } from './xapi-auth';

/** An id: the longest IRI or document id accepted (the unique key is hashed, this only bounds the row). */
const ID_MAX = 2048;
const iri = z.string().max(ID_MAX).regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'expected an absolute IRI');
const documentId = z.string().min(1).max(ID_MAX);
const registration = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a UUID');
const agentParam = z.string().max(8 * ID_MAX).describe('a JSON Agent with one of mbox, mbox_sha1sum, openid, account');

export const stateQuery = z
  .object({ activityId: iri, agent: agentParam, registration: registration.optional(), stateId: documentId.optional(), since: storableDateTime.optional() })
  .strict();
export const activityProfileQuery = z.object({ activityId: iri, profileId: documentId.optional(), since: storableDateTime.optional() }).strict();
export const agentProfileQuery = z.object({ agent: agentParam, profileId: documentId.optional(), since: storableDateTime.optional() }).strict();
export const agentsQuery = z.object({ agent: agentParam }).strict();
export const activitiesQuery = z.object({ activityId: iri }).strict();

/** The `agent` parameter, parsed: 400 when it is not JSON or not an Agent (a Group only where `groups`). */
function parseAgent(text: string, groups: boolean): XapiAgent {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('query.agent must be a JSON Agent.', [{ path: 'query.agent', message: 'invalid JSON' }]);
  }
  const agent = parseOr400(xapiAgent, json, 'query.agent');
  if (agent.objectType === 'Group' && !groups) throw invalid('query.agent must be an Agent, not a Group.', [{ path: 'query.agent.objectType', message: 'expected Agent' }]);
  return agent;
}

/** What one request to a document resource names: the set of documents, one document's id when given, `since`. */
interface Named {
  set: DocumentSet;
  documentId: string | undefined;
  since: Date | undefined;
}

interface DocumentResourceSpec {
  path: string;
  resource: DocumentResource;
  idName: 'stateId' | 'profileId';
  name: (query: unknown) => Named;
  /** Whether DELETE without an id deletes the whole set (State) or is refused (profiles). */
  deleteAll: boolean;
}

const since = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

const RESOURCES: DocumentResourceSpec[] = [
  {
    path: '/xapi/activities/state',
    resource: 'state',
    idName: 'stateId',
    deleteAll: true,
    name: (query) => {
      const q = parseOr400(stateQuery, query, 'query');
      const agent = agentIdentity(parseAgent(q.agent, false));
      return { set: { resource: 'state', activityId: q.activityId, agent, registration: q.registration }, documentId: q.stateId, since: since(q.since) };
    },
  },
  {
    path: '/xapi/activities/profile',
    resource: 'activity-profile',
    idName: 'profileId',
    deleteAll: false,
    name: (query) => {
      const q = parseOr400(activityProfileQuery, query, 'query');
      return { set: { resource: 'activity-profile', activityId: q.activityId }, documentId: q.profileId, since: since(q.since) };
    },
  },
  {
    path: '/xapi/agents/profile',
    resource: 'agent-profile',
    idName: 'profileId',
    deleteAll: false,
    name: (query) => {
      const q = parseOr400(agentProfileQuery, query, 'query');
      return { set: { resource: 'agent-profile', agent: agentIdentity(parseAgent(q.agent, true)) }, documentId: q.profileId, since: since(q.since) };
    },
  },
];

function preconditions(req: Request, spec: DocumentResourceSpec, request: XapiRequest) {
  return {
    ifMatch: req.header('if-match'),
    ifNoneMatch: req.header('if-none-match'),
    // xAPI 1.0.3 lets a state be replaced without a precondition; 2.0 asks it of every document resource
    required: spec.resource !== 'state' || request.version === '2.0.0',
    // a profile is created with If-None-Match: * (the 1.0.3 conformance suite refuses a bare PUT with 400)
    createRequires: spec.resource !== 'state',
  };
}

/** Parses the request's parameters after authentication, so a stranger learns nothing about them. */
async function authenticated(ctx: AppContext, req: Request, spec: DocumentResourceSpec, write: boolean): Promise<XapiRequest & Named> {
  const request = await authenticateXapi(ctx, req, spec.resource, write);
  await request.allowance.check();
  return { ...request, ...spec.name(req.query) };
}

function requireId(spec: DocumentResourceSpec, id: string | undefined): string {
  if (id === undefined) throw invalid(`The ${spec.idName} parameter is required.`, [{ path: `query.${spec.idName}`, message: 'required' }]);
  return id;
}

function documentRoutes(ctx: AppContext, router: Router, spec: DocumentResourceSpec): void {
  const body = express.raw({ type: () => true, limit: '10mb' });
  const bytes = (req: Request) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

  router.get(
    spec.path,
    asyncHandler(async (req, res) => {
      const r = await authenticated(ctx, req, spec, false);
      const owner = documentOwner(r.principal);
      if (r.documentId !== undefined) {
        const doc = await getDocument(ctx.store.db, owner, r.set, r.documentId);
        if (!doc) throw notFound(`No document ${spec.idName}=${JSON.stringify(r.documentId)} here.`);
        res.setHeader('ETag', `"${doc.etag}"`);
        res.setHeader('Last-Modified', doc.updated.toUTCString());
        res.setHeader('Content-Type', doc.contentType);
        res.status(200).send(doc.content);
        return;
      }
      const { ids, updated } = await listDocumentIds(ctx.store.db, owner, r.set, r.since);
      if (updated) res.setHeader('Last-Modified', updated.toUTCString());
      res.status(200).json(ids);
    }),
  );

  for (const method of ['PUT', 'POST'] as const) {
    router[method === 'PUT' ? 'put' : 'post'](
      spec.path,
      body,
      asyncHandler(async (req, res) => {
        const r = await authenticated(ctx, req, spec, true);
        const id = requireId(spec, r.documentId);
        const contentType = req.header('content-type')?.trim() || 'application/octet-stream';
        const etag = await writeDocument(
          ctx.store.db,
          documentOwner(r.principal),
          r.set,
          id,
          { method, contentType, content: bytes(req) },
          preconditions(req, spec, r),
          new Date(),
        );
        res.setHeader('ETag', `"${etag}"`);
        res.status(204).end();
      }),
    );
  }

  router.delete(
    spec.path,
    asyncHandler(async (req, res) => {
      const r = await authenticated(ctx, req, spec, true);
      const owner = documentOwner(r.principal);
      if (r.documentId !== undefined) await deleteDocument(ctx.store.db, owner, r.set, r.documentId, preconditions(req, spec, r));
      else if (spec.deleteAll) await deleteDocuments(ctx.store.db, owner, r.set);
      else requireId(spec, undefined);
      res.status(204).end();
    }),
  );
}

export function xapiDocumentsRouter(ctx: AppContext): Router {
  const router = express.Router();

  // the one resource that needs neither credentials nor a version header
  router.get('/xapi/about', (_req, res) => {
    res.json({ version: [...XAPI_VERSIONS], extensions: {} });
  });

  for (const spec of RESOURCES) documentRoutes(ctx, router, spec);

  router.get(
    '/xapi/agents',
    asyncHandler(async (req, res) => {
      const { allowance } = await authenticateXapi(ctx, req, 'agents', false);
      await allowance.check();
      const q = parseOr400(agentsQuery, req.query, 'query');
      res.json(personOf(parseAgent(q.agent, false)));
    }),
  );

  router.get(
    '/xapi/activities',
    asyncHandler(async (req, res) => {
      const { principal, allowance } = await authenticateXapi(ctx, req, 'activities', false);
      await allowance.check();
      const q = parseOr400(activitiesQuery, req.query, 'query');
      res.json(await activityObject(ctx.store.db, principal.platform?.id, q.activityId, principal.keyId));
    }),
  );
  return router;
}
