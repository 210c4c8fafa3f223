import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { auditEvents, attestationRecords } from '../../src/db/schema';
import { openStore } from '../../src/db/store';
import { ensureCourse, ensurePlatform } from '../../src/identity/records';
import type { Indicators } from '../../src/reports/indicators';
import { runCli, runCliInProcess } from '../support/cli';
import { generatedRows, must } from '../support/compliance-rows';
import { arraySource } from '../support/compliance-source';
import { createTestDatabase, drivers } from '../support/db';
import { pdfText } from '../support/pdf';

const ISSUER = 'https://moodle.univ-test.fr';
const rows = generatedRows(30);
/** The commands report on these rows. */
const services = { compliance: arraySource(rows) };

describe.each(drivers)('socle report on %s', (driver) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase(driver);
    const store = await openStore(database.options);
    const platform = await ensurePlatform(store.db, ISSUER, 'Université de Test');
    for (const c of ['2', '3', '4']) await ensureCourse(store.db, platform.id, c, `Socle numérique — groupe ${Number(c) - 1}`);
    await store.close();
    env =
      'databaseUrl' in database.options
        ? { DATABASE_URL: database.options.databaseUrl, LTI_KEY: 'test-lti-key-0123456789abcdef0123456789' }
        : { DATA_DIR: database.options.dataDir };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-report-'));
  }, 60_000);
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await database.destroy();
  });

  const out = (name: string) => path.join(dir, name);

  it('runs as the real `socle` process of a checkout, whose report writers load lazily', async () => {
    // The in-process runs below share jest's module loader; this one goes through bin/socle.js as a user's would.
    const result = await runCli(['report', 'indicators', '--platform', ISSUER, '--format', 'json', '--out', out('process.json')], env);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain('written to');
    expect(JSON.parse(fs.readFileSync(out('process.json'), 'utf8'))).toHaveProperty('learners');
  });

  it('writes the compliance report as French Excel CSV, XLSX and PDF for the chosen course', async () => {
    const expected = rows.filter((r) => r.courses[0]?.contextId === '3');
    const csv = await runCliInProcess(['report', 'compliance', '--platform', ISSUER, '--context', '3', '--format', 'csv', '--out', out('c.csv')], env, services);
    expect(csv).toMatchObject({ code: 0, stdout: '' });
    expect(csv.stderr).toContain(`${expected.length} learner(s) written`);
    expect(csv.stderr).toMatch(/rows: \d+\/\d+/);
    const text = fs.readFileSync(out('c.csv'), 'utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const lines = text.trim().split('\r\n');
    expect(lines).toHaveLength(expected.length + 1);
    expect(lines[0]).toContain(';');

    const xlsx = await runCliInProcess(['report', 'compliance', '--platform', ISSUER, '--context', '3', '--format', 'xlsx', '--out', out('c.xlsx')], env, services);
    expect(xlsx.code).toBe(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(out('c.xlsx'));
    expect(wb.worksheets.length).toBeGreaterThan(1);

    const pdf = await runCliInProcess(['report', 'compliance', '--platform', ISSUER, '--context', '3', '--format', 'pdf', '--out', out('c.pdf')], env, services);
    expect(pdf.code).toBe(0);
    const pages = (await pdfText(fs.readFileSync(out('c.pdf')))).join('\n');
    const named = must(expected.find((r) => r.learner.name));
    expect(pages).toContain(must(named.learner.name));
  }, 60_000);

  it('writes indicators and attestations, and audits every export', async () => {
    const ind = await runCliInProcess(['report', 'indicators', '--platform', ISSUER, '--format', 'json', '--out', out('i.json')], env, services);
    expect(ind.code).toBe(0);
    const indicators = JSON.parse(fs.readFileSync(out('i.json'), 'utf8')) as Indicators;
    expect(indicators.learners.total).toBe(rows.length);
    expect(indicators.learners.compliant).toBe(rows.filter((r) => r.status === 'complete').length);
    const csv = await runCliInProcess(['report', 'indicators', '--platform', ISSUER, '--format', 'csv', '--out', out('i.csv')], env, services);
    expect(csv.code).toBe(0);
    expect(fs.readFileSync(out('i.csv'), 'utf8')).toMatch(/^\uFEFFIndicateur;Clé;Libellé;Apprenants;Conformes;Heures\r\n/);

    const expected = rows.filter((r) => r.courses[0]?.contextId === '2');
    const zip = await runCliInProcess(['report', 'attestations', '--platform', ISSUER, '--context', '2', '--out', out('a.zip')], env, services);
    expect(zip.code).toBe(0);
    expect(zip.stderr).toContain(`${expected.length} attestation(s) written`);
    expect(fs.readFileSync(out('a.zip')).subarray(0, 2).toString()).toBe('PK');

    const store = await openStore(database.options);
    try {
      expect(await store.db.select().from(attestationRecords)).toHaveLength(expected.length);
      const audit = await store.db.select().from(auditEvents);
      // every in-process export of this file is audited (the real-process run above is, under its own file)
      const exports = audit.filter((a) => a.action === 'export.cli' && a.actor === 'cli');
      expect(exports.filter((a) => (a.after as { file?: string } | null)?.file !== out('process.json'))).toHaveLength(6);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses an unknown platform, format or filter in one line, leaving no file', async () => {
    const unknown = await runCliInProcess(['report', 'compliance', '--platform', 'https://nowhere.example', '--format', 'csv', '--out', out('x.csv')], env, services);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^socle: no platform https:\/\/nowhere\.example/);
    const format = await runCliInProcess(['report', 'compliance', '--platform', ISSUER, '--format', 'docx', '--out', out('x.csv')], env, services);
    expect(format.code).toBe(1);
    expect(format.stderr).toMatch(/unknown format docx/);
    const date = await runCliInProcess(['report', 'indicators', '--platform', ISSUER, '--format', 'json', '--from', '31/12/2025', '--out', out('x.json')], env, services);
    expect(date.code).toBe(1);
    expect(date.stderr).toMatch(/invalid filter from: --from expects a date as YYYY-MM-DD, not "31\/12\/2025"/);
    expect(fs.existsSync(out('x.csv')) || fs.existsSync(out('x.json'))).toBe(false);
  }, 60_000);

  it('names the formats as the API does, still takes `csv` for French Excel, and says so in --help', async () => {
    const run = (format: string, file: string) =>
      runCliInProcess(['report', 'compliance', '--platform', ISSUER, '--context', '3', '--format', format, '--out', out(file)], env, services);
    expect((await run('csv-excel', 'excel.csv')).code).toBe(0);
    expect((await run('csv', 'alias.csv')).code).toBe(0);
    expect((await run('csv-rfc4180', 'rfc.csv')).code).toBe(0);
    const excel = fs.readFileSync(out('excel.csv'));
    expect(excel.subarray(0, 3).toString('hex')).toBe('efbbbf');
    expect(fs.readFileSync(out('alias.csv')).equals(excel)).toBe(true);
    expect(fs.readFileSync(out('rfc.csv'), 'utf8')).toMatch(/^learner_sub,learner_name,courses,/);
    const help = await runCliInProcess(['report', 'compliance', '--help'], env, services);
    const text = help.stdout + help.stderr;
    for (const f of ['csv-excel', 'csv-rfc4180', 'xlsx', 'pdf']) expect(text).toContain(f);
    expect(text.replace(/\s+/g, ' ')).toContain('csv is an older name of csv-excel');
  }, 60_000);
});
