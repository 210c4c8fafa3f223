import fc from 'fast-check';
import {
  correspondenceProblems,
  editCorrespondence,
  learnerDifference,
  moveMappings,
  normaliseTitle,
  proposeCorrespondence,
} from '../../src/domain/referential-transition';
import type { ReferentialOutline } from '../../src/domain/referential';
import { socle28 } from './coverage-fixtures';

type Outline = Pick<ReferentialOutline, 'domains'>;
const keysOf = (o: Outline) => o.domains.flatMap((d) => d.competencies.map((c) => c.key));

/** Outlines of 1–3 domains with unique keys; titles drawn from a small set, so some repeat. */
const outlineArb: fc.Arbitrary<Outline> = fc
  .array(
    fc.array(fc.record({ code: fc.constantFrom('1.1', '1.2', '2.1', '3', 'A'), title: fc.constantFrom('Données de santé', 'Cybersécurité', 'Éthique', 'Outils', 'IA') }), {
      minLength: 1,
      maxLength: 4,
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((domains) => {
    let n = 0;
    return {
      domains: domains.map((competencies, d) => ({
        code: String(d + 1),
        title: `Domaine ${d + 1}`,
        requiredMinutes: 60,
        competencies: competencies.map((c) => ({ key: `k${n++ % 7}_${d}`, code: c.code, title: c.title, requiredMinutes: null })),
      })),
    };
  })
  .filter((o) => new Set(keysOf(o)).size === keysOf(o).length);

describe('référentiel transition: the proposed correspondence', () => {
  it('maps every key of identical versions to itself', () => {
    fc.assert(
      fc.property(outlineArb, (outline) => {
        const table = proposeCorrespondence(outline, outline);
        expect(table).toEqual(keysOf(outline).map((k) => ({ from: k, to: k, reason: 'same_key' })));
        expect(correspondenceProblems(outline, outline, table)).toEqual([]);
      }),
    );
  });

  it('never proposes a target outside the new version, and lists each old competency once', () => {
    fc.assert(
      fc.property(outlineArb, outlineArb, (from, to) => {
        const table = proposeCorrespondence(from, to);
        const news = new Set(keysOf(to));
        expect(table.map((e) => e.from)).toEqual(keysOf(from));
        for (const e of table) if (e.to !== null) expect(news.has(e.to)).toBe(true);
        expect(correspondenceProblems(from, to, table)).toEqual([]);
      }),
    );
  });

  it('still maps a competency whose code and key changed but whose title did not (accents and case aside)', () => {
    fc.assert(
      fc.property(outlineArb, fc.nat(), (outline, pick) => {
        const all = outline.domains.flatMap((d) => d.competencies);
        const renamed = all[pick % all.length];
        if (!renamed || all.filter((c) => normaliseTitle(c.title) === normaliseTitle(renamed.title)).length > 1) return;
        const next: Outline = {
          domains: outline.domains.map((d) => ({
            ...d,
            competencies: d.competencies.map((c) => (c === renamed ? { ...c, key: 'renamed', code: '9.9', title: `  ${c.title.toUpperCase()} ` } : c)),
          })),
        };
        const row = proposeCorrespondence(outline, next).find((e) => e.from === renamed.key);
        expect(row).toEqual({ from: renamed.key, to: 'renamed', reason: 'same_title' });
      }),
    );
  });

  it('prefers the same code and title to a title alone, and never guesses between two candidates', () => {
    const competency = (key: string, code: string, title: string) => ({ key, code, title, requiredMinutes: null });
    const from: Outline = { domains: [{ code: '1', title: 'D', requiredMinutes: 60, competencies: [competency('a', '1.1', 'Données'), competency('b', '1.2', 'Éthique')] }] };
    const to: Outline = {
      domains: [{ code: '1', title: 'D', requiredMinutes: 60, competencies: [competency('x', '2.1', 'Données'), competency('y', '1.1', 'données'), competency('p', '1', 'Ethique'), competency('q', '2', 'ÉTHIQUE')] }],
    };
    expect(proposeCorrespondence(from, to)).toEqual([
      { from: 'a', to: 'y', reason: 'same_code_and_title' },
      { from: 'b', to: null, reason: 'none' },
    ]);
  });
});

describe('référentiel transition: edits and problems', () => {
  const table = proposeCorrespondence(socle28, socle28);

  it('applies edits as `edited` and refuses a target outside the new version or an unknown old key', () => {
    const edited = editCorrespondence(socle28, table, [{ from: '1.1', to: '1.2' }, { from: '2.1', to: null }]);
    expect(edited.problems).toEqual([]);
    expect(edited.table.find((e) => e.from === '1.1')).toEqual({ from: '1.1', to: '1.2', reason: 'edited' });
    expect(edited.table.find((e) => e.from === '2.1')).toEqual({ from: '2.1', to: null, reason: 'edited' });
    const refused = editCorrespondence(socle28, table, [{ from: '1.1', to: '8.8' }, { from: '7.7', to: '1.1' }]);
    expect(refused.problems).toEqual([
      { path: 'edits[0].to', message: '"8.8" is not a competency of the new version' },
      { path: 'edits[1].from', message: '"7.7" is not a competency of the old version' },
    ]);
    expect(refused.table).toEqual(table);
  });

  it('finds a missing row, a row twice and a stale target', () => {
    const [first, ...rest] = table;
    if (!first) throw new Error('empty');
    expect(correspondenceProblems(socle28, socle28, [...rest, { ...first, to: 'gone' }, first]).map((p) => p.message)).toEqual([
      '"gone" is not a competency of the new version',
      `"${first.from}" is listed twice`,
    ]);
    expect(correspondenceProblems(socle28, socle28, rest)).toEqual([{ path: 'correspondence', message: `the old competency "${first.from}" has no row` }]);
  });
});

describe('référentiel transition: mappings and differences', () => {
  it('moves pairs to the new keys, adds merged minutes, keeps a pair already there and drops those mapped to none', () => {
    const m = (activityIri: string, competencyKey: string, minutes: number) => ({ courseId: 1, activityIri, competencyKey, minutes });
    const out = moveMappings(
      [m('a', '1', 30), m('a', '2', 15), m('b', '3', 60), m('c', '1', 45)],
      [m('c', 'N1', 10)],
      [
        { from: '1', to: 'N1', reason: 'same_title' },
        { from: '2', to: 'N1', reason: 'edited' },
        { from: '3', to: null, reason: 'none' },
      ],
    );
    expect(out).toEqual({ moved: [m('a', 'N1', 45)], dropped: [m('b', '3', 60)], kept: [m('c', '1', 45)], merged: 1 });
  });

  it('reports nothing when the figures are equal, and a loss when a domain drops even if the total holds', () => {
    const cov = (validatedMinutes: number, domains: [string, number][]) => ({ validatedMinutes, coveredCompetencies: 2, domains: domains.map(([code, v]) => ({ code, validatedMinutes: v })) });
    expect(learnerDifference(1, cov(60, [['1', 60]]), cov(60, [['1', 60]]))).toBeUndefined();
    expect(learnerDifference(1, undefined, undefined)).toBeUndefined();
    expect(learnerDifference(2, cov(60, [['1', 30], ['2', 30]]), cov(60, [['1', 60], ['3', 0]]))).toEqual({
      userId: 2,
      before: 60,
      after: 60,
      coveredBefore: 2,
      coveredAfter: 2,
      domains: [
        { code: '1', before: 30, after: 60 },
        { code: '2', before: 30, after: 0 },
        { code: '3', before: 0, after: 0 },
      ],
      lost: true,
    });
    expect(learnerDifference(3, cov(30, [['1', 30]]), cov(45, [['1', 45]]))?.lost).toBe(false);
  });
});
