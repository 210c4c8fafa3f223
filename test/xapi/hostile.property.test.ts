import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { queryRows } from '../../src/db/store';
import { startTestServer, type TestServer } from '../support/app';
import { drivers, ingestTableCounts } from '../support/db';
import { generatedBatch, platformKeyAuth, type Statement } from './support';

jest.setTimeout(180_000);

type Json = Record<string, unknown>;
/** A mutation of one statement (in place). */
type Mutation = { name: string; apply: (s: Json) => void };

/** Placeholder replaced in the serialised body by a number JSON.stringify cannot write (`1e400`, `-1e999`). */
const HUGE = '__huge_number__';

const deepValue = (levels: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = i % 2 ? { k: v } : [v];
  return v;
};

/** Where a mutation puts a value: any property Socle reads or stores, and new ones. */
const PLACES: string[][] = [
  ['actor', 'account', 'name'],
  ['actor', 'account', 'homePage'],
  ['actor', 'name'],
  ['verb', 'id'],
  ['verb', 'display', 'en'],
  ['object', 'id'],
  ['object', 'definition', 'name', 'en'],
  ['object', 'definition', 'type'],
  ['timestamp'],
  ['result', 'duration'],
  ['result', 'score', 'raw'],
  ['result', 'completion'],
  ['result', 'extensions', 'http://example.org/e'],
  ['context', 'extensions', 'http://example.org/c'],
  ['context', 'contextActivities', 'parent'],
  ['context', 'registration'],
  ['id'],
  ['extra'],
];
/** Places where xAPI allows any string or any JSON value: only the store's limits stand between them and the database. */
const OPEN_PLACES: string[][] = [
  ['actor', 'account', 'name'],
  ['verb', 'display', 'en'],
  ['object', 'definition', 'name', 'en'],
  ['object', 'definition', 'description', 'fr-FR'],
  ['object', 'definition', 'extensions', 'http://example.org/d'],
  ['result', 'response'],
  ['result', 'extensions', 'http://example.org/e'],
  ['context', 'extensions', 'http://example.org/c'],
];
const anyPlace = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...OPEN_PLACES) }, { weight: 1, arbitrary: fc.constantFrom(...PLACES) });

function setAt(target: Json, path: string[], value: unknown): void {
  let node: Json = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1] as string] = value;
}

const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const hostileText = fc.oneof(
  fc.tuple(fc.string(), fc.constantFrom('\u0000', '\u0000\u0000'), fc.string()).map((p) => p.join('')),
  fc.tuple(fc.string(), surrogate, fc.string()).map((p) => p.join('')),
  fc.constant(''),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ minLength: 2_049, maxLength: 2_100 }),
);
const badInstant = fc.oneof(
  fc.constantFrom(
    '9999-12-31T23:59:59.999-14:00',
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00+01:00',
    '+010000-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-11-22T25:00:00Z',
    'yesterday',
  ),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
);
const hugeDuration = fc.oneof(
  fc.constantFrom('P100Y', 'PT1e20S', 'P68Y1M', 'PT2147483648S', 'P24856D', `PT${'9'.repeat(400)}S`),
  fc.bigInt({ min: 2n ** 31n, max: 10n ** 30n }).map((n) => `PT${n}S`),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(anyPlace, fc.integer({ min: 30, max: 3_000 })).map(([path, levels]) => ({
    name: `nest ${levels} at ${path.join('.')}`,
    apply: (s: Json) => setAt(s, path, deepValue(levels)),
  })),
  fc.tuple(anyPlace, fc.constantFrom(HUGE, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, -0, 5e-324)).map(([path, n]) => ({
    name: `number ${n} at ${path.join('.')}`,
    apply: (s: Json) => setAt(s, path, n),
  })),
  badInstant.map((t) => ({ name: `timestamp ${t}`, apply: (s: Json) => setAt(s, ['timestamp'], t) })),
  hugeDuration.map((d) => ({ name: `duration ${d}`, apply: (s: Json) => setAt(s, ['result', 'duration'], d) })),
  fc.tuple(anyPlace, hostileText).map(([path, text]) => ({
    name: `text ${JSON.stringify(text.slice(0, 20))} at ${path.join('.')}`,
    apply: (s: Json) => setAt(s, path, text),
  })),
  hostileText.map((key) => ({
    name: `property name ${JSON.stringify(key.slice(0, 20))}`,
    apply: (s: Json) => setAt(s, ['context', 'extensions', 'http://example.org/k'], { [key]: 1 }),
  })),
  fc.tuple(anyPlace, fc.jsonValue({ maxDepth: 3 })).map(([path, value]) => ({
    name: `value ${JSON.stringify(value)?.slice(0, 40)} at ${path.join('.')}`,
    apply: (s: Json) => setAt(s, path, value),
  })),
  fc.constantFrom(...PLACES).map((path) => ({
    name: `remove ${path.join('.')}`,
    apply: (s: Json) => {
      const parent = path.slice(0, -1).reduce<Json | undefined>((n, k) => n?.[k] as Json | undefined, s);
      if (parent && typeof parent === 'object') delete parent[path[path.length - 1] as string];
    },
  })),
);

/** A hostile batch: valid statements, some mutated (or a body that is not a batch at all). */
const hostileBatch = fc.oneof(
  { weight: 9, arbitrary: fc.array(fc.tuple(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 2 })), { minLength: 1, maxLength: 5 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((body) => ({ body })) },
);

let clock = 0;
/** Valid statements never seen before (each at a new instant). */
function freshStatements(n: number, sub: string): Statement[] {
  clock += 10;
  return generatedBatch(n, sub, 100_000 + clock);
}

describe.each(drivers)('hostile statements on %s', (driver) => {
  let server: TestServer;
  let auth: string;

  const post = (body: string) =>
    fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3', Authorization: auth },
      body,
    });
  const count = async (table: string) =>
    (await queryRows<{ n: number }>(server.ctx.store.db, sql.raw(`SELECT count(*)::int AS n FROM ${table}`)))[0]?.n ?? 0;
  const snapshot = () => ingestTableCounts(server.ctx.store.db);

  beforeAll(async () => {
    server = await startTestServer(driver);
    auth = await platformKeyAuth(server.ctx.store.db);
  });
  afterAll(() => server.destroy());

  it('never answers a 5xx; a refused batch stores nothing; the next valid batch is stored', async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(hostileBatch, async (generated) => {
        let body: string;
        if ('body' in generated) {
          body = JSON.stringify(generated.body) ?? 'null';
        } else {
          const statements = freshStatements(generated.length, '21') as Json[];
          generated.forEach(([mutate, mutations], i) => {
            if (mutate || generated.length === 1) for (const m of mutations) m.apply(statements[i] as Json);
          });
          body = JSON.stringify(statements).replaceAll(`"${HUGE}"`, '1e400');
        }
        const before = await snapshot();
        const res = await post(body);
        const answer = await res.text();
        expect([res.status < 500, res.status, answer.slice(0, 300)]).toEqual([true, res.status, answer.slice(0, 300)]);
        if (res.status !== 200) {
          refused++;
          expect(JSON.parse(answer)).toEqual({ error: expect.objectContaining({ status: res.status, code: expect.any(String) }) });
          expect(await snapshot()).toEqual(before);
        }
        const stored = await count('xapi_statements');
        const next = await post(JSON.stringify(freshStatements(3, '22')));
        expect(next.status).toBe(200);
        expect(await count('xapi_statements')).toBe(stored + 3);
      }),
      { numRuns: 60 },
    );
    // The generator is hostile: most batches are refused (a few mutations are harmless and stored).
    expect(refused).toBeGreaterThan(30);
  });
});
