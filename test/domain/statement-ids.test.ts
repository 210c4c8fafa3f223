import fc from 'fast-check';
import { canonicalJson, statementContent, statementIdentity } from '../../src/domain/statement-ids';

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

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'grapheme' }),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value')),
    fc.dictionary(fc.string({ unit: 'grapheme' }), tie('value')),
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
});
