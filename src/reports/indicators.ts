import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import ExcelJS from 'exceljs';
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/store';
import { queryRows } from '../db/store';
import { minutesToHours } from '../domain/format';
import { type ComplianceRow, type ProgressCallback, yieldToEventLoop } from './rows';
import type { ComplianceQuery, ComplianceSource } from './source';

/** A count of learners along one dimension, and how many of them are compliant (all required hours validated). */
export interface IndicatorCount {
  key: string;
  label: string;
  learners: number;
  compliant: number;
}

/**
 * The programme indicators of the France 2030 call reporting (AMI « Compétences et métiers d'avenir », annex of
 * the seeds' 004): learners per training (référentiel), per course and per academic year, hours delivered per
 * domain, numbers compliant, badges and attestations issued.
 */
export interface Indicators {
  platform: string;
  generatedAt: string;
  learners: { total: number; compliant: number; inProgress: number; notStarted: number; withManualCredits: number };
  /** Per référentiel version: the training, which also gives the level (niveaux 4-8, aides-soignants…). */
  byReferential: IndicatorCount[];
  byCourse: IndicatorCount[];
  /** Academic year (1 September – 31 August) of completion; learners not compliant yet count in the current one. */
  byAcademicYear: IndicatorCount[];
  hoursByDomain: { code: string; title: string; validatedMinutes: number; validatedHours: number }[];
  badgesIssued: number;
  attestationsIssued: number;
}

export function academicYear(d: Date): string {
  const y = d.getUTCFullYear();
  const start = d.getUTCMonth() >= 8 ? y : y - 1;
  return `${start}-${start + 1}`;
}

function bump(map: Map<string, IndicatorCount>, key: string, label: string, compliant: boolean) {
  let c = map.get(key);
  if (!c) map.set(key, (c = { key, label, learners: 0, compliant: 0 }));
  c.learners++;
  if (compliant) c.compliant++;
}

/** Counts the indicators over the rows of a query (streamed, one pass) and the credentials issued on the platform. */
export async function computeIndicators(
  ex: Executor,
  source: ComplianceSource,
  query: ComplianceQuery,
  options: { platform: string; now?: Date; onProgress?: ProgressCallback } = { platform: '' },
): Promise<Indicators> {
  const now = options.now ?? new Date();
  const refs = new Map((await source.referentials(ex, query)).map((r) => [`${r.id}@${r.version}`, r]));
  const learners = { total: 0, compliant: 0, inProgress: 0, notStarted: 0, withManualCredits: 0 };
  const byReferential = new Map<string, IndicatorCount>();
  const byCourse = new Map<string, IndicatorCount>();
  const byYear = new Map<string, IndicatorCount>();
  const hours = new Map<string, { code: string; title: string; validatedMinutes: number; validatedHours: number }>();
  const count = (row: ComplianceRow) => {
    const ok = row.status === 'complete';
    learners.total++;
    if (ok) learners.compliant++;
    else if (row.status === 'in_progress') learners.inProgress++;
    else learners.notStarted++;
    if (row.hasManualCredits) learners.withManualCredits++;
    const key = `${row.referential.id}@${row.referential.version}`;
    bump(byReferential, key, refs.get(key)?.title ?? key, ok);
    for (const c of row.courses) bump(byCourse, c.contextId, c.title ?? c.contextId, ok);
    const year = academicYear(ok && row.completedAt ? row.completedAt : now);
    bump(byYear, year, year, ok);
    for (const d of row.domains) {
      let h = hours.get(d.code);
      if (!h) hours.set(d.code, (h = { code: d.code, title: d.title, validatedMinutes: 0, validatedHours: 0 }));
      h.validatedMinutes += d.validatedMinutes;
    }
  };
  for await (const row of source.rows(ex, query)) {
    count(row);
    if (learners.total % 1000 === 0) {
      options.onProgress?.(learners.total);
      await yieldToEventLoop();
    }
  }
  for (const h of hours.values()) h.validatedHours = minutesToHours(h.validatedMinutes);
  const window = windowSql(query);
  const [badges] = await queryRows<{ n: number }>(
    ex,
    sql`SELECT count(*)::int AS n FROM badge_credentials b JOIN users u ON u.id = b.user_id
        WHERE u.platform_id = ${query.platformId} AND b.status = 'active' ${window('b.issued_at')}`,
  );
  const [attestations] = await queryRows<{ n: number }>(
    ex,
    sql`SELECT count(DISTINCT (learner_sub, referential_id, referential_version))::int AS n FROM attestation_records a
        WHERE a.platform_id = ${query.platformId} ${window('a.issued_at')}`,
  );
  const sorted = (m: Map<string, IndicatorCount>) => [...m.values()].sort((a, b) => a.key.localeCompare(b.key));
  return {
    platform: options.platform,
    generatedAt: now.toISOString(),
    learners,
    byReferential: sorted(byReferential),
    byCourse: sorted(byCourse),
    byAcademicYear: sorted(byYear),
    hoursByDomain: [...hours.values()],
    badgesIssued: badges?.n ?? 0,
    attestationsIssued: attestations?.n ?? 0,
  };
}

function windowSql(query: ComplianceQuery) {
  return (column: string) => {
    const col = sql.raw(column);
    const parts = [];
    if (query.filters.from) parts.push(sql` AND ${col} >= ${query.filters.from}::date`);
    if (query.filters.to) parts.push(sql` AND ${col} < ${query.filters.to}::date + 1`);
    return sql.join(parts, sql``);
  };
}

/** The indicators as a flat table: indicator, key, label, learners, compliant, hours. */
export function indicatorRows(ind: Indicators): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const t = ind.learners;
  rows.push(['apprenants', 'total', 'Apprenants', t.total, t.compliant, '']);
  rows.push(['apprenants', 'en_cours', 'En cours', t.inProgress, 0, '']);
  rows.push(['apprenants', 'non_commence', 'Non commencé', t.notStarted, 0, '']);
  rows.push(['apprenants', 'credits_manuels', 'Avec crédits manuels', t.withManualCredits, '', '']);
  for (const c of ind.byReferential) rows.push(['formation', c.key, c.label, c.learners, c.compliant, '']);
  for (const c of ind.byCourse) rows.push(['cours', c.key, c.label, c.learners, c.compliant, '']);
  for (const c of ind.byAcademicYear) rows.push(['annee_universitaire', c.key, c.label, c.learners, c.compliant, '']);
  for (const h of ind.hoursByDomain) rows.push(['heures_domaine', h.code, h.title, '', '', h.validatedHours]);
  rows.push(['badges', 'emis', 'Open Badges émis', ind.badgesIssued, '', '']);
  rows.push(['attestations', 'emises', 'Attestations émises', ind.attestationsIssued, '', '']);
  return rows;
}

export const INDICATOR_HEADER = ['Indicateur', 'Clé', 'Libellé', 'Apprenants', 'Conformes', 'Heures'];

/** CSV of the indicators: French Excel (BOM, `;`, decimal comma) or RFC 4180. */
export async function writeIndicatorsCsv(ind: Indicators, out: Writable, variant: 'excel-fr' | 'rfc4180'): Promise<void> {
  const excel = variant === 'excel-fr';
  const csv = stringify({
    bom: excel,
    delimiter: excel ? ';' : ',',
    record_delimiter: excel ? 'windows' : '\r\n',
    escape_formulas: true,
    cast: { number: (n) => (excel ? String(n).replace('.', ',') : String(n)) },
  });
  const done = new Promise<void>((resolve, reject) => {
    csv.on('error', reject);
    out.on('error', reject);
    out.on('finish', () => resolve());
  });
  csv.pipe(out);
  csv.write(INDICATOR_HEADER);
  for (const row of indicatorRows(ind)) csv.write(row);
  csv.end();
  await done;
}

/** XLSX of the indicators: one sheet, real numbers, frozen header, an autofilter. */
export async function writeIndicatorsXlsx(ind: Indicators, out: Writable): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'Socle';
  const ws = wb.addWorksheet('Indicateurs', { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = [
    { header: INDICATOR_HEADER[0], width: 22 },
    { header: INDICATOR_HEADER[1], width: 28 },
    { header: INDICATOR_HEADER[2], width: 60 },
    { header: INDICATOR_HEADER[3], width: 12 },
    { header: INDICATOR_HEADER[4], width: 12 },
    { header: INDICATOR_HEADER[5], width: 12, style: { numFmt: '0.00' } },
  ];
  ws.getRow(1).font = { bold: true };
  const rows = indicatorRows(ind);
  for (const row of rows) ws.addRow(row.map((v) => (v === '' ? null : v)));
  ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: rows.length + 1, column: INDICATOR_HEADER.length } };
  const buffer = Buffer.from(await wb.xlsx.writeBuffer());
  await new Promise<void>((resolve, reject) => {
    out.on('error', reject);
    out.end(buffer, () => resolve());
  });
}
