import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { formatDate, minutesToHours } from '../domain/format';
import {
  allDomainCodes,
  type ComplianceRow,
  dueDateFr,
  forecastLabelFr,
  type ProgressCallback,
  referentialOf,
  type ReportMeta,
  reportTimeZone,
  statusLabelFr,
} from './rows';

/**
 * `excel-fr`: what French Excel opens by double-click — UTF-8 BOM, `;`, CRLF, decimal comma, French headers
 * and labels, dates as JJ/MM/AAAA in the report's time zone (which Excel reads as dates). `rfc4180`: `,`, CRLF,
 * decimal point, English snake_case headers and status codes, ISO 8601 instants (UTC), for programs.
 * Both neutralise formula injection (a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`),
 * since either may end up opened in a spreadsheet.
 */
export type CsvVariant = 'excel-fr' | 'rfc4180';

export interface CsvOptions {
  variant: CsvVariant;
  onProgress?: ProgressCallback;
  /** Progress is reported every `progressEvery` rows and at the end (default 1000). */
  progressEvery?: number;
}

/**
 * Writes the compliance report as CSV, one line per row in the source's order, and ends `out`. Memory stays
 * bounded: rows are pulled from the source only as fast as `out` accepts them. Hours are rounded to 2 decimals.
 */
export async function writeComplianceCsv(
  meta: ReportMeta,
  rows: AsyncIterable<ComplianceRow>,
  out: Writable,
  options: CsvOptions,
): Promise<number> {
  const fr = options.variant === 'excel-fr';
  const domains = allDomainCodes(meta);
  const hours = fr ? (m: number) => String(minutesToHours(m)).replace('.', ',') : (m: number) => String(minutesToHours(m));
  const timeZone = reportTimeZone(meta);
  const date = fr ? (d: Date) => formatDate(d, { locale: 'fr', style: 'short', timeZone }) : (d: Date) => d.toISOString();
  const header = fr
    ? [
        'Identifiant',
        'Nom',
        'Cours',
        'Référentiel',
        'Version',
        ...domains.flatMap((d) => [`${d.code} validées (h)`, `${d.code} requises (h)`]),
        'Total validé (h)',
        'Total requis (h)',
        'Statut',
        'Date de complétion',
        'Crédits manuels',
        'Statut prévisionnel',
        'Échéance',
      ]
    : [
        'learner_sub',
        'learner_name',
        'courses',
        'referential_id',
        'referential_version',
        ...domains.flatMap((d) => [`${d.code}_validated_hours`, `${d.code}_required_hours`]),
        'total_validated_hours',
        'total_required_hours',
        'status',
        'completed_at',
        'manual_credits',
        'forecast_status',
        'due_date',
      ];
  const every = options.progressEvery ?? 1000;
  let count = 0;

  async function* records(): AsyncGenerator<string[]> {
    yield header;
    for await (const row of rows) {
      referentialOf(meta, row);
      const byCode = new Map(row.domains.map((d) => [d.code, d]));
      const cells: string[] = [
        row.learner.sub,
        row.learner.name ?? '',
        row.courses.map((c) => c.title ?? c.contextId).join(' | '),
        row.referential.id,
        row.referential.version,
      ];
      for (const d of domains) {
        const figures = byCode.get(d.code);
        cells.push(figures ? hours(figures.validatedMinutes) : '', figures ? hours(figures.requiredMinutes) : '');
      }
      cells.push(
        hours(row.validatedMinutes),
        hours(row.requiredMinutes),
        fr ? statusLabelFr[row.status] : row.status,
        row.completedAt ? date(row.completedAt) : '',
        fr ? (row.hasManualCredits ? 'oui' : 'non') : String(row.hasManualCredits),
        row.forecast ? (fr ? forecastLabelFr[row.forecast.status] : row.forecast.status) : '',
        row.forecast ? (fr ? dueDateFr(row.forecast.dueDate) : row.forecast.dueDate) : '',
      );
      yield cells;
      count++;
      if (count % every === 0) options.onProgress?.(count);
    }
  }

  await pipeline(
    Readable.from(records()),
    stringify({
      bom: fr,
      delimiter: fr ? ';' : ',',
      record_delimiter: 'windows',
      escape_formulas: true,
    }),
    out,
  );
  options.onProgress?.(count);
  return count;
}
