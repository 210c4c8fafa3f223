import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliInProcess as runCli } from '../support/cli';
import { createTestDatabase, drivers } from '../support/db';

// On PostgreSQL when available: each process then skips PGlite's WebAssembly start, which keeps this file light.
const driver = drivers.includes('postgres') ? 'postgres' : 'pglite';

describe(`socle referentials (real processes on ${driver})`, () => {
  let env: Record<string, string>;
  let destroy: () => Promise<void>;
  let work: string;
  beforeAll(async () => {
    const database = await createTestDatabase(driver);
    env =
      'dataDir' in database.options
        ? { DATA_DIR: database.options.dataDir, LOG_LEVEL: 'warn' }
        : { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789', LOG_LEVEL: 'warn' };
    destroy = database.destroy;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-ref-cli-'));
  });
  afterAll(async () => {
    await destroy?.();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('lists all ten with their total hours and version', async () => {
    const res = await runCli(['referentials', 'list', '--json'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const list = JSON.parse(res.stdout) as { id: string; version: string; hours: number | null }[];
    expect(Object.fromEntries(list.map((r) => [r.id, [r.version, r.hours]]))).toEqual({
      'certification-chef-projet-ia': ['sans-version', null],
      'certification-ia-sante-5-activites': ['sans-version', null],
      'certification-projet-ia-sante-4-blocs': ['sans-version', null],
      'mediateurs-numeriques-modules': ['sans-version', null],
      'socle-aides-soignants-auxiliaires-puericulture': ['sans-version', 18],
      'socle-ambulanciers': ['V1.1.2023', 12],
      'socle-assistants-regulation-medicale': ['V1.1.2023', 18],
      'socle-sante-niveaux-4-8': ['V1.1.2022', 28],
      'socle-travailleurs-sociaux-accompagnants': ['sans-version', 28],
      'socle-travailleurs-sociaux-educateurs-assistants': ['sans-version', 21],
    });
  });

  it('shows the 28 h référentiel: 5 domains of 6/5/5/6/6 h, competencies 1.1–5.2 with capacities', async () => {
    const res = await runCli(['referentials', 'show', 'socle-sante-niveaux-4-8'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Heures\u00a0: 28\u00a0h');
    for (const line of ['1. Données de santé — 6\u00a0h', '2. Cybersécurité en santé — 5\u00a0h', '3. Communication en santé — 5\u00a0h', '4. Outils numériques en santé — 6\u00a0h', '5. Télesanté — 6\u00a0h']) {
      expect(res.stdout).toContain(line);
    }
    expect(res.stdout).toContain('  5.2 Pratiquer la télésanté en lien avec l\'équipe de soin et l\'utilisateur\n      - mettre en œuvre les bonnes pratiques');
  });

  it('exports to a file, imports a new version from it, and refuses a bad file with one line', async () => {
    const casePath = path.join(work, 'amb.case.json');
    const exported = await runCli(['referentials', 'export', 'socle-ambulanciers', '--format', 'case', '--out', casePath], env);
    expect(exported.code).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(casePath, 'utf8')) as { CFDocument: { version: string } };
    pkg.CFDocument.version = 'V2.0.2026';
    fs.writeFileSync(casePath, JSON.stringify(pkg));
    const imported = await runCli(['referentials', 'import', casePath, '--json'], env);
    expect(JSON.parse(imported.stdout)).toEqual({ id: 'socle-ambulanciers', version: 'V2.0.2026', format: 'case', outcome: 'added' });

    // A bad file is refused before the database is opened.
    const badPath = path.join(work, 'bad.csv');
    fs.writeFileSync(badPath, 'Parent,Id\n1,2\n');
    const bad = await runCli(['referentials', 'import', badPath], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^socle: .*bad\.csv: Not a Moodle competency framework CSV: line 1: expected the header "Parent id number"/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('exports Socle JSON to stdout; importing it again changes nothing', async () => {
    const exported = await runCli(['referentials', 'export', 'socle-sante-niveaux-4-8', '--format', 'json'], env);
    expect(exported.code).toBe(0);
    expect((JSON.parse(exported.stdout) as { domains: { requiredMinutes: number }[] }).domains.map((d) => d.requiredMinutes)).toEqual([360, 300, 300, 360, 360]);
    const jsonPath = path.join(work, 'socle.json');
    fs.writeFileSync(jsonPath, exported.stdout);
    const imported = await runCli(['referentials', 'import', jsonPath, '--json'], env);
    expect(JSON.parse(imported.stdout)).toEqual({ id: 'socle-sante-niveaux-4-8', version: 'V1.1.2022', format: 'json', outcome: 'unchanged' });
  }, 60_000);
});
