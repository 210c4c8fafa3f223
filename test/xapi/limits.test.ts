import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/store';
import { STORABLE } from '../../src/domain/storable';
import { XAPI_LIMITS } from '../../src/xapi/validate';
import { startTestServer, type TestServer } from '../support/app';
import { drivers, ingestTableCounts } from '../support/db';
import { generatedBatch, MOODLE, platformKeyAuth, type Statement } from './support';

jest.setTimeout(120_000);

interface ErrorBody {
  error: { status: number; code: string; message: string; details?: { path: string; message: string }[] };
}

/** A completion in the smallest shape logstore_xapi could send (so that 32,768 of them fit in the body limit). */
function tinyCompletion(i: number): Statement {
  return {
    actor: { account: { homePage: MOODLE, name: '7' } },
    verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
    object: { id: `${MOODLE}/mod/page/view.php?id=${i}` },
    timestamp: '2026-11-22T10:00:00Z',
  };
}

/** `levels` nested arrays around 1 (`[[[1]]]` is 3 levels). */
const nested = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

/** A fresh valid statement (each call a new instant, so a new content and id). */
let clock = 0;
function statement(): Statement & { result?: Record<string, unknown>; actor: { account: Record<string, unknown> } } {
  clock += 1;
  return generatedBatch(3, '7', 10_000 + clock)[2] as Statement & { actor: { account: Record<string, unknown> } };
}
const withExtension = (value: unknown) => ({ ...statement(), result: { completion: true, extensions: { 'http://example.org/x': value } } });
/** Characters of 3 UTF-8 bytes each, from the CJK block, in a varied (little compressible) order. */
const cjk = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');

describe.each(drivers)('xAPI input limits on %s', (driver) => {
  let server: TestServer;
  let auth: string;

  const send = (method: 'POST' | 'PUT', body: unknown, raw = false, query = '') =>
    fetch(`${server.url}/xapi/statements${query}`, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth },
      body: raw ? (body as string) : JSON.stringify(body),
    });
  const get = (query: string) =>
    fetch(`${server.url}/xapi/statements${query}`, { headers: { 'X-Experience-API-Version': '1.0.3', Authorization: auth } });
  const snapshot = () => ingestTableCounts(server.ctx.store.db);

  beforeAll(async () => {
    server = await startTestServer(driver);
    auth = await platformKeyAuth(server.ctx.store.db);
  });
  afterAll(() => server.destroy());

  it('keeps a statement position within its smallint column', () => {
    expect(XAPI_LIMITS.maxStatements).toBeLessThanOrEqual(32_767);
  });

  const refused: [string, () => Promise<Response>, number, string, RegExp][] = [
    [
      'JSON nested 10,000 deep',
      () => send('POST', `[${JSON.stringify(withExtension(0)).replace('"http://example.org/x":0', `"http://example.org/x":${nested(10_000)}`)}]`, true),
      400,
      'statements[0].result.extensions.http://example.org/x',
      /nested deeper than 32 levels/,
    ],
    ['one level beyond the depth limit', () => send('POST', [withExtension(JSON.parse(nested(STORABLE.maxDepth - 2)))]), 400, 'statements[0].result.extensions', /nested deeper/],
    ['32,768 completions in one batch', () => send('POST', Array.from({ length: 32_768 }, (_, i) => tinyCompletion(i))), 400, 'statements', /^32768 statements, at most 10000 per request$/],
    ['10,001 statements in one batch', () => send('POST', Array.from({ length: 10_001 }, (_, i) => tinyCompletion(i))), 400, 'statements', /^10001 statements, at most 10000/],
    ['result.duration P100Y', () => send('POST', [{ ...statement(), result: { completion: true, duration: 'P100Y' } }]), 400, 'statements[0].result.duration', /68 years/],
    ['result.duration PT1e20S', () => send('POST', [{ ...statement(), result: { duration: 'PT1e20S' } }]), 400, 'statements[0].result.duration', /format/],
    [
      'result.duration of 10^20 seconds',
      () => send('POST', [statement(), { ...statement(), result: { duration: 'PT100000000000000000000S' } }]),
      400,
      'statements[1].result.duration',
      /68 years/,
    ],
    [
      'a timestamp after 9999 once in UTC',
      () => send('POST', [{ ...statement(), timestamp: '9999-12-31T23:59:59.999-14:00' }]),
      400,
      'statements[0].timestamp',
      /storable range/,
    ],
    ['a timestamp in year 0', () => send('POST', [{ ...statement(), timestamp: '0000-06-01T00:00:00Z' }]), 400, 'statements[0].timestamp', /storable range/],
    [
      'a timestamp before year 1 once in UTC',
      () => send('POST', [{ ...statement(), timestamp: '0001-01-01T00:00:00+01:00' }]),
      400,
      'statements[0].timestamp',
      /storable range/,
    ],
    [
      'a NUL in a string',
      () => send('POST', [statement(), { ...statement(), verb: { id: 'http://adlnet.gov/expapi/verbs/completed', display: { fr: 'a\u0000b' } } }]),
      400,
      'statements[1].verb.display.fr',
      /NUL/,
    ],
    ['a NUL in a property name', () => send('POST', [withExtension({ 'a\u0000': 1 })]), 400, 'statements[0].result.extensions.http://example.org/x.a\u0000', /NUL/],
    ['a NUL in the account name', () => send('POST', [{ ...statement(), actor: { account: { homePage: MOODLE, name: '7\u0000' } } }]), 400, 'statements[0].actor.account.name', /NUL/],
    ['a lone high surrogate', () => send('POST', [withExtension('x\ud800')]), 400, 'statements[0].result.extensions.http://example.org/x', /lone surrogate/],
    ['a lone low surrogate in an id', () => send('POST', [{ ...statement(), object: { id: `${MOODLE}/mod/page/view.php?id=\udc00` } }]), 400, 'statements[0].object.id', /lone surrogate/],
    ['a number beyond a double', () => send('POST', `[${JSON.stringify(withExtension(0)).replace('"http://example.org/x":0', '"http://example.org/x":1e400')}]`, true), 400, 'statements[0].result.extensions.http://example.org/x', /double/],
    ['an empty account name', () => send('POST', [{ ...statement(), actor: { account: { homePage: MOODLE, name: '' } } }]), 400, 'statements[0].actor.account.name', /empty/],
    ['an empty account homePage', () => send('POST', [{ ...statement(), actor: { account: { homePage: '', name: '7' } } }]), 400, 'statements[0].actor.account.homePage', /IRI|empty/],
    ['an object id beyond 2,048 bytes', () => send('POST', [{ ...statement(), object: { id: `${MOODLE}/${cjk(700)}` } }]), 400, 'statements[0].object.id', /2048 bytes/],
    ['an account name beyond 2,048 bytes', () => send('POST', [{ ...statement(), actor: { account: { homePage: MOODLE, name: 'x'.repeat(2_049) } } }]), 400, 'statements[0].actor.account.name', /2048 bytes/],
    ['PUT with a NUL', () => send('PUT', { ...statement(), object: { id: `${MOODLE}/mod/page/view.php?id=1\u0000` } }, false, '?statementId=1e6e4d4c-7a07-4b37-9d6e-4f1b2c3d4e5f'), 400, 'statement.object.id', /NUL/],
    ['GET with a cursor beyond a bigint', () => get('?cursor=99999999999999999999'), 400, 'query.cursor', /paging cursor/],
    ['GET since a date PostgreSQL cannot store', () => get('?since=%2B275760-09-13T00:00:00Z'), 400, 'query.since', /storable range/],
    ['GET with a NUL in the verb', () => get('?verb=http%3A%2F%2Fx%00'), 400, 'query.verb', /NUL/],
    ['GET with a NUL in the agent', () => get(`?agent=${encodeURIComponent(JSON.stringify({ account: { homePage: MOODLE, name: 'a\u0000' } }))}`), 400, 'query.agent.account.name', /NUL/],
  ];
  it.each(refused)('refuses %s, naming the path, and stores nothing', async (_name, request, status, path, message) => {
    const before = await snapshot();
    const res = await request();
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.status]).toEqual([status, status]);
    const detail = body.error.details?.find((d) => d.path.startsWith(path));
    expect({ path: detail?.path.slice(0, path.length), message: detail?.message ?? body.error.message }).toEqual({ path, message: expect.stringMatching(message) });
    expect(await snapshot()).toEqual(before);
  });

  it('names the first 100 faults of a batch of bad statements and counts them all', async () => {
    const res = await send('POST', Array.from({ length: 1_000 }, () => ({ ...statement(), timestamp: '0000-06-01T00:00:00Z' })));
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.details?.length, body.error.details?.[99]?.path]).toEqual([400, XAPI_LIMITS.maxDetails, 'statements[99].timestamp']);
    expect(body.error.message).toMatch(/^Statement rejected, nothing was stored: statements\[0\]\.timestamp: .* \(and 999 more\)$/);
  });

  it('stores what lies just within the limits', async () => {
    const edge = [
      withExtension(JSON.parse(nested(STORABLE.maxDepth - 3))),
      { ...statement(), timestamp: '9999-12-31T23:59:59.999Z' },
      { ...statement(), timestamp: '0000-12-31T23:00:00-02:00' },
      { ...statement(), result: { completion: true, duration: `PT${STORABLE.maxInteger}S` } },
      { ...statement(), object: { id: `${MOODLE}/${cjk(670)}` } },
      { ...statement(), actor: { account: { homePage: MOODLE, name: cjk(682) } } },
      withExtension('paired surrogates 😀 are fine'),
    ];
    const before = await snapshot();
    const res = await send('POST', edge);
    expect([res.status, await res.text()]).toEqual([200, expect.any(String)]);
    expect((await snapshot())?.statements).toBe((before?.statements ?? 0) + edge.length);
    const [row] = await queryRows<{ t: string }>(
      server.ctx.store.db,
      sql`SELECT to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS t FROM xapi_statements ORDER BY "timestamp" ASC LIMIT 1`,
    );
    expect(row?.t).toBe('0001-01-01');
  });

  it('stores a batch of the largest size, positions and all', async () => {
    const batch = Array.from({ length: XAPI_LIMITS.maxStatements }, (_, i) => ({ ...tinyCompletion(i), timestamp: '2026-11-23T10:00:00Z' }));
    const res = await send('POST', batch);
    expect(res.status).toBe(200);
    const [row] = await queryRows<{ n: number; max: number }>(
      server.ctx.store.db,
      sql`SELECT count(*)::int AS n, max(position)::int AS max FROM completion_events WHERE statement_timestamp = '2026-11-23T10:00:00Z'`,
    );
    expect(row).toEqual({ n: XAPI_LIMITS.maxStatements, max: XAPI_LIMITS.maxStatements - 1 });
  });
});
