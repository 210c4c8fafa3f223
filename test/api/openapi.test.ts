import { openApiDocument, type OpenApiDocument } from '../../src/api/openapi';
import {
  errorResponse,
  exportJob,
  health,
  indicators,
  readiness,
  referentialDocument,
  referentialList,
  statement,
  statementIds,
  statementResult,
} from '../../src/api/schemas';
import { createApiToken } from '../../src/identity/api-tokens';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { appRoutes } from '../support/routes';
import { basic, generatedBatch, MOODLE } from '../xapi/support';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Operation = { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, unknown> } & Record<
  string,
  unknown
>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema: Schema;
}
interface Schema {
  type?: string | string[];
  enum?: unknown[];
  maximum?: number;
  format?: string;
  properties?: Record<string, Schema>;
  $ref?: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every operation of the document, as `METHOD /path`. */
function operations(doc: OpenApiDocument): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(item as Record<string, Operation>)) {
      if (METHODS.includes(method)) out.set(`${method.toUpperCase()} ${path}`, operation);
    }
  }
  return out;
}

/** Every value under `node` (objects and arrays walked), with its JSON path. */
function* walk(node: Json, path = '#'): Generator<[string, Json]> {
  yield [path, node];
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* walk(v, `${path}/${i}`);
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) yield* walk(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

function resolve(doc: Json, pointer: string): Json | undefined {
  let node: Json | undefined = doc;
  for (const raw of pointer.replace(/^#\//, '').split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node && typeof node === 'object' && !Array.isArray(node) ? node[key] : undefined;
  }
  return node;
}

/** A value the schema refuses: outside its enum, above its maximum, or not of its format. */
function refused(schema: Schema): string {
  if (schema.enum) {
    const value = 'not-in-the-enum';
    expect(schema.enum).not.toContain(value);
    return value;
  }
  if (schema.maximum !== undefined) return String(schema.maximum + 1);
  if (schema.format === 'date') return 'yesterday';
  throw new Error(`no refused value for ${JSON.stringify(schema)}`);
}

describe('the OpenAPI document', () => {
  const doc = openApiDocument();
  const ops = operations(doc);

  it('is OpenAPI 3.1 and every $ref resolves', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Socle API', version: '1' });
    const refs = [...walk(doc as unknown as Json)].filter(([path]) => path.endsWith('/$ref')).map(([, ref]) => ref);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(typeof ref === 'string' && ref.startsWith('#/')).toBe(true);
      expect([ref, resolve(doc as unknown as Json, ref as string) !== undefined]).toEqual([ref, true]);
    }
    // every component is used
    const used = new Set(refs);
    for (const [kind, components] of Object.entries(doc.components ?? {})) {
      if (kind === 'securitySchemes') continue;
      for (const name of Object.keys(components as object)) expect([name, used.has(`#/components/${kind}/${name}`)]).toEqual([name, true]);
    }
  });

  it('gives every operation an id, a tag, responses with a success, its path parameters and known security schemes', () => {
    const ids = new Set<string>();
    const tags = new Set((doc.tags ?? []).map((t) => t.name));
    const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
    expect(schemes).toEqual(new Set(['apiToken', 'ltiSession', 'metricsToken', 'xapiBasic']));
    for (const [key, op] of ops) {
      const operationId = String(op.operationId);
      expect(ids.has(operationId)).toBe(false);
      ids.add(operationId);
      expect([key, (op.tags as string[]).every((t) => tags.has(t))]).toEqual([key, true]);
      const statuses = Object.keys(op.responses);
      expect([key, statuses.some((s) => /^2\d\d$/.test(s))]).toEqual([key, true]);
      for (const s of statuses) expect(s).toMatch(/^[1-5]\d\d$/);
      const templated = [...key.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(inPath.map((p) => p.name)).toEqual(templated);
      expect(inPath.every((p) => p.required)).toBe(true);
      for (const requirement of (op.security as Record<string, string[]>[] | undefined) ?? doc.security ?? []) {
        for (const name of Object.keys(requirement)) expect(schemes.has(name)).toBe(true);
      }
    }
    // every error answers the shared error shape; a 429 says when to retry
    const errorRefs = [...ops.values()].flatMap((op) => Object.entries(op.responses).filter(([s]) => /^[45]/.test(s) && s !== '503'));
    expect(errorRefs.length).toBeGreaterThan(30);
    for (const [status, response] of errorRefs) {
      expect(response).toEqual({ $ref: `#/components/responses/${status === '429' ? 'RateLimited' : 'Error'}` });
    }
    // the operations of an API token or an xAPI key are rate-limited, the public ones are not
    for (const [key, op] of ops) {
      const security = (op.security as Record<string, string[]>[] | undefined) ?? doc.security ?? [];
      const counted = security.some((s) => 'apiToken' in s || 'xapiBasic' in s);
      expect([key, '429' in op.responses]).toEqual([key, counted]);
    }
  });

  it('writes regex patterns JSON Schema can use (no JavaScript flags)', () => {
    const patterns = [...walk(doc as unknown as Json)].filter(([path]) => path.endsWith('/pattern')).map(([, p]) => String(p));
    expect(patterns.length).toBeGreaterThan(3);
    for (const pattern of patterns) {
      expect(() => new RegExp(pattern, 'u')).not.toThrow();
      expect(pattern).not.toMatch(/\/[dgimsuy]+$/);
    }
  });

  it('keeps the operations and descriptions of the coverage and credentials API', () => {
    const coverage = ops.get('GET /api/v1/coverage');
    expect(coverage).toMatchObject({
      operationId: 'getCoverage',
      summary: 'Coverage of one learner (platform + user + referential) or of a course (platform + context)',
    });
    expect(coverage?.parameters?.map((p) => [p.name, p.in, p.required, p.description])).toEqual([
      ['platform', 'query', true, 'the LTI issuer (Moodle wwwroot)'],
      ['user', 'query', false, 'the LTI sub (Moodle user id); with referential'],
      ['context', 'query', false, 'the LTI context id (Moodle course id)'],
      ['referential', 'query', false, 'référentiel id (required with user)'],
      ['version', 'query', false, "référentiel version; default: the learner's latest"],
      ['limit', 'query', false, 'course: learners per page'],
      ['after', 'query', false, 'course: the `next` cursor of the previous page'],
    ]);
    expect(coverage?.parameters?.find((p) => p.name === 'limit')?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 500 });
    expect(Object.keys(coverage?.responses ?? {})).toEqual(['200', '400', '401', '403', '404', '429']);
    const credentials = ops.get('GET /api/v1/credentials');
    expect(credentials).toMatchObject({ operationId: 'listCredentials', summary: "A learner's Open Badges 3.0 credentials (active and revoked), oldest first" });
    expect(credentials?.parameters?.map((p) => [p.name, p.required, p.description])).toEqual([
      ['platform', true, 'the LTI issuer (Moodle wwwroot)'],
      ['user', true, 'the LTI sub (Moodle user id)'],
    ]);
    expect(doc.security).toEqual([{ apiToken: [] }, { ltiSession: [] }]);
    expect(Object.keys(doc.components?.schemas ?? {})).toEqual(expect.arrayContaining(['Credential', 'Credit', 'LearnerCoverage', 'CourseCoverage', 'Error']));
  });
});

describe('the OpenAPI document and the running app', () => {
  const doc = openApiDocument();
  const ops = operations(doc);
  let server: TestServer;
  let token: string;
  let xapiAuth: string;
  const xapiHeaders = () => ({ authorization: xapiAuth, 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' });
  const call = (method: string, path: string, init: { headers?: Record<string, string>; body?: unknown } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: init.headers ?? { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  const parameter = (operation: string, name: string) => {
    const found = ops.get(operation)?.parameters?.find((p) => p.name === name);
    if (!found) throw new Error(`${operation} documents no parameter ${name}`);
    return found;
  };

  // The routes do not depend on the database driver: PGlite is enough here.
  beforeAll(async () => {
    server = await startTestServer('pglite');
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    token = (await createApiToken(db, { name: 'openapi', role: 'admin', platformId: platform.id })).token;
    const key = await createXapiKey(db, MOODLE);
    xapiAuth = basic(key.key, key.secret);
  });
  afterAll(() => server.destroy());

  it('is served at /api/openapi.json', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('documents every route of /api/v1 and /xapi, and every documented route exists', () => {
    const routes = appRoutes(server.app).filter((r) => !r.startsWith('ALL '));
    expect(routes).toContain('GET /api/v1/reports/exports/{id}/file'); // the walk sees mounted routers
    const api = routes.filter((r) => /^\w+ \/(api\/v1|xapi)\//.test(r));
    expect(api.length).toBeGreaterThanOrEqual(11);
    const documented = [...ops.keys()];
    expect(api.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !routes.includes(d))).toEqual([]);
  });

  it('refuses with 400 the values the document says are invalid', async () => {
    const bundled = referentialList.parse(await (await call('GET', '/api/v1/referentials')).json()).referentials[0];
    if (!bundled) throw new Error('no bundled référentiel');
    const cases: [operation: string, parameter: string, request: (value: string) => Promise<Response>, valid: string][] = [
      ['GET /api/v1/referentials/{id}', 'format', (v) => call('GET', `/api/v1/referentials/${bundled.id}?format=${v}`), 'json'],
      ['GET /api/v1/coverage', 'limit', (v) => call('GET', `/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&context=2&limit=${v}`), '1000'],
      ['GET /api/v1/indicators', 'from', (v) => call('GET', `/api/v1/indicators?platform=${encodeURIComponent(MOODLE)}&from=${v}`), '2026-09-01'],
      ['GET /xapi/statements', 'format', (v) => call('GET', `/xapi/statements?format=${v}`, { headers: xapiHeaders() }), 'ids'],
      ['GET /xapi/statements', 'ascending', (v) => call('GET', `/xapi/statements?ascending=${v}`, { headers: xapiHeaders() }), 'true'],
    ];
    for (const [operation, name, request, valid] of cases) {
      const res = await request(refused(parameter(operation, name).schema));
      expect([operation, name, res.status]).toEqual([operation, name, 400]);
      const body = errorResponse.parse(await res.json());
      expect(body.error.details?.map((d) => d.path)).toEqual([`query.${name}`]);
      // the documented value passes the parameter (the course may well be unknown: 404)
      expect([operation, name, valid, (await request(valid)).status === 400]).toEqual([operation, name, valid, false]);
    }
    // the export body: a kind outside the documented enum
    const body = ops.get('POST /api/v1/reports/exports')?.requestBody?.content['application/json']?.schema.properties;
    const kind = refused(body?.kind ?? {});
    const res = await call('POST', '/api/v1/reports/exports', { body: { platform: MOODLE, kind, format: 'json' } });
    expect(res.status).toBe(400);
    expect(errorResponse.parse(await res.json()).error.details?.map((d) => d.path)).toEqual(['body.kind']);
    // the formats: one name each, and the older `csv` documented as an alias of csv-rfc4180
    const format = body?.format as { enum?: string[]; description?: string } | undefined;
    expect(format?.enum).toEqual(['csv-excel', 'csv-rfc4180', 'xlsx', 'pdf', 'zip', 'json', 'csv']);
    expect(format?.description).toContain('`csv`: an older name of `csv-rfc4180`, still accepted');
    expect(format?.description).toContain('`csv-excel`: CSV for French Excel');
  });

  it('answers in the documented shapes', async () => {
    // référentiels
    const list = referentialList.parse(await (await call('GET', '/api/v1/referentials')).json());
    const first = list.referentials[0];
    if (!first) throw new Error('no bundled référentiel');
    referentialDocument.parse(await (await call('GET', `/api/v1/referentials/${first.id}`)).json());
    // xAPI
    const posted = await call('POST', '/xapi/statements', { headers: xapiHeaders(), body: generatedBatch(3, '4') });
    expect(posted.status).toBe(200);
    const ids = statementIds.parse(await posted.json());
    expect(ids).toHaveLength(3);
    const page = statementResult.parse(await (await call('GET', '/xapi/statements?limit=2', { headers: xapiHeaders() })).json());
    expect(page.statements).toHaveLength(2);
    statement.parse(await (await call('GET', `/xapi/statements?statementId=${ids[0]}`, { headers: xapiHeaders() })).json());
    // reports
    const created = await call('POST', '/api/v1/reports/exports', { body: { platform: MOODLE, kind: 'indicators', format: 'json' } });
    expect(created.status).toBe(202);
    const job = exportJob.parse(await created.json());
    exportJob.parse(await (await call('GET', `/api/v1/reports/exports/${job.id}`)).json());
    indicators.parse(await (await call('GET', `/api/v1/indicators?platform=${encodeURIComponent(MOODLE)}`)).json());
    // health
    health.parse(await (await fetch(`${server.url}/health`)).json());
    readiness.parse(await (await fetch(`${server.url}/ready`)).json());
    // errors
    const unknown = await call('GET', '/api/v1/reports/exports/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(errorResponse.parse(await unknown.json()).error.code).toBe('not_found');
    const unauthenticated = await fetch(`${server.url}/api/v1/indicators?platform=x`);
    expect(unauthenticated.status).toBe(401);
    expect(errorResponse.parse(await unauthenticated.json()).error.status).toBe(401);
  });
});
