import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { writeComplianceCsv } from './csv';
import { invalid } from '../domain/errors';
import { frDate, frDateTime, frHours, pdfDefaultStyle, writePdf } from './pdf';
import {
  type ComplianceRow,
  type ProgressCallback,
  referentialKey,
  referentialOf,
  type ReportMeta,
  statusLabelFr,
} from './rows';

export interface CompliancePdfOptions {
  onProgress?: ProgressCallback;
  /**
   * pdfmake lays the whole document out in memory, so the printable report is capped (default 10,000 rows);
   * larger cohorts are exported as CSV or XLSX, or narrowed with filters.
   */
  maxRows?: number;
}

/**
 * The SHA-256 (hex) of the data rows: the digest of the same rows exported as RFC 4180 CSV
 * (`writeComplianceCsv(meta, rows, out, { variant: 'rfc4180' })`, header line included). The PDF prints it, so
 * a printed report can be checked against a CSV export of the same filters.
 */
export async function complianceDigest(meta: ReportMeta, rows: AsyncIterable<ComplianceRow>): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
  await writeComplianceCsv(meta, rows, sink, { variant: 'rfc4180' });
  return hash.digest('hex');
}

async function* collect(
  rows: AsyncIterable<ComplianceRow>,
  into: ComplianceRow[],
  max: number,
  onProgress?: ProgressCallback,
): AsyncGenerator<ComplianceRow> {
  for await (const row of rows) {
    if (into.length >= max) {
      throw invalid(`The PDF report is limited to ${max} learners: narrow the filters or export CSV/XLSX`);
    }
    into.push(row);
    if (into.length % 1000 === 0) onProgress?.(into.length);
    yield row;
  }
}

/**
 * Writes the printable compliance report (A4 landscape) and ends `out`: institution header, filters, one table
 * per référentiel version with its header row repeated on every page, "page X / Y", the generation time and
 * the digest of the data rows in every footer. Rows keep the source's order (non-compliant learners first).
 */
export async function writeCompliancePdf(
  meta: ReportMeta,
  rows: AsyncIterable<ComplianceRow>,
  out: Writable,
  options: CompliancePdfOptions = {},
): Promise<number> {
  const all: ComplianceRow[] = [];
  const digest = await complianceDigest(meta, collect(rows, all, options.maxRows ?? 10_000, options.onProgress));
  const groups = new Map<string, ComplianceRow[]>();
  for (const row of all) {
    const key = referentialKey(referentialOf(meta, row));
    const list = groups.get(key) ?? [];
    list.push(row);
    groups.set(key, list);
  }

  const content: unknown[] = [
    { text: 'Rapport de conformité horaire', style: 'title' },
    { text: 'Formation socle au numérique en santé', margin: [0, 0, 0, 6] },
    {
      table: {
        widths: ['auto', '*'],
        body: [
          ['Établissement', meta.institution],
          ['Plateforme', meta.platform.name ? `${meta.platform.name} (${meta.platform.issuer})` : meta.platform.issuer],
          ['Généré le', frDateTime(meta.generatedAt)],
          ['Apprenants', String(all.length)],
          ...meta.filters.map((f) => [f.label, f.value]),
        ].map(([label, value]) => [{ text: label, bold: true }, value]),
      },
      layout: 'noBorders',
      margin: [0, 0, 0, 10],
    },
  ];

  for (const referential of meta.referentials) {
    const list = groups.get(referentialKey(referential)) ?? [];
    content.push({
      text: `${referential.title} — ${referential.id} version ${referential.version} (${list.length} apprenants)`,
      style: 'heading',
    });
    if (!list.length) continue;
    const header = [
      'Nom',
      'Identifiant',
      ...referential.domains.map((d) => `${d.code} (h)`),
      'Total (h)',
      'Statut',
      'Complété le',
      'Crédits manuels',
    ].map((text) => ({ text, style: 'th' }));
    const body: unknown[][] = [header];
    for (const row of list) {
      const byCode = new Map(row.domains.map((d) => [d.code, d]));
      body.push([
        row.learner.name ?? '—',
        row.learner.sub,
        ...referential.domains.map((d) => {
          const f = byCode.get(d.code);
          return { text: f ? `${frHours(f.validatedMinutes)} / ${frHours(f.requiredMinutes)}` : '—', alignment: 'right' };
        }),
        { text: `${frHours(row.validatedMinutes)} / ${frHours(row.requiredMinutes)}`, alignment: 'right', bold: true },
        statusLabelFr[row.status],
        row.completedAt ? frDate(row.completedAt) : '',
        row.hasManualCredits ? 'oui' : '',
      ]);
    }
    content.push({
      table: {
        headerRows: 1,
        dontBreakRows: true,
        widths: ['*', 'auto', ...referential.domains.map(() => 'auto'), 'auto', 'auto', 'auto', 'auto'],
        body,
      },
      layout: 'lightHorizontalLines',
      margin: [0, 0, 0, 12],
    });
  }

  await writePdf(
    {
      pageSize: 'A4',
      pageOrientation: 'landscape',
      pageMargins: [30, 40, 30, 44],
      info: { title: 'Rapport de conformité horaire', creator: 'Socle', subject: meta.institution },
      defaultStyle: pdfDefaultStyle,
      styles: {
        title: { fontSize: 15, bold: true },
        heading: { fontSize: 11, bold: true, margin: [0, 6, 0, 4] },
        th: { bold: true, fillColor: '#eeeeee' },
      },
      header: () => ({
        columns: [
          { text: meta.institution, bold: true },
          { text: 'Rapport de conformité horaire', alignment: 'right' },
        ],
        margin: [30, 16, 30, 0],
        fontSize: 8,
      }),
      footer: (currentPage: number, pageCount: number) => ({
        columns: [
          { text: `Généré le ${frDateTime(meta.generatedAt)} — SHA-256 des données : ${digest}`, width: '*' },
          { text: `page ${currentPage} / ${pageCount}`, alignment: 'right', width: 'auto' },
        ],
        margin: [30, 12, 30, 0],
        fontSize: 7,
      }),
      content,
    },
    out,
  );
  options.onProgress?.(all.length);
  return all.length;
}
