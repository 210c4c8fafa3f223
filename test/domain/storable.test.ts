import { STORABLE, storableDateTime, storableInstant, storableIssues, unstorableText } from '../../src/domain/storable';

const nestedArrays = (levels: number) => JSON.parse(`${'['.repeat(levels)}1${']'.repeat(levels)}`) as unknown;

describe('what PostgreSQL can store', () => {
  it('walks a million levels of nesting without recursion and names the first level beyond the limit', () => {
    const issues = storableIssues({ a: nestedArrays(1_000_000) }, 'body');
    expect(issues).toEqual([{ path: `body.a${'[0]'.repeat(STORABLE.maxDepth - 1)}`, message: `nested deeper than ${STORABLE.maxDepth} levels` }]);
    expect(storableIssues({ a: nestedArrays(STORABLE.maxDepth - 1) }, 'body')).toEqual([]);
    expect(storableIssues({ a: nestedArrays(STORABLE.maxDepth) }, 'body')).toHaveLength(1);
  });

  it('names strings and property names with a NUL or a lone surrogate, and numbers beyond a double', () => {
    const value = {
      ok: ['plain', 'é', '😀', 1e308, -0, null, true],
      nul: 'a\u0000b',
      list: [{ high: 'x\ud800' }, 'y\udc00z'],
      ['k\u0000']: 1,
      huge: JSON.parse('1e400') as number,
    };
    expect(storableIssues(value, 'statements[2]')).toEqual([
      { path: 'statements[2].nul', message: expect.stringMatching(/NUL/) },
      { path: 'statements[2].k\u0000', message: expect.stringMatching(/^property name .*NUL/) },
      { path: 'statements[2].huge', message: 'a number beyond the range of a double' },
      { path: 'statements[2].list[1]', message: expect.stringMatching(/lone surrogate/) },
      { path: 'statements[2].list[0].high', message: expect.stringMatching(/lone surrogate/) },
    ]);
    expect(storableIssues('\u0000', 'query.verb')).toEqual([{ path: 'query.verb', message: expect.stringMatching(/NUL/) }]);
    expect(unstorableText('\ud83d\ude00')).toBeUndefined();
    expect(unstorableText('\ude00\ud83d')).toMatch(/lone surrogate/);
  });

  it('reports at most maxIssues problems', () => {
    expect(storableIssues(Array.from({ length: 1_000 }, () => '\u0000'), 'body')).toHaveLength(STORABLE.maxIssues);
  });

  it('keeps instants within years 1 to 9999 in UTC', () => {
    expect(storableInstant(Date.parse('0001-01-01T00:00:00Z'))).toBe(true);
    expect(storableInstant(Date.parse('0000-12-31T23:59:59.999Z'))).toBe(false);
    expect(storableInstant(Date.parse('9999-12-31T23:59:59.999Z'))).toBe(true);
    expect(storableInstant(Date.parse('9999-12-31T23:59:59.999-14:00'))).toBe(false);
    expect(storableDateTime.safeParse('+275760-09-13T00:00:00Z').success).toBe(false);
    expect(storableDateTime.safeParse('2026-12-01T10:00:00+01:00').success).toBe(true);
    expect(storableDateTime.safeParse('demain').error?.issues.map((i) => i.message)).toEqual(['expected an ISO 8601 date and time']);
  });
});
