import fc from 'fast-check';
import { zodDetails, type ErrorDetail } from '../../src/domain/errors';
import { storableIssues } from '../../src/domain/storable';
import { commonStatementValid } from '../../src/xapi/fast-check';
import { statementErrors, storedStatementFields, structuralErrors } from '../../src/xapi/validate';
import { generatedBatch, moodleBatches, type Statement } from './support';

type Json = Record<string, unknown>;

/** The checks of one statement without the fast acceptance: the storable pass, the library, the stored fields. */
function referenceErrors(statement: unknown, prefix: string): ErrorDetail[] {
  const storable = storableIssues(statement, prefix);
  if (storable.length) return storable;
  const structural = structuralErrors(statement, prefix);
  if (structural.length) return structural;
  const fields = storedStatementFields.safeParse(statement);
  return fields.success ? [] : zodDetails(fields.error, prefix);
}

const captured: Statement[] = moodleBatches().flatMap((b) => b.body);
// as the server parses them (structuredClone in a jest sandbox gives objects of another realm, which xAPI's type test refuses)
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const scored = generatedBatch(6, 'learner-scored', 0).map((s) => ({ ...s, result: { score: { scaled: 0.5, raw: 5, min: 0, max: 10 }, success: true, duration: 'PT2M' } }));
const samples: Statement[] = clone([...captured, ...generatedBatch(30, 'learner-fast', 0), ...scored]);

/** Every path of objects and arrays in a value (where a mutation may set, delete or add a property). */
function paths(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [at];
  const keys = Object.keys(value);
  return [at, ...keys.flatMap((k) => paths((value as Json)[k], [...at, k]))];
}

const VALUES: unknown[] = [
  null,
  '',
  'x',
  'http://example.org/a',
  'not an iri',
  1,
  1.5,
  -2,
  2,
  true,
  false,
  [],
  {},
  [{ id: 'http://example.org/p' }],
  { id: 'http://example.org/p' },
  { constructor: 1 },
  'fr',
  'en-US',
  'no such language!',
  '2025-01-01T00:00:00Z',
  '2025-13-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  'PT1S',
  'PT1H',
  'P99999999999Y',
  '1.0.3',
  '2.0',
  '12345678-1234-5234-8234-123456789012',
  '12345678-1234-5234-1234-123456789012',
  'Agent',
  'Group',
  'Activity',
  'StatementRef',
  'SubStatement',
  'http://adlnet.gov/expapi/verbs/voided',
  'é'.repeat(1200),
  'a'.repeat(3000),
  'true-false',
  'choice',
  ['true'],
  [1],
  { account: { homePage: 'http://example.org', name: 'x' } },
];
const KEYS = ['foo', 'correctResponsesPattern', 'scale', 'mbox', 'openid', 'attachments', 'instructor', 'team', 'statement', 'choices', 'interactionType', 'objectType', 'authority', 'constructor', 'id', 'name', 'scaled', 'min', 'max', 'raw', 'display'];

/** Sets (or deletes, or adds under a new key) one value somewhere in a copy of the statement. */
function mutate(statement: Statement, pick: number, action: number, value: unknown, key: string): Statement {
  const copy = clone(statement) as Json;
  const all = paths(copy);
  const at = all[pick % all.length] as string[];
  if (at.length === 0) {
    copy[key] = value;
    return copy;
  }
  let parent: unknown = copy;
  for (const k of at.slice(0, -1)) parent = (parent as Json)[k];
  const last = at[at.length - 1] as string;
  const target = parent as Json;
  if (action === 0) delete target[last];
  else if (action === 1 && target[last] !== null && typeof target[last] === 'object') (target[last] as Json)[key] = value;
  else target[last] = value;
  return copy;
}

describe('the fast acceptance of common statements', () => {
  it('accepts every statement Moodle sent and agrees with the full checks on each', () => {
    let accepted = 0;
    for (const s of samples) {
      expect(statementErrors(s, 'statement')).toEqual(referenceErrors(s, 'statement'));
      if (commonStatementValid(s)) {
        accepted++;
        expect(structuralErrors(s, 'statement')).toEqual([]);
      }
    }
    // the fast path is the common one: every captured statement takes it
    expect(accepted).toBe(samples.length);
  });

  it('gives the same faults as the full checks for every single change of a scored statement, a question and a reviewed work (each place, each value)', () => {
    const question = samples.find((s) => JSON.stringify(s).includes('correctResponsesPattern')) as Statement;
    const reviewed = samples.find((s) => (s.context as Json).instructor !== undefined) as Statement;
    const cases: [Statement, string][] = [
      [samples[samples.length - 1] as Statement, ''],
      [question, 'object/definition'],
      [reviewed, 'context/instructor'],
    ];
    let checked = 0;
    for (const [sample, under] of cases) {
      const all = paths(sample);
      for (let pick = 0; pick < all.length; pick++) {
        if (!(all[pick] as string[]).join('/').startsWith(under)) continue;
        // deleted once; replaced by, or given a new key with, each value
        for (const [action, value] of [[0, null] as const, ...VALUES.flatMap((v) => [[1, v] as const, [2, v] as const])]) {
          const s = mutate(sample, pick, action, value, action === 1 ? (KEYS[checked % KEYS.length] as string) : 'foo');
          if (commonStatementValid(s)) expect(structuralErrors(s, 'statement')).toEqual([]);
          expect(statementErrors(s, 'statement')).toEqual(referenceErrors(s, 'statement'));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('never accepts what the library refuses, and gives the same faults as the full checks, on mutated statements', () => {
    fc.assert(
      fc.property(
        fc.nat(samples.length - 1),
        fc.array(fc.tuple(fc.nat(500), fc.nat(2), fc.constantFrom(...VALUES), fc.constantFrom(...KEYS)), { minLength: 1, maxLength: 3 }),
        (index, mutations) => {
          let s = samples[index] as Statement;
          for (const [pick, action, value, key] of mutations) s = mutate(s, pick, action, value, key);
          if (commonStatementValid(s)) expect(structuralErrors(s, 'statement')).toEqual([]);
          expect(statementErrors(s, 'statement')).toEqual(referenceErrors(s, 'statement'));
        },
      ),
      { numRuns: 800 },
    );
  });
});
