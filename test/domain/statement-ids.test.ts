import fc from 'fast-check';
import { canonicalJson, derivedStatementId, statementContent, statementIdentity, uuidV5 } from '../../src/domain/statement-ids';

/** The definition: keys sorted at every level, undefined properties left out, undefined array items as null. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const object = value as Record<string, unknown>;
  return `{${Object.keys(object)
    .filter((k) => object[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${reference(object[k])}`)
    .join(',')}}`;
}

/** Strings of what JSON must escape (quotes, backslashes, control characters, lone surrogates) among any characters. */
const tricky = fc.string({
  unit: fc.oneof(fc.constantFrom('"', '\\', '\u0000', '\n', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ud83d\ude00', 'é'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
});

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'grapheme' }),
    tricky,
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value')),
    fc.dictionary(fc.oneof(fc.string({ unit: 'grapheme' }), tricky), tie('value')),
  ),
})).value;

describe('statement ids', () => {
  test('canonical JSON is the sorted-keys serialisation, whatever the value', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
  });

  test('the content leaves out id, stored, authority and version, and does not depend on key order', () => {
    const a = { verb: { id: 'v', display: { en: 'x' } }, id: 'i', stored: 's', authority: {}, version: '1.0.3', actor: { name: 'n' } };
    const b = { actor: { name: 'n' }, version: '1.0.0', verb: { display: { en: 'x' }, id: 'v' } };
    expect(statementContent(a)).toBe('{"actor":{"name":"n"},"verb":{"display":{"en":"x"},"id":"v"}}');
    expect(statementIdentity(a)).toEqual(statementIdentity(b));
    expect(statementIdentity(a).derivedId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('a statement with a timestamp gets a version-8 id that starts with its instant and sorts in time order', () => {
    const at = (timestamp: string) => statementIdentity({ actor: { name: 'n' }, verb: { id: 'v' }, timestamp }).derivedId;
    const id = at('2026-11-22T16:48:49.671+00:00');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.replace(/-/g, '').slice(0, 12)).toBe(Date.parse('2026-11-22T16:48:49.671Z').toString(16).padStart(12, '0'));
    // the same statement, the same id; another content at the same instant, another id
    expect(at('2026-11-22T16:48:49.671+00:00')).toBe(id);
    expect(statementIdentity({ actor: { name: 'm' }, verb: { id: 'v' }, timestamp: '2026-11-22T16:48:49.671+00:00' }).derivedId).not.toBe(id);
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date('9999-12-31'), noInvalidDate: true }), fc.date({ min: new Date(0), max: new Date('9999-12-31'), noInvalidDate: true }), (a, b) => {
        const [x, y] = [at(a.toISOString()), at(b.toISOString())];
        if (a.getTime() < b.getTime()) expect(x < y).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('before the store began time-ordered ids, without a timestamp or outside 48 bits of milliseconds: the version-5 id, as before', () => {
    const content = '{"actor":{"name":"n"}}';
    const since = Date.parse('2026-12-01T00:00:00Z');
    expect(derivedStatementId(content, '2026-11-30T23:59:59.999Z', since)).toBe(uuidV5(content));
    expect(derivedStatementId(content, '2026-12-01T00:00:00Z', since)).toMatch(/^0[0-9a-f]{7}-[0-9a-f]{4}-8/);
    expect(derivedStatementId(content, undefined, 0)).toBe(uuidV5(content));
    expect(derivedStatementId(content, '1969-12-31T23:59:59Z', 0)).toBe(uuidV5(content));
    expect(derivedStatementId(content, 'not a date', 0)).toBe(uuidV5(content));
  });
});
