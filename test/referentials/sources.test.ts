import fs from 'node:fs';
import path from 'node:path';
import { bundledFiles } from '../../src/referentials/bundled';
import { bundledReferentials } from '../../src/referentials/catalogue';
import { type Referential, hourMismatches, referentialFileSchema } from '../../src/domain/referential';

// Each référentiel's codes, titles and hours checked against the source documents in test/fixtures/seeds.

const seeds = path.join(__dirname, '..', 'fixtures', 'seeds');
const sourceLines = (document: string) => fs.readFileSync(path.join(seeds, document), 'utf8').split('\n');
const clean = (s: string) =>
  s
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
const refs = bundledReferentials();
const byId = (id: string): Referential => {
  const ref = refs.find((r) => r.id === id);
  if (!ref) throw new Error(`no bundled ${id}`);
  return ref;
};
const hours = (m: number | null) => (m === null ? null : m / 60);

describe('bundled référentiel files', () => {
  it('lists every JSON file of the folder, named <id>@<version>.json', () => {
    const dir = path.join(__dirname, '..', '..', 'src', 'referentials', 'bundled');
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    expect(Object.keys(bundledFiles).sort()).toEqual(files);
    expect(refs.map((r) => `${r.id}@${r.version}`).sort()).toEqual(files);
    expect(files).toHaveLength(10);
  });

  it('has the totals of the sources: 28, 18, 12, 18, 21, 28 h for the socles, none for the others', () => {
    const totals = Object.fromEntries(refs.map((r) => [`${r.id}@${r.version}`, hours(r.requiredMinutes)]));
    expect(totals).toEqual({
      'socle-sante-niveaux-4-8@V1.1.2022': 28,
      'socle-aides-soignants-auxiliaires-puericulture@sans-version': 18,
      'socle-ambulanciers@V1.1.2023': 12,
      'socle-assistants-regulation-medicale@V1.1.2023': 18,
      'socle-travailleurs-sociaux-educateurs-assistants@sans-version': 21,
      'socle-travailleurs-sociaux-accompagnants@sans-version': 28,
      'mediateurs-numeriques-modules@sans-version': null,
      'certification-projet-ia-sante-4-blocs@sans-version': null,
      'certification-ia-sante-5-activites@sans-version': null,
      'certification-chef-projet-ia@sans-version': null,
    });
  });

  it('adds up: totals = sum of domains, domains = sum of competencies wherever both are given', () => {
    const mismatches = refs.flatMap(hourMismatches);
    // Printed so that a source with a real mismatch is reported, not hidden.
    expect(mismatches).toEqual([]);
  });

  it('gives the 28 h référentiel 5 domains of 6/5/5/6/6 h and the 15 competencies 1.1–5.2 with their capacities', () => {
    const ref = byId('socle-sante-niveaux-4-8');
    expect(ref.version).toBe('V1.1.2022');
    expect(ref.domains.map((d) => [d.code, d.title, hours(d.requiredMinutes)])).toEqual([
      ['1', 'Données de santé', 6],
      ['2', 'Cybersécurité en santé', 5],
      ['3', 'Communication en santé', 5],
      ['4', 'Outils numériques en santé', 6],
      ['5', 'Télesanté', 6],
    ]);
    const competencies = ref.domains.flatMap((d) => d.competencies);
    expect(competencies.map((c) => c.code)).toEqual(
      ['1.1', '1.2', '1.3', '1.4', '2.1', '2.2', '3.1', '3.2', '3.3', '4.1', '4.2', '4.3', '4.4', '5.1', '5.2'],
    );
    for (const c of competencies) {
      expect(c.requiredMinutes).toBeNull();
      expect(c.capacities.length).toBeGreaterThanOrEqual(2);
    }
    expect(competencies[0]?.capacities[0]).toMatch(/^connaître les enjeux et critères liés à l'identitovigilance/);
  });

  it('gives the aides-soignants référentiel hours per competency (2/1/2, 2/2, 2/1/2, 1/1, 1/1)', () => {
    const ref = byId('socle-aides-soignants-auxiliaires-puericulture');
    expect(ref.domains.map((d) => d.competencies.map((c) => hours(c.requiredMinutes)))).toEqual([
      [2, 1, 2],
      [2, 2],
      [2, 1, 2],
      [1, 1],
      [1, 1],
    ]);
    expect(ref.domains.map((d) => hours(d.requiredMinutes))).toEqual([5, 4, 5, 2, 2]);
  });

  it('keeps the two "4.1" and the missing 4.3 of the assistants de régulation médicale, with distinct keys and notes', () => {
    const ref = byId('socle-assistants-regulation-medicale');
    const d4 = ref.domains[3];
    expect(d4?.competencies.map((c) => [c.code, c.key])).toEqual([
      ['4.1', '4.1'],
      ['4.1', '4.1b'],
      ['4.2', '4.2'],
      ['4.4', '4.4'],
    ]);
    expect(d4?.competencies[1]?.title).toBe('Utiliser un objet connecté ou une application mobile et analyser leur fiabilité');
    const notes = ref.notes.map((n) => n.text).join('\n');
    expect(notes).toMatch(/« 4\.1 »/);
    expect(notes).toMatch(/4\.3/);
  });

  it('notes the ECTS-labelled totals and the missing titles of the social-work tables', () => {
    for (const id of ['socle-travailleurs-sociaux-educateurs-assistants', 'socle-travailleurs-sociaux-accompagnants']) {
      const notes = byId(id).notes;
      expect(notes.some((n) => /ECTS/.test(n.text) && /ligne (659|681)/.test(n.location))).toBe(true);
      expect(notes.some((n) => /pas de titre/.test(n.text) && /éducateurs et assistants/.test(n.text))).toBe(true);
    }
    expect(byId('socle-aides-soignants-auxiliaires-puericulture').notes[0]?.text).toMatch(/ni titre ni version/);
  });

  it('notes every anomaly with a location in the source document', () => {
    for (const ref of refs) {
      expect(ref.notes.length).toBeGreaterThan(0);
      const all = [...ref.notes, ...ref.domains.flatMap((d) => [...d.notes, ...d.competencies.flatMap((c) => c.notes)])];
      for (const note of all) expect(note.location).toContain(ref.source?.document ?? 'no source');
    }
  });
});

/** The socle tables of 004: every row of the source range is one domain or competency of the data, same code, title, hours. */
describe.each(refs.filter((r) => r.kind === 'socle'))('$id against the source table', (ref) => {
  const lines = sourceLines(ref.source?.document ?? '');
  const [from, to] = ref.source?.lines ?? [0, 0];
  const rows = lines
    .slice(from - 1, to)
    .map((line) => line.split('\t'))
    .filter((cells) => /^\d(\.\d?)?(\s|$)/.test(cells[0] ?? ''));
  const numbers = (cells: string[]) => cells.slice(1).filter((c) => /^\d+$/.test(c.trim())).map(Number);

  it('has one domain per domain row, with its title and hours', () => {
    const domainRows = rows.filter((cells) => /^\d\.?(\s|$)/.test(cells[0] ?? ''));
    expect(domainRows.length).toBe(ref.domains.length);
    domainRows.forEach((cells, i) => {
      const domain = ref.domains[i];
      const printed = clean(`${cells[0]} ${cells[1]}`).replace(/^\d\.?\s*/, '').trim();
      expect([domain?.code, domain?.title]).toEqual([cells[0]?.trim().replace(/\.?\s.*$|\.$/, ''), printed]);
      expect(hours(domain?.requiredMinutes ?? null)).toBe(numbers(cells).at(-1) ?? null);
    });
  });

  it('has one competency per competency row, with its code, title and hours', () => {
    const competencyRows = rows.filter((cells) => /^\d\.\d\s*$/.test(cells[0] ?? ''));
    const competencies = ref.domains.flatMap((d) => d.competencies);
    expect(competencyRows.length).toBe(competencies.length);
    competencyRows.forEach((cells, i) => {
      const competency = competencies[i];
      expect(competency?.code).toBe(cells[0]?.trim());
      // The title is the cell, or its first paragraph when title and capacities share a cell; a repeated code is dropped.
      const cell = cells[1] ?? '';
      const title = clean(/^<p>(.*?)<\/p>/.exec(cell)?.[1] ?? cell).replace(new RegExp(`^${competency?.code.replace('.', '\\.')}\\. `), '');
      expect(competency?.title).toBe(title);
      expect(hours(competency?.requiredMinutes ?? null)).toBe(cells[3]?.trim() ? Number(cells[3]) : null);
    });
  });

  it('has the total printed at the end of the table', () => {
    const total = lines
      .slice(from - 1, to)
      .map((line) => line.split('\t'))
      .find((cells) => /^(Total des heures|Nombre de crédits ECTS alloués)$/.test(cells[0] ?? '') && numbers(cells).length);
    expect(total && numbers(total)[0]).toBe(hours(ref.requiredMinutes));
  });
});

describe('médiateurs numériques and certification référentiels against their sources', () => {
  const flat = (document: string) => clean(sourceLines(document).join(' ')).replace(/’/g, "'");
  const normal = (s: string) => s.replace(/’/g, "'");

  it('finds every domain and competency title of each in its source text', () => {
    for (const ref of refs.filter((r) => r.kind !== 'socle')) {
      const text = flat(ref.source?.document ?? '');
      for (const domain of ref.domains) {
        expect(text).toContain(normal(domain.title));
        for (const competency of domain.competencies) {
          expect(text).toContain(normal(competency.title.split(' Mesurer')[0] ?? ''));
          expect(competency.requiredMinutes).toBeNull();
        }
      }
    }
  });

  it('has every competency code printed in the certification sources, and no other', () => {
    const expected: Record<string, RegExp> = {
      'certification-projet-ia-sante-4-blocs': /\b\d\.\d\.\d\b/g,
      'certification-chef-projet-ia': /\bA\dC\d+\b/g,
    };
    for (const [id, pattern] of Object.entries(expected)) {
      const ref = byId(id);
      const printed = new Set(flat(ref.source?.document ?? '').match(pattern));
      const codes = new Set(ref.domains.flatMap((d) => d.competencies.map((c) => c.code)));
      expect([...codes].sort()).toEqual([...printed].sort());
    }
    const five = byId('certification-ia-sante-5-activites');
    expect(five.domains.map((d) => d.competencies.map((c) => c.code))).toEqual([
      ['1.1', '1.2', '1.3', '1.4'],
      ['2.1', '2.2', '2.3', '2.4', '2.5'],
      ['3.1', '3.2', '3.3', '3.4'],
      ['4.1', '4.2', '4.3', '4.4'],
      ['5.1', '5.2'],
    ]);
    expect(five.domains[4]?.evaluation?.modalities).toContain("Valider un niveau d'anglais de niveau B1");
  });

  it('has the blocks of the certifications and the six médiateurs modules', () => {
    expect(byId('certification-projet-ia-sante-4-blocs').domains.map((d) => d.code)).toEqual(['1', '2', '3', '4']);
    expect(byId('certification-chef-projet-ia').domains.map((d) => d.title)).toEqual([
      "Analyser et mesurer l'apport d'une solution d'IA au sein d'une organisation",
      "Piloter la conception et le prototypage d'une solution IA",
      'Déployer et mettre en œuvre une solution IA',
      'Manager un projet IA',
    ]);
    const modules = byId('mediateurs-numeriques-modules');
    expect(modules.domains.map((d) => `${d.code} ${d.title}`)).toEqual([
      '1 Contexte numérique',
      '2 Données de santé',
      '3 Accéder à sa santé en ligne',
      '4 Les outils publics du numérique en santé : DMP et ENS',
      '5 Sécurité et bonnes pratiques',
      '6 Information et éducation du patient',
    ]);
    expect(modules.domains[4]?.competencies[0]?.capacities).toEqual([
      'Création de mots de passe sécurisés',
      "Repérer l'hameçonnage, identifier les risques",
      'Outils de visio et de téléconsultation',
    ]);
  });
});

describe('data file validation', () => {
  const base = {
    id: 'essai',
    version: 'V1',
    title: 'Essai',
    kind: 'socle',
    hours: 1.5,
    domains: [{ code: '1', title: 'Un', hours: 1.5, competencies: [{ code: '1.1', title: 'A', hours: 1.5 }] }],
  };

  it('turns hours into integer minutes and defaults keys to codes', () => {
    const ref = referentialFileSchema.parse(base);
    expect(ref.requiredMinutes).toBe(90);
    expect(ref.domains[0]?.competencies[0]).toMatchObject({ key: '1.1', requiredMinutes: 90, capacities: [], notes: [] });
  });

  it('says where a file is wrong: a fraction of a minute, a duplicate key, an unknown field', () => {
    const wrong = {
      ...base,
      hours: 1.51,
      domains: [
        {
          code: '1',
          title: 'Un',
          competencies: [
            { code: '4.1', title: 'A' },
            { code: '4.1', title: 'B', heures: 2 },
          ],
        },
      ],
    };
    const result = referentialFileSchema.safeParse(wrong);
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^hours: must be a whole number of minutes/),
        expect.stringMatching(/^domains\.0\.competencies\.1: Unrecognized key: "heures"/),
      ]),
    );
    const dup = referentialFileSchema.safeParse({
      ...base,
      domains: [{ code: '1', title: 'Un', competencies: [{ code: '4.1', title: 'A' }, { code: '4.1', title: 'B' }] }],
    });
    expect(dup.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'domains.0.competencies.1.key: duplicate competency key "4.1": give one of them an explicit unique key',
    ]);
  });
});

describe('the contract other modules code against', () => {
  it('gives Referential the agreed shape (checked by the type checker)', () => {
    type Agreed = {
      id: string;
      version: string;
      title: string;
      requiredMinutes: number | null;
      domains: {
        code: string;
        title: string;
        requiredMinutes: number | null;
        competencies: { key: string; code: string; title: string; requiredMinutes: number | null }[];
      }[];
    };
    const agreed: Agreed[] = refs;
    expect(agreed).toHaveLength(10);
  });
});
