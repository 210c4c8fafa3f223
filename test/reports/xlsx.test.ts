import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import type { ComplianceRow } from '../../src/reports/rows';
import { writeComplianceXlsx } from '../../src/reports/xlsx';
import { fromArray, generatedRows, socle12, socle28, testMeta, must } from '../support/compliance-rows';

async function xlsxOf(rows: ComplianceRow[], onProgress?: (n: number) => void): Promise<ExcelJS.Workbook> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeComplianceXlsx(testMeta(), fromArray(rows), out, { onProgress, progressEvery: 100 });
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
    expect(workbook.worksheets.map((s) => s.name)).toEqual([
      `${socle28.id} ${socle28.version}`.slice(0, 31),
      `${socle12.id} ${socle12.version}`,
      'Synthèse',
    ]);
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
          expect((completed.value as Date).getTime()).toBe(r.completedAt.getTime());
        } else expect(completed.value).toBeNull();
        expect(line.getCell(col('Crédits manuels')).value).toBe(r.hasManualCredits ? 'oui' : 'non');
      });
    }
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
});
