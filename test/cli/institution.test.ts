import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { issueCredential } from '../../src/badges/credentials';
import { openStore } from '../../src/db/store';
import { ensurePlatform, ensureUser } from '../../src/identity/records';
import { testContext } from '../support/app';
import { runCli, runCliInProcess } from '../support/cli';
import { generatedRows, must } from '../support/compliance-rows';
import { arraySource } from '../support/compliance-source';
import { createTestDatabase, drivers } from '../support/db';
import { pdfText } from '../support/pdf';
import { solidPng } from '../support/png';
import { socle28 } from '../badges/referential';
import { unzip } from '../support/zip';

const ISSUER = 'https://moodle.univ-reunion.example';
const LEGAL_NAME = 'Université de La Réunion';
/** Learners whose names start with a vowel: "atteste qu’Inès". */
const rows = generatedRows(3).map((r, i) => ({ ...r, learner: { sub: `4${i}`, name: ['Inès Payet', 'Éloïse Grondin', 'Hugo Técher'][i] ?? null }, courses: [{ contextId: '2', title: 'Socle' }] }));


describe.each(drivers)('socle institution on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let dir: string;
  let userId: number;
  const file = (name: string) => path.join(dir, name);
  beforeAll(async () => {
    database = await createTestDatabase(driver);
    const store = await openStore(database.options);
    const platform = await ensurePlatform(store.db, ISSUER, 'moodle https://moodle.univ-reunion.example');
    userId = (await ensureUser(store.db, platform.id, '40', { name: 'Inès Payet' })).id;
    await store.close();
    env =
      'databaseUrl' in database.options
        ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789' }
        : { DATA_DIR: database.options.dataDir, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789' };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-institution-'));
    fs.writeFileSync(file('logo.png'), solidPng(320, 128));
    fs.writeFileSync(file('evil.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(1)</script></svg>');
  }, 60_000);
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await database.destroy();
  });

  it('sets and shows the profile through the real socle binary, and refuses a bad time zone or logo leaving it unchanged', async () => {
    const set = await runCli(
      [
        'institution', 'set', '--platform', ISSUER, '--name', LEGAL_NAME, '--short-name', 'UR', '--uai', '9740478B',
        '--logo', file('logo.png'), '--signatory-name', 'Camille Hoarau', '--signatory-title', 'Directrice de l’UFR Santé',
        '--city', 'Saint-Denis', '--time-zone', 'Indian/Reunion', '--url', 'https://www.univ-reunion.example', '--email', 'scolarite@univ-reunion.example',
      ],
      env,
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`Institution profile of ${ISSUER} saved.`);
    expect(set.stdout).toMatch(/logo\s+image\/png, 320×128, \d+ bytes/);

    const show = await runCli(['institution', 'show', '--platform', ISSUER, '--json'], env);
    expect(show.code).toBe(0);
    const profile = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(profile).toMatchObject({
      platform: ISSUER,
      legalName: LEGAL_NAME,
      shortName: 'UR',
      uai: '9740478B',
      siret: null,
      signatoryName: 'Camille Hoarau',
      city: 'Saint-Denis',
      timeZone: 'Indian/Reunion',
      email: 'scolarite@univ-reunion.example',
      logo: { type: 'image/png', width: 320, height: 128, bytes: fs.statSync(file('logo.png')).size },
    });

    const zone = await runCli(['institution', 'set', '--platform', ISSUER, '--time-zone', 'Europe/Lyon', '--city', 'Le Tampon'], env);
    expect(zone.code).toBe(1);
    expect(zone.stderr).toMatch(/^socle: --time-zone: Invalid institution profile\.\n {2}--time-zone: not an IANA time zone/);
    expect(zone.stderr).not.toMatch(/\n\s+at /);
    const logo = await runCliInProcess(['institution', 'set', '--platform', ISSUER, '--logo', file('evil.svg')], env);
    expect(logo.code).toBe(1);
    expect(logo.stderr).toMatch(/^socle: --logo: Invalid logo: SVG refused: it contains a script\./);
    const missing = await runCliInProcess(['institution', 'set', '--platform', ISSUER, '--logo', file('nope.png')], env);
    expect(missing.stderr).toMatch(/^socle: --logo: cannot read .*nope\.png \(ENOENT\)/);
    const again = await runCliInProcess(['institution', 'show', '--platform', ISSUER, '--json'], env);
    expect(JSON.parse(again.stdout)).toEqual(profile);

    const none = await runCliInProcess(['institution', 'show', '--platform', 'https://moodle.none.example'], env);
    expect(none).toMatchObject({ code: 1 });
    expect(none.stderr).toMatch(/^socle: --platform: no platform https:\/\/moodle\.none\.example/);
  }, 180_000);

  it('an attestation made after `socle institution set` shows the legal name, the logo and the signatory', async () => {
    const zip = await runCliInProcess(['report', 'attestations', '--platform', ISSUER, '--out', file('a.zip')], env, { compliance: arraySource(rows) });
    expect(zip.code).toBe(0);
    const pdfs = await unzip(file('a.zip'));
    expect(pdfs.size).toBe(3);
    const ines = must([...pdfs].find(([name]) => name.includes('Ines'))?.[1]);
    const text = (await pdfText(ines)).join('\n');
    expect(text).toContain(`${LEGAL_NAME} atteste qu’Inès Payet (identifiant 40) a validé`);
    expect(text).toContain('UAI 9740478B');
    expect(text).toMatch(/Fait à Saint-Denis, le \d{1,2} \S+ \d{4}/);
    expect(text).toContain('Camille Hoarau');
    expect(text).toContain('Directrice de l’UFR Santé');
    expect(ines.toString('latin1')).toMatch(/\/Subtype\s*\/Image/);
  }, 120_000);

  it('a badge’s issuer is the institution: its name, web site and email', async () => {
    const store = await openStore(database.options);
    try {
      const ctx = testContext(store);
      const { credential } = await issueCredential(store.db, ctx, { userId, referential: socle28, domainCode: '1', creditsEarnedMinutes: 600 });
      const issuer = decodeJwt(credential.jwt).issuer as Record<string, unknown>;
      expect(issuer).toMatchObject({
        id: `${ctx.config.publicUrl}/badges/issuer`,
        name: LEGAL_NAME,
        url: 'https://www.univ-reunion.example',
        email: 'scolarite@univ-reunion.example',
        image: { type: 'Image', id: expect.stringMatching(/\/badges\/issuer\/logo\/\d+$/) },
      });
    } finally {
      await store.close();
    }
  }, 60_000);
});
