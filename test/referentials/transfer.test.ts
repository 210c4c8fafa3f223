import { parse } from 'csv-parse/sync';
import { fromCase, toCase } from '../../src/referentials/formats/case';
import { bundledReferentials } from '../../src/referentials/catalogue';
import { SocleError } from '../../src/domain/errors';
import { FORMATS } from '../../src/referentials/formats';
import { fromMoodleCsv, toMoodleCsv } from '../../src/referentials/formats/moodle-csv';
import { exportReferential, parseReferentialFile } from '../../src/referentials/transfer';

const refs = bundledReferentials();
const MOODLE_HEADER =
  '"Parent id number","Id number",Shortname,Description,"Description format","Scale values","Scale configuration",' +
  '"Rule type (optional)","Rule outcome (optional)","Rule config (optional)","Cross referenced competency id numbers",' +
  '"Exported id (optional)","Is framework",Taxonomy';

function formatError(run: () => unknown): SocleError {
  try {
    run();
  } catch (error) {
    if (SocleError.is(error, 'invalid_request')) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

it('has the ten bundled référentiels for every registered format to round-trip', () => {
  expect(refs).toHaveLength(10);
  expect(FORMATS.length).toBeGreaterThanOrEqual(3);
});

describe.each(FORMATS.map((format) => ({ name: format.name, format })))('every registered format: $name', ({ format }) => {
  it.each(refs)('exports $id@$version and imports it again, recognised from the content, losslessly', (ref) => {
    const file = exportReferential(ref, format.name, 'https://socle.example.fr');
    expect(file).toMatchObject({ name: `${ref.id}@${ref.version}${format.extension}`, contentType: format.contentType });
    expect(parseReferentialFile(file.text)).toEqual({ format: format.name, referential: ref });
    expect(parseReferentialFile(`\uFEFF${file.text}`).format).toBe(format.name);
  });
});

describe('the registry', () => {
  it('keeps the file names of the exports and recognises each format from the content', () => {
    const ref = refs.find((r) => r.id === 'socle-ambulanciers');
    if (!ref) throw new Error('missing');
    expect(FORMATS.map((f) => exportReferential(ref, f.name, 'https://socle.example.fr').name)).toEqual([
      'socle-ambulanciers@V1.1.2023.json',
      'socle-ambulanciers@V1.1.2023.case.json',
      'socle-ambulanciers@V1.1.2023.csv',
    ]);
    // A JSON object without `domains` is read as CASE (and told what CASE needs), any other text as Moodle CSV.
    expect(formatError(() => parseReferentialFile('{"title": "x"}')).message).toMatch(/^Invalid CASE package: CFDocument/);
    expect(formatError(() => parseReferentialFile('title\nx\n')).message).toMatch(/^Not a Moodle competency framework CSV/);
  });

  it('refuses a Socle JSON file that is not a valid référentiel, with the path of each problem', () => {
    const ref = refs.find((r) => r.id === 'socle-ambulanciers');
    if (!ref) throw new Error('missing');
    const bad = { ...ref, domains: ref.domains.map((d, i) => (i === 1 ? { ...d, requiredMinutes: 1.5 } : d)) };
    const error = formatError(() => parseReferentialFile(JSON.stringify(bad)));
    expect(error.message).toMatch(/^The JSON file is not a valid référentiel/);
    expect(error.details).toEqual([{ path: 'domains.1.requiredMinutes', message: 'must be a whole number of minutes' }]);
  });
});

describe('CASE 1.1 package', () => {
  const ref = refs.find((r) => r.id === 'socle-assistants-regulation-medicale');
  if (!ref) throw new Error('missing');
  const pkg = toCase(ref, 'https://socle.example.fr') as {
    CFDocument: Record<string, unknown>;
    CFItems: Record<string, unknown>[];
    CFAssociations: Record<string, unknown>[];
  };

  it('has the document, one item per domain and competency, isChildOf associations and stable UUIDs', () => {
    expect(pkg.CFDocument).toMatchObject({ title: ref.title, version: 'V1.1.2023', language: 'fr' });
    expect(pkg.CFDocument.identifier).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(pkg.CFItems).toHaveLength(5 + 15);
    expect(pkg.CFAssociations.every((a) => a.associationType === 'isChildOf')).toBe(true);
    expect(new Set(pkg.CFItems.map((i) => i.identifier)).size).toBe(20);
    const twins = pkg.CFItems.filter((i) => i.humanCodingScheme === '4.1');
    expect(twins).toHaveLength(2);
    expect(twins[1]).toMatchObject({ CFItemType: 'Compétence', extensions: { socle: { key: '4.1b' } } });
    expect(pkg.CFItems[0]).toMatchObject({ fullStatement: 'Données de santé', notes: 'Heures : 4\u00a0h' });
    expect(toCase(ref, 'https://socle.example.fr')).toEqual(pkg);
  });

  it('imports a package without Socle extensions with codes, titles and order', () => {
    const plain = JSON.parse(JSON.stringify(pkg)) as typeof pkg;
    delete plain.CFDocument.extensions;
    for (const item of plain.CFItems) delete item.extensions;
    const imported = fromCase(plain);
    expect(imported.id).toBe('referentiel-socle-de-competences-du-numerique-en-sante-des-a');
    expect(imported.domains.map((d) => d.code)).toEqual(['1', '2', '3', '4', '5']);
    expect(imported.requiredMinutes).toBeNull();
    // Without Socle keys in the package, the second "4.1" gets the key 4.1b, as in the bundled file.
    expect(imported.domains[3]?.competencies.map((c) => c.key)).toEqual(['4.1', '4.1b', '4.2', '4.4']);
  });

  it('refuses a broken package with the JSON path of each problem', () => {
    expect(formatError(() => parseReferentialFile('{"CFDocument": ')).message).toMatch(/^The file is not valid JSON/);
    const noItems = formatError(() => fromCase({ CFDocument: pkg.CFDocument, CFAssociations: [] }));
    expect(noItems.details).toEqual([{ path: 'CFItems', message: expect.stringMatching(/expected array/) }]);
    const badMinutes = JSON.parse(JSON.stringify(pkg)) as typeof pkg;
    (badMinutes.CFItems[1]?.extensions as { socle: { requiredMinutes: unknown } }).socle.requiredMinutes = '60';
    expect(formatError(() => fromCase(badMinutes)).details).toEqual([
      { path: 'CFItems[1].extensions.socle.requiredMinutes', message: expect.stringMatching(/expected number/) },
    ]);
    const orphan = JSON.parse(JSON.stringify(pkg)) as typeof pkg;
    (orphan.CFAssociations[0]?.originNodeURI as { identifier: string }).identifier = 'nope';
    expect(formatError(() => fromCase(orphan)).details[0]?.path).toBe('CFAssociations[0].originNodeURI.identifier');
  });
});

describe('Moodle competency framework CSV', () => {
  const ref = refs.find((r) => r.id === 'socle-sante-niveaux-4-8');
  if (!ref) throw new Error('missing');
  const csv = toMoodleCsv(ref);
  const rows = parse(csv) as string[][];

  it('has a framework row with scale and taxonomy, domains at the top, competencies under them', () => {
    expect(csv.split('\n')[0]).toBe(MOODLE_HEADER);
    expect(rows).toHaveLength(1 + 1 + 5 + 15);
    const framework = rows[1] ?? [];
    expect(framework.slice(0, 3)).toEqual(['', 'socle-sante-niveaux-4-8@V1.1.2022', expect.stringMatching(/^Référentiel socle.{80,}…$/)]);
    expect(framework.slice(4)).toEqual([
      '1',
      'Non acquis,Acquis',
      '[{"scaleid":"0"},{"id":1,"scaledefault":1,"proficient":0},{"id":2,"scaledefault":0,"proficient":1}]',
      '',
      '',
      '',
      '',
      '',
      '1',
      'domain,competency',
    ]);
    expect(rows[2]?.slice(0, 3)).toEqual(['', 'domaine-1', '1 Données de santé']);
    expect(rows[2]?.[3]).toContain('<p>Heures : 6\u00a0h</p>');
    expect(rows[3]?.slice(0, 3)).toEqual(['domaine-1', '1.1', '1.1 Identifier un usager ou un professionnel de santé']);
    expect(rows[3]?.[3]).toContain("<li>connaître les enjeux et critères liés à l'identitovigilance");
    for (const row of rows) expect(row[2]?.length).toBeLessThanOrEqual(100);
  });

  it('imports a CSV written by Moodle for another framework (no Socle data) with codes, titles and tree', () => {
    const plain = csv.replace(/<!--socle:[A-Za-z0-9_-]+-->/g, '');
    const imported = fromMoodleCsv(plain);
    expect(imported.id).toBe('socle-sante-niveaux-4-8');
    expect(imported.version).toBe('V1.1.2022');
    expect(imported.domains[0]?.competencies[0]).toMatchObject({ key: '1.1', code: '1.1', title: 'Identifier un usager ou un professionnel de santé' });
  });

  it('refuses a bad file with the line and column of each problem, and the wrong header', () => {
    expect(formatError(() => fromMoodleCsv('a,b\n1,2\n')).details).toEqual([
      { path: 'line 1', message: expect.stringMatching(/^expected the header "Parent id number","Id number"/) },
    ]);
    const lines = csv.split('\n');
    lines[4] = lines[4]?.replace(/^domaine-1,1\.2,/, 'domaine-9,1.2,') ?? '';
    lines.splice(6, 0, 'x,y');
    const error = formatError(() => fromMoodleCsv(lines.join('\n')));
    expect(error.details).toEqual([
      { path: 'line 7', message: 'expected 14 columns, found 2' },
      { path: 'line 5, column "Parent id number"', message: 'no row has id number "domaine-9"' },
    ]);
    expect(error.message).toContain('line 5, column "Parent id number": no row has id number "domaine-9"');
  });
});
