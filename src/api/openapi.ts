/**
 * The OpenAPI 3.1 description of Socle's JSON API (/api/v1), its xAPI resource and health checks, served at
 * /api/openapi.json. It is generated from the zod schemas the routes parse their requests with (exported beside
 * each route) and from those of ./schemas.ts for what they answer, so that it cannot drift from the code.
 */
import { OpenApiGeneratorV31, OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import express, { type Router } from 'express';
import { z } from 'zod';
import { query as coverageQuery } from './coverage';
import { query as credentialsQuery } from './credentials';
import { showParams, showQuery } from './referentials';
import { importBody } from './records';
import { exportBody, filtersQuery, jobParams } from './reports';
import {
  courseCoverage,
  credential,
  learnerRecord,
  recordImport,
  errorResponse,
  exportJob,
  health,
  indicators,
  learnerCoverage,
  readiness,
  referentialDocument,
  referentialList,
  statement,
  statementIds,
  statementResult,
} from './schemas';
import { listQuery, putQuery, singleQuery, xapiHeaders } from './xapi';
import { activitiesQuery, activityProfileQuery, agentProfileQuery, agentsQuery, stateQuery } from './xapi-documents';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
/** The issuer of the platform an API token acts on (`tokenPrincipal` in ./reports.ts requires it). */
const platformIssuer = z.string().describe('the LTI issuer of the platform (Moodle wwwroot)');

/** Builds the document: the registry of every route, then the generator. */
export function openApiDocument(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'an administrator API token (socle api-tokens create --role admin)',
  });
  registry.registerComponent('securitySchemes', 'ltiSession', {
    type: 'http',
    scheme: 'bearer',
    description:
      'the LTI session token (ltik) of a launch, with its session cookie unless LTI_SESSION=ltiaas: a learner sees only their own records, an instructor those of their course, a platform administrator their platform',
  });
  registry.registerComponent('securitySchemes', 'xapiBasic', {
    type: 'http',
    scheme: 'basic',
    description: 'an xAPI key and its secret (socle xapi-keys create): a platform key, or an LRS client with xAPI scopes (--client)',
  });
  const { ref: error } = registry.registerComponent('responses', 'Error', {
    description: 'an error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  const errors = (...statuses: number[]): Record<number, typeof error> => Object.fromEntries(statuses.map((s) => [s, error]));
  const { ref: rateLimited } = registry.registerComponent('responses', 'RateLimited', {
    description: 'too many requests from this client (xAPI key, API token) in the window of RATE_LIMIT_WINDOW_SECONDS: error code rate_limited',
    headers: { 'Retry-After': { description: 'seconds until the window ends', schema: { type: 'integer', minimum: 1 } } },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  registry.registerComponent('securitySchemes', 'metricsToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN, when it is set (unset, /metrics is open)',
  });
  const token = [{ apiToken: [] }];
  const xapi = [{ xapiBasic: [] }];
  const none: { [name: string]: string[] }[] = [];

  registry.registerPath({
    method: 'get',
    path: '/api/v1/coverage',
    operationId: 'getCoverage',
    tags: ['coverage'],
    summary: 'Coverage of one learner (platform + user + referential) or of a course (platform + context)',
    request: { query: coverageQuery },
    responses: {
      200: { description: 'the coverage', content: json(z.union([learnerCoverage, courseCoverage])) },
      ...errors(400, 401, 403, 404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/credentials',
    operationId: 'listCredentials',
    tags: ['credentials'],
    summary: "A learner's Open Badges 3.0 credentials (active and revoked), oldest first",
    request: { query: credentialsQuery },
    responses: { 200: { description: 'the credentials', content: json(z.array(credential)) }, ...errors(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/records',
    operationId: 'listLearnerRecords',
    tags: ['credentials'],
    summary:
      "A learner's current records (CLR 2.0 ClrCredential, VC-JWT), one per référentiel version they have hours in; issued again when their hours or badges change",
    request: { query: credentialsQuery },
    responses: { 200: { description: 'the records', content: json(z.array(learnerRecord)) }, ...errors(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/records/imports',
    operationId: 'importLearnerRecord',
    tags: ['credentials'],
    summary:
      "Imports a learner record (CLR 2.0) of another Socle as prior learning for a learner, after verifying its signature and status with its issuer: its competencies' hours become manual credits (an administrator's API token; 201 imported, 200 already imported)",
    security: token,
    request: { body: { required: true, content: json(importBody) } },
    responses: {
      201: { description: 'the import', content: json(recordImport) },
      200: { description: 'this record was already imported for this learner', content: json(recordImport) },
      ...errors(400, 401, 403, 404, 409, 413),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/v1/referentials',
    operationId: 'listReferentials',
    tags: ['referentials'],
    summary: 'Every stored référentiel version, with its totals (hours in minutes)',
    security: none,
    responses: { 200: { description: 'the référentiels', content: json(referentialList) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/referentials/{id}',
    operationId: 'getReferential',
    tags: ['referentials'],
    summary: 'One référentiel version (the latest by default), hours in minutes; or its export file',
    security: none,
    request: { params: showParams, query: showQuery },
    responses: {
      200: {
        description: 'the référentiel; with format=case its CASE 1.1 package (JSON), with format=moodle-csv a Moodle competency framework (CSV)',
        content: { ...json(referentialDocument), 'text/csv': { schema: z.string() } },
      },
      ...errors(400, 404),
    },
  });

  const job: ResponseConfig = { description: 'the export', content: json(exportJob) };
  registry.registerPath({
    method: 'post',
    path: '/api/v1/reports/exports',
    operationId: 'createExport',
    tags: ['reports'],
    summary: 'Queues an export of a platform (compliance table, attestations, indicators); poll it until done',
    security: token,
    request: { body: { required: true, content: json(exportBody.extend({ platform: platformIssuer })) } },
    responses: { 202: job, ...errors(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/reports/exports/{id}',
    operationId: 'getExport',
    tags: ['reports'],
    summary: 'The state of an export',
    security: token,
    request: { params: jobParams },
    responses: { 200: job, ...errors(401, 403, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/reports/exports/{id}/file',
    operationId: 'downloadExport',
    tags: ['reports'],
    summary: 'The file of a finished export (its Content-Type, Content-Disposition and Digest say what it is)',
    security: token,
    request: { params: jobParams },
    responses: {
      200: { description: 'the file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
      ...errors(401, 403, 404, 409),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/indicators',
    operationId: 'getIndicators',
    tags: ['reports'],
    summary: 'The programme indicators of a platform (learners, compliance, hours per domain, badges, attestations)',
    security: token,
    request: { query: filtersQuery.extend({ platform: platformIssuer }) },
    responses: { 200: { description: 'the indicators', content: json(indicators) }, ...errors(400, 401, 403, 404) },
  });

  registry.registerPath({
    method: 'post',
    path: '/xapi/statements',
    operationId: 'postStatements',
    tags: ['xAPI'],
    summary: 'Stores xAPI statements (what Moodle logstore_xapi sends); statements already stored unchanged are accepted again',
    security: xapi,
    request: { headers: xapiHeaders, body: { required: true, content: json(z.union([statement, z.array(statement)])) } },
    responses: { 200: { description: 'the statement ids', content: json(statementIds) }, ...errors(400, 401, 403, 409, 413) },
  });
  registry.registerPath({
    method: 'put',
    path: '/xapi/statements',
    operationId: 'putStatement',
    tags: ['xAPI'],
    summary: 'Stores one statement under the given id',
    security: xapi,
    request: { headers: xapiHeaders, query: putQuery, body: { required: true, content: json(statement) } },
    responses: { 204: { description: 'stored' }, ...errors(400, 401, 403, 409, 413) },
  });
  registry.registerPath({
    method: 'get',
    path: '/xapi/statements',
    operationId: 'getStatements',
    tags: ['xAPI'],
    summary: 'One statement (statementId or voidedStatementId), or a page of the platform’s statements, newest first',
    security: xapi,
    request: { headers: xapiHeaders, query: z.object({ ...singleQuery.shape, ...listQuery.shape }) },
    responses: {
      200: { description: 'the statement, or a page of them', content: json(z.union([statementResult, statement])) },
      ...errors(400, 401, 404),
    },
  });

  // the document resources: State, Activity Profile, Agent Profile (documents of any content type)
  const document = { '*/*': { schema: { type: 'string' as const, format: 'binary' } } };
  const conditional = xapiHeaders.extend({
    'if-match': z.string().optional().describe('the ETag of the document as last read, or *'),
    'if-none-match': z.string().optional().describe('* to create only'),
  });
  for (const [path, name, query, id] of [
    ['/xapi/activities/state', 'State', stateQuery, 'stateId'],
    ['/xapi/activities/profile', 'ActivityProfile', activityProfileQuery, 'profileId'],
    ['/xapi/agents/profile', 'AgentProfile', agentProfileQuery, 'profileId'],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path,
      operationId: `get${name}`,
      tags: ['xAPI'],
      summary: `One document (with ${id}: its content, ETag and Last-Modified), or the ids of the documents (updated after since)`,
      security: xapi,
      request: { headers: xapiHeaders, query },
      responses: { 200: { description: 'the document, or a JSON array of ids', content: document }, ...errors(400, 401, 403, 404) },
    });
    for (const method of ['put', 'post'] as const) {
      registry.registerPath({
        method,
        path,
        operationId: `${method}${name}`,
        tags: ['xAPI'],
        summary:
          method === 'put'
            ? `Stores the document ${id} (409 when it exists and neither If-Match nor If-None-Match is sent${name === 'State' ? ', in xAPI 2.0.0' : ''})`
            : `Merges a JSON object into the JSON document ${id} (stores it when there is none)`,
        security: xapi,
        request: { headers: conditional, query, body: { required: true, content: document } },
        responses: { 204: { description: 'stored; ETag: the new one' }, ...errors(400, 401, 403, 409, 412, 413) },
      });
    }
    registry.registerPath({
      method: 'delete',
      path,
      operationId: `delete${name}`,
      tags: ['xAPI'],
      summary: name === 'State' ? 'Deletes the state stateId, or every state of the activity and agent (and registration)' : `Deletes the document ${id}`,
      security: xapi,
      request: { headers: conditional, query },
      responses: { 204: { description: 'deleted (or there was none)' }, ...errors(400, 401, 403, 412) },
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/xapi/agents',
    operationId: 'getAgents',
    tags: ['xAPI'],
    summary: 'The Person object of an agent',
    security: xapi,
    request: { headers: xapiHeaders, query: agentsQuery },
    responses: { 200: { description: 'the Person object', content: json(z.object({ objectType: z.literal('Person') }).passthrough()) }, ...errors(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/xapi/activities',
    operationId: 'getActivity',
    tags: ['xAPI'],
    summary: 'The Activity object Socle knows from the statements about it (else its id)',
    security: xapi,
    request: { headers: xapiHeaders, query: activitiesQuery },
    responses: { 200: { description: 'the Activity object', content: json(z.object({ objectType: z.literal('Activity'), id: z.string() }).passthrough()) }, ...errors(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/xapi/about',
    operationId: 'getAbout',
    tags: ['xAPI'],
    summary: 'The xAPI versions Socle speaks (no credentials, no version header)',
    security: none,
    responses: { 200: { description: 'the versions', content: json(z.object({ version: z.array(z.string()), extensions: z.object({}).passthrough() })) } },
  });

  for (const [path, operationId, summary, schema] of [
    ['/health', 'getHealth', 'Liveness, with the database status', health],
    ['/ready', 'getReadiness', 'Readiness: the database answers and carries every migration of this build', readiness],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path,
      operationId,
      tags: ['health'],
      summary,
      security: none,
      responses: {
        200: { description: 'up', content: json(schema) },
        503: { description: 'down: the body names the failing part', content: json(schema) },
      },
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['health'],
    summary: 'Prometheus metrics (text exposition format)',
    security: [{ metricsToken: [] }, {}],
    responses: { 200: { description: 'the metrics', content: { 'text/plain': { schema: z.string() } } }, ...errors(401) },
  });
  // every route of a client counted by the rate limits (an API token, an xAPI key) may answer 429; a route without
  // its own security has the document's (an API token or an LTI session)
  for (const definition of registry.definitions) {
    if (definition.type !== 'route') continue;
    const security = definition.route.security ?? [{ apiToken: [] }];
    if (!security.some((s) => 'apiToken' in s || 'xapiBasic' in s)) continue;
    definition.route.responses[429] = rateLimited;
  }

  const generator = new OpenApiGeneratorV31([...registry.definitions, { type: 'schema', schema: errorResponse }], { unionPreferredType: 'oneOf' });
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Socle API',
      version: '1',
      description:
        'Coverage of the formation socle au numérique en santé: hours validated per domain and competency against a référentiel version.',
    },
    servers: [{ url: '/' }],
    security: [{ apiToken: [] }, { ltiSession: [] }],
    tags: [
      { name: 'coverage', description: 'hours validated per domain and competency' },
      { name: 'credentials', description: 'Open Badges 3.0 credentials and CLR 2.0 learner records' },
      { name: 'referentials', description: 'the référentiels (public, read-only)' },
      { name: 'reports', description: 'exports and indicators of a platform, for administrator API tokens' },
      { name: 'xAPI', description: 'the xAPI resources: Statements, State, Activity and Agent Profiles, Agents, Activities, About (X-Experience-API-Version: 1.0.3 or 2.0.0)' },
      { name: 'health', description: 'liveness, readiness and metrics' },
    ],
  });
}

/** GET /api/openapi.json: the document, generated once per app. */
export function openApiRouter(): Router {
  const router = express.Router();
  const document = openApiDocument();
  router.get('/api/openapi.json', (_req, res) => {
    res.json(document);
  });
  return router;
}
