import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import type { ComplianceRow, ReportMeta } from '../../src/reports/rows';
import { writeComplianceXlsx } from '../../src/reports/xlsx';
import { writeIndicatorsXlsx, type Indicators } from '../../src/reports/indicators';
import { fromArray, generatedRows, socle12, socle28, testMeta, must } from '../support/compliance-rows';

async function xlsxOf(rows: ComplianceRow[], onProgress?: (n: number) => void, meta: ReportMeta = testMeta()): Promise<ExcelJS.Workbook> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeComplianceXlsx(meta, fromArray(rows), out, { onProgress, progressEvery: 100 });
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(Buffer.concat(chunks) as unknown as ArrayBuffer);
  return workbook;
}

describe('compliance XLSX', () => {
  const rows = generatedRows(300);
  rows[5] = { ...must(rows[5]), learner: { sub: '66', name: '=HYPERLINK("http://evil.example/","Cliquez")' } };
  let workbook: ExcelJS.Workbook;
  const progress: number[] = [];
  beforeAll(async () => {
    workbook = await xlsxOf(rows, (n) => progress.push(n));
  });

  it('has one sheet per référentiel version, then a summary, and reports progress', () => {
    expect(workbook.worksheets.map((s) => s.name)).toEqual([`${socle28.id} ${socle28.version}`, `${socle12.id} ${socle12.version}`, 'Synthèse']);
    expect(progress).toEqual([100, 200, 300, 300]);
  });

  it('writes real numbers with formats, equal to the input rows, under a frozen header', () => {
    for (const referential of [socle28, socle12]) {
      const sheet = must(workbook.worksheets.find((s) => s.name.startsWith(referential.id.slice(0, 20))));
      expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      const header = (sheet.getRow(1).values as unknown[]).slice(1);
      expect(header.slice(0, 5)).toEqual(['Identifiant', 'Nom', 'Cours', 'D1 validées (h)', 'D1 requises (h)']);
      const col = (name: string) => header.indexOf(name) + 1;
      const mine = rows.filter((r) => r.referential.id === referential.id);
      expect(sheet.actualRowCount).toBe(mine.length + 1);
      mine.forEach((r, i) => {
        const line = sheet.getRow(i + 2);
        expect(line.getCell(1).value).toBe(r.learner.sub);
        for (const d of r.domains) {
          const cell = line.getCell(col(`${d.code} validées (h)`));
          expect(cell.type).toBe(ExcelJS.ValueType.Number);
          expect(cell.value).toBeCloseTo(d.validatedMinutes / 60, 10);
          expect(cell.numFmt).toBe('0.00');
          expect(line.getCell(col(`${d.code} requises (h)`)).value).toBeCloseTo(d.requiredMinutes / 60, 10);
        }
        expect(line.getCell(col('Total validé (h)')).value).toBeCloseTo(r.validatedMinutes / 60, 10);
        expect(line.getCell(col('Total requis (h)')).value).toBeCloseTo(r.requiredMinutes / 60, 10);
        const completed = line.getCell(col('Date de complétion'));
        if (r.completedAt) {
          expect(completed.type).toBe(ExcelJS.ValueType.Date);
          // Excel's dates have no zone: the cell holds Paris time (the default), one hour after UTC in winter
          expect(r.completedAt.getUTCMonth()).toBeLessThan(3);
          expect((completed.value as Date).getTime()).toBe(r.completedAt.getTime() + 3600_000);
        } else expect(completed.value).toBeNull();
        expect(line.getCell(col('Crédits manuels')).value).toBe(r.hasManualCredits ? 'oui' : 'non');
      });
    }
  });

  it('gives each learner in a programme the forecast in French and the due date as an Excel date', () => {
    const sheet = must(workbook.getWorksheet(`${socle28.id} ${socle28.version}`));
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    const status = header.indexOf('Statut prévisionnel') + 1;
    const due = header.indexOf('Échéance') + 1;
    const labels = { on_track: 'en bonne voie', behind: 'en retard', at_risk: 'à risque', done: 'terminé' };
    const mine = rows.filter((r) => r.referential.id === socle28.id);
    const seen = new Set<unknown>();
    mine.forEach((r, i) => {
      const line = sheet.getRow(i + 2);
      expect(line.getCell(1).value).toBe(r.learner.sub);
      const cell = line.getCell(due);
      if (!r.forecast) {
        expect([null, undefined, '']).toContain(line.getCell(status).value);
        expect([null, undefined, '']).toContain(cell.value);
        return;
      }
      expect(line.getCell(status).value).toBe(labels[r.forecast.status]);
      seen.add(line.getCell(status).value);
      expect(cell.type).toBe(ExcelJS.ValueType.Date);
      expect(cell.numFmt).toBe('dd/mm/yyyy');
      expect((cell.value as Date).toISOString()).toBe(`${r.forecast.dueDate}T00:00:00.000Z`);
    });
    expect(seen.size).toBe(4);
  });

  it('keeps a formula-looking name as plain text, never a formula', () => {
    const sheet = must(workbook.worksheets[0]);
    const line = sheet.getRow(7);
    expect(line.getCell(1).value).toBe('66');
    const name = line.getCell(2);
    expect(name.type).toBe(ExcelJS.ValueType.String);
    expect(name.value).toBe('=HYPERLINK("http://evil.example/","Cliquez")');
    expect(name.formula).toBeUndefined();
  });

  it('summarises counts per status and per domain', () => {
    const summary = must(workbook.getWorksheet('Synthèse'));
    const lines: unknown[][] = [];
    summary.eachRow((r) => lines.push((r.values as unknown[]).slice(1)));
    const mine = rows.filter((r) => r.referential.id === socle28.id);
    const count = (s: string) => mine.filter((r) => r.status === s).length;
    const statusLine = must(lines.find((l) => l[0] === socle28.id && typeof l[2] === 'number'));
    expect(statusLine.slice(0, 6)).toEqual([socle28.id, socle28.version, mine.length, count('complete'), count('in_progress'), count('not_started')]);
    expect(statusLine[6]).toBeCloseTo(count('complete') / mine.length, 10);
    const d2 = must(lines.find((l) => l[0] === socle28.id && l[2] === 'D2'));
    const validatedD2 = mine.filter((r) => must(r.domains.find((d) => d.code === 'D2')).validatedMinutes >= 300).length;
    expect(d2[4]).toBe(validatedD2);
    expect(d2[6]).toBeCloseTo(mine.reduce((s, r) => s + must(r.domains.find((d) => d.code === 'D2')).validatedMinutes, 0) / 60, 8);
    expect(lines.some((l) => l[0] === 'Établissement' && l[1] === testMeta().institution)).toBe(true);
    expect(lines.some((l) => l[0] === 'Période' && l[1] === '01/09/2025 – 30/06/2026')).toBe(true);
  });

  it('puts an autofilter over the whole table of every référentiel sheet', () => {
    for (const referential of [socle28, socle12]) {
      const sheet = must(workbook.getWorksheet(`${referential.id} ${referential.version}`));
      const learners = rows.filter((r) => r.referential.id === referential.id).length;
      const lastColumn = sheet.getRow(1).cellCount;
      expect(sheet.getRow(1).getCell(lastColumn).value).toBe('Échéance');
      expect(sheet.autoFilter).toBe(`A1:${sheet.getColumn(lastColumn).letter}${learners + 1}`);
    }
  });
});

describe('compliance XLSX: sheet names and time zone', () => {
  const long = (id: string, version: string) => ({ ...socle28, id, version });
  const niveaux = long('socle-sante-niveaux-4-8-infirmiers', 'V1.1.2022');
  const niveaux2 = long('socle-sante-niveaux-4-8-infirmiers-bis', 'V1.1.2022');
  const niveauxNext = long('socle-sante-niveaux-4-8-infirmiers', 'V2.0.2026-rc1');
  const rowOf = (referential: typeof socle28, sub: string, completedAt: Date | null): ComplianceRow => ({
    ...must(generatedRows(1)[0]),
    learner: { sub, name: `Apprenant ${sub}` },
    referential: { id: referential.id, version: referential.version },
    status: completedAt ? 'complete' : 'in_progress',
    completedAt,
  });

  it('keeps each version whole within 31 characters, shortening the référentiel name, and tells alike names apart', async () => {
    const meta = testMeta({ referentials: [niveaux, niveaux2, niveauxNext] });
    const wb = await xlsxOf([rowOf(niveaux, '1', null), rowOf(niveaux2, '2', null), rowOf(niveauxNext, '3', null)], undefined, meta);
    const names = wb.worksheets.map((s) => s.name);
    expect(names).toEqual(['socle-sante-niveaux-… V1.1.2022', 'socle-sante-niveau…~2 V1.1.2022', 'socle-sante-nive… V2.0.2026-rc1', 'Synthèse']);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(31);
    for (const [i, r] of [niveaux, niveaux2, niveauxNext].entries()) {
      expect(must(names[i]).endsWith(` ${r.version}`)).toBe(true);
      expect(must(wb.worksheets[i]).getRow(2).getCell(1).value).toBe(String(i + 1));
    }
  });

  it('writes dates as Excel dates in the report\'s time zone (La Réunion: UTC+4), not in UTC', async () => {
    const meta = testMeta({ timeZone: 'Indian/Reunion', referentials: [niveaux], generatedAt: new Date('2026-10-22T20:15:00Z') });
    const wb = await xlsxOf([rowOf(niveaux, '1', new Date('2026-10-22T21:30:00Z'))], undefined, meta);
    const sheet = must(wb.worksheets[0]);
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    const completed = sheet.getRow(2).getCell(header.indexOf('Date de complétion') + 1);
    expect(completed.type).toBe(ExcelJS.ValueType.Date);
    expect(completed.numFmt).toBe('dd/mm/yyyy hh:mm');
    expect((completed.value as Date).toISOString()).toBe('2026-10-23T01:30:00.000Z');
    const lines: unknown[][] = [];
    must(wb.getWorksheet('Synthèse')).eachRow((r) => lines.push((r.values as unknown[]).slice(1)));
    expect((must(lines.find((l) => l[0] === 'Généré le'))[1] as Date).toISOString()).toBe('2026-10-23T00:15:00.000Z');
    expect(must(lines.find((l) => l[0] === 'Fuseau horaire des dates'))[1]).toBe('Indian/Reunion');
  });
});

describe('indicators XLSX', () => {
  it('has an autofilter over its table', async () => {
    const ind: Indicators = {
      platform: 'https://moodle.univ-test.fr',
      generatedAt: '2026-03-14T10:20:00.000Z',
      learners: { total: 3, compliant: 1, inProgress: 1, notStarted: 1, withManualCredits: 0 },
      byReferential: [{ key: `${socle28.id}@${socle28.version}`, label: socle28.title, learners: 3, compliant: 1 }],
      byCourse: [{ key: '2', label: 'Cours 2', learners: 3, compliant: 1 }],
      byAcademicYear: [{ key: '2025-2026', label: '2025-2026', learners: 3, compliant: 1 }],
      hoursByDomain: [{ code: 'D1', title: 'Données de santé', validatedMinutes: 90, validatedHours: 1.5 }],
      badgesIssued: 0,
      attestationsIssued: 0,
    };
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeIndicatorsXlsx(ind, out);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.concat(chunks) as unknown as ArrayBuffer);
    const sheet = must(wb.getWorksheet('Indicateurs'));
    expect(sheet.autoFilter).toBe(`A1:F${sheet.actualRowCount}`);
    expect(sheet.actualRowCount).toBe(1 + 4 + 1 + 1 + 1 + 1 + 2);
  });
});
