import { formatHours, parseHours, parseMappingCsv, writeMappingCsv } from '../../src/mapping/csv';
import { type MappableReferential, resolveCompetency, summarizeByDomain, validateMapping } from '../../src/domain/mapping';

const referential: MappableReferential = {
  id: 'arm',
  version: 'V1.1.2023',
  domains: [
    {
      code: '1',
      title: 'Données de santé',
      requiredMinutes: 360,
      competencies: [
        { key: '1.1', code: '1.1', title: 'A', requiredMinutes: null },
        { key: '1.2', code: '1.2', title: 'B', requiredMinutes: null },
      ],
    },
    {
      code: '4',
      title: 'Outils numériques',
      requiredMinutes: 300,
      competencies: [
        { key: '4.1a', code: '4.1', title: 'C', requiredMinutes: null },
        { key: '4.1b', code: '4.1', title: 'D', requiredMinutes: null },
      ],
    },
  ],
};
const quiz = 'http://127.0.0.1:8181/mod/quiz/view.php?id=9';
const book = 'http://127.0.0.1:8181/mod/book/view.php?id=12';
const activities = new Set([quiz, book]);

describe('mapping rules', () => {
  it('accepts a split of one activity across domains', () => {
    expect(
      validateMapping(referential, activities, [
        { activityIri: quiz, competencyKey: '1.1', minutes: 60 },
        { activityIri: quiz, competencyKey: '4.1b', minutes: 45 },
      ]),
    ).toEqual([]);
  });

  it('names every wrong field', () => {
    const problems = validateMapping(referential, activities, [
      { activityIri: quiz, competencyKey: '1.1', minutes: -60 },
      { activityIri: 'http://other/mod/page/view.php?id=1', competencyKey: '9.9', minutes: 10 },
      { activityIri: book, competencyKey: '1.2', minutes: 0 },
      { activityIri: book, competencyKey: '1.2', minutes: 6015 },
      { activityIri: quiz, competencyKey: '1.1', minutes: 15 },
    ]);
    expect(problems).toEqual([
      { index: 0, field: 'minutes', message: 'hours must be greater than 0' },
      { index: 1, field: 'activityIri', message: 'activity http://other/mod/page/view.php?id=1 is not an activity of this course' },
      { index: 1, field: 'competencyKey', message: 'no competency 9.9 in arm V1.1.2023' },
      { index: 1, field: 'minutes', message: 'hours must be a multiple of a quarter hour (0.25)' },
      { index: 2, field: 'minutes', message: 'hours must be greater than 0' },
      { index: 3, field: 'minutes', message: 'hours must be at most 100' },
      { index: 3, field: 'competencyKey', message: `activity ${book} is already mapped to 1.2` },
      { index: 4, field: 'competencyKey', message: `activity ${quiz} is already mapped to 1.1` },
    ]);
  });

  it('resolves printed codes, and refuses a code printed twice', () => {
    expect(resolveCompetency(referential, '1.2')).toEqual({ key: '1.2' });
    expect(resolveCompetency(referential, '4.1b')).toEqual({ key: '4.1b' });
    expect(resolveCompetency(referential, '4.1')).toEqual({
      error: 'code 4.1 is printed 2 times in arm V1.1.2023: use one of the keys 4.1a, 4.1b',
    });
    expect(resolveCompetency(referential, '7')).toEqual({ error: 'no competency 7 in arm V1.1.2023' });
  });

  it('sums mapped hours per domain against the required hours', () => {
    expect(
      summarizeByDomain(referential, [
        { activityIri: quiz, competencyKey: '1.1', minutes: 60 },
        { activityIri: book, competencyKey: '1.2', minutes: 90 },
        { activityIri: book, competencyKey: 'gone', minutes: 90 },
      ]),
    ).toEqual([
      { code: '1', title: 'Données de santé', mappedMinutes: 150, requiredMinutes: 360 },
      { code: '4', title: 'Outils numériques', mappedMinutes: 0, requiredMinutes: 300 },
    ]);
  });
});

describe('mapping CSV', () => {
  it('reads hours with a decimal point or comma', () => {
    expect(parseHours('1,5')).toBe(90);
    expect(parseHours(' 2.25 ')).toBe(135);
    expect(parseHours('1h')).toBeNull();
    expect(parseHours('-1')).toBeNull();
    expect(formatHours(90)).toBe('1,5');
  });

  it('round-trips a mapping, with keys where a code is ambiguous', () => {
    const rows = [
      { activityIri: quiz, activityName: 'Quiz 1; basics', competencyKey: '1.1', minutes: 90 },
      { activityIri: book, activityName: '=HYPERLINK("x")', competencyKey: '4.1b', minutes: 15 },
    ];
    const csv = writeMappingCsv(referential, rows);
    expect(csv.startsWith('\uFEFFactivity_id;activity_name;competency_code;hours\r\n')).toBe(true);
    expect(csv).toContain(';1,5\r\n');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    const parsed = parseMappingCsv(csv, referential);
    expect(parsed).toEqual({
      ok: true,
      rows: [
        { line: 2, ...rows[0] },
        { line: 3, ...rows[1], activityName: `'=HYPERLINK("x")` },
      ],
    });
  });

  it('refuses the whole file with line numbers when any row is wrong', () => {
    const csv = [
      'activity_id;activity_name;competency_code;hours',
      `${quiz};Quiz;1.1;1,5`,
      `${book};Book;9.9;1`,
      `not an iri;X;1.2;abc`,
      `${book};Book;1.2;0,1`,
      `${book};Book`,
    ].join('\n');
    const result = parseMappingCsv(csv, referential);
    expect(result).toEqual({
      ok: false,
      problems: [
        { line: 3, column: 'competency_code', message: 'no competency 9.9 in arm V1.1.2023' },
        { line: 4, column: 'activity_id', message: 'expected an activity IRI, found "not an iri"' },
        { line: 4, column: 'hours', message: 'expected a number of hours greater than 0 (1.5 or 1,5), found "abc"' },
        { line: 5, column: 'hours', message: 'hours must be a multiple of a quarter hour (0,25), found "0,1"' },
        { line: 6, message: 'expected 4 columns separated by ";", found 2' },
      ],
    });
    expect(parseMappingCsv('a;b;c\n', referential)).toEqual({
      ok: false,
      problems: [{ line: 1, message: 'the first line must be activity_id;activity_name;competency_code;hours' }],
    });
    expect(parseMappingCsv('activity_id;activity_name;competency_code;hours\n"unterminated;x;1.1;1', referential).ok).toBe(false);
  });
});
