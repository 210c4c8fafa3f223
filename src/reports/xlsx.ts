import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { wallClock } from '../domain/format';
import {
  type ComplianceRow,
  type ComplianceStatus,
  forecastLabelFr,
  type ProgressCallback,
  referentialKey,
  referentialOf,
  type ReportMeta,
  type ReportReferential,
  reportTimeZone,
  statusLabelFr,
  yieldToEventLoop,
} from './rows';

export interface XlsxOptions {
  onProgress?: ProgressCallback;
  progressEvery?: number;
}

const HOURS = '0.00';
const PERCENT = '0.0%';
const DATE = 'dd/mm/yyyy hh:mm';
const DAY = 'dd/mm/yyyy';

/** A calendar date YYYY-MM-DD as the Date whose UTC fields hold it (what exceljs writes as an Excel date). */
const excelDay = (date: string) => new Date(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))));

interface SheetState {
  referential: ReportReferential;
  sheet: ExcelJS.Worksheet;
  columns: number;
  learners: number;
  byStatus: Record<ComplianceStatus, number>;
  /** Per domain code: learners who validated at least the required minutes, and the minutes validated in all. */
  domains: Map<string, { validatedLearners: number; validatedMinutes: number }>;
}

/** Excel's longest sheet name. */
export const SHEET_NAME_MAX = 31;

/**
 * A valid, unique Excel sheet name (≤ 31 characters, none of `[]:*?/\`) made of `name` and `version`: the version is
 * kept whole, the name is shortened (ending in "…") to leave it room, and a "~2", "~3"… before the version tells
 * apart names that shorten alike.
 */
export function sheetName(name: string, taken: Set<string>, version?: string): string {
  const clean = (s: string) => s.replace(/[[\]:*?/\\]/g, '-').trim();
  const tail = version ? ` ${clean(version)}`.slice(0, SHEET_NAME_MAX - 2) : '';
  const head = clean(name) || 'Feuille';
  const fit = (suffix: string) => {
    const room = SHEET_NAME_MAX - tail.length - suffix.length;
    const part = head.length <= room ? head : `${head.slice(0, room - 1).trimEnd()}…`;
    return `${part}${suffix}${tail}`;
  };
  let chosen = fit('');
  for (let i = 2; taken.has(chosen.toLowerCase()); i++) chosen = fit(`~${i}`);
  taken.add(chosen.toLowerCase());
  return chosen;
}

/**
 * Writes the compliance report as XLSX with exceljs' streaming writer and ends `out`: one sheet per référentiel
 * version (created when its first row arrives, in the source's order; named after the référentiel and its whole
 * version), hours as real numbers (minutes / 60) with a number format, dates as Excel dates in the report's time
 * zone, a frozen header row and an autofilter, then a "Synthèse" sheet with the counts per status and per domain
 * (full domain titles). Cells are typed values, never formulas, so a name such as `=HYPERLINK(…)` stays text.
 *
 * Memory: the sheet being written streams out as rows are committed; when rows of several référentiels
 * interleave, the sheets after the first are buffered (compressed XML) until the end, since a ZIP is sequential.
 */
export async function writeComplianceXlsx(
  meta: ReportMeta,
  rows: AsyncIterable<ComplianceRow>,
  out: Writable,
  options: XlsxOptions = {},
): Promise<number> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  workbook.creator = meta.institution;
  workbook.created = meta.generatedAt;
  const timeZone = reportTimeZone(meta);
  const taken = new Set<string>();
  const sheets = new Map<string, SheetState>();
  const every = options.progressEvery ?? 1000;
  let count = 0;

  const open = (referential: ReportReferential): SheetState => {
    const key = referentialKey(referential);
    let state = sheets.get(key);
    if (state) return state;
    const sheet = workbook.addWorksheet(sheetName(referential.id, taken, referential.version), {
      views: [{ state: 'frozen', ySplit: 1 }],
    });
    const columns: Partial<ExcelJS.Column>[] = [
      { header: 'Identifiant', key: 'sub', width: 14 },
      { header: 'Nom', key: 'name', width: 28 },
      { header: 'Cours', key: 'courses', width: 30 },
      ...referential.domains.flatMap((d) => [
        { header: `${d.code} validées (h)`, key: `v:${d.code}`, width: 12, style: { numFmt: HOURS } },
        { header: `${d.code} requises (h)`, key: `r:${d.code}`, width: 12, style: { numFmt: HOURS } },
      ]),
      { header: 'Total validé (h)', key: 'validated', width: 14, style: { numFmt: HOURS } },
      { header: 'Total requis (h)', key: 'required', width: 14, style: { numFmt: HOURS } },
      { header: 'Taux', key: 'rate', width: 8, style: { numFmt: PERCENT } },
      { header: 'Statut', key: 'status', width: 14 },
      { header: 'Date de complétion', key: 'completedAt', width: 18, style: { numFmt: DATE } },
      { header: 'Crédits manuels', key: 'manual', width: 10 },
      { header: 'Statut prévisionnel', key: 'forecast', width: 16 },
      { header: 'Échéance', key: 'dueDate', width: 12, style: { numFmt: DAY } },
    ];
    sheet.columns = columns;
    sheet.getRow(1).font = { bold: true };
    sheet.getRow(1).commit();
    state = {
      referential,
      sheet,
      columns: columns.length,
      learners: 0,
      byStatus: { not_started: 0, in_progress: 0, complete: 0 },
      domains: new Map(referential.domains.map((d) => [d.code, { validatedLearners: 0, validatedMinutes: 0 }])),
    };
    sheets.set(key, state);
    return state;
  };

  for await (const row of rows) {
    const state = open(referentialOf(meta, row));
    const values: Record<string, unknown> = {
      sub: row.learner.sub,
      name: row.learner.name ?? '',
      courses: row.courses.map((c) => c.title ?? c.contextId).join(' | '),
      validated: row.validatedMinutes / 60,
      required: row.requiredMinutes / 60,
      rate: row.requiredMinutes > 0 ? Math.min(1, row.validatedMinutes / row.requiredMinutes) : null,
      status: statusLabelFr[row.status],
      completedAt: row.completedAt ? wallClock(row.completedAt, timeZone) : null,
      manual: row.hasManualCredits ? 'oui' : 'non',
      forecast: row.forecast ? forecastLabelFr[row.forecast.status] : null,
      dueDate: row.forecast ? excelDay(row.forecast.dueDate) : null,
    };
    for (const d of row.domains) {
      values[`v:${d.code}`] = d.validatedMinutes / 60;
      values[`r:${d.code}`] = d.requiredMinutes / 60;
      const tally = state.domains.get(d.code);
      if (tally) {
        tally.validatedMinutes += d.validatedMinutes;
        if (d.validatedMinutes >= d.requiredMinutes) tally.validatedLearners++;
      }
    }
    state.sheet.addRow(values).commit();
    state.learners++;
    state.byStatus[row.status]++;
    count++;
    if (count % 200 === 0) await yieldToEventLoop();
    if (count % every === 0) options.onProgress?.(count);
  }
  for (const referential of meta.referentials) open(referential);
  // the streaming writer writes a sheet's autofilter when it commits it, once its rows are known
  for (const s of sheets.values()) s.sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: s.learners + 1, column: s.columns } };

  writeSummary(workbook.addWorksheet(sheetName('Synthèse', taken)), meta, [...sheets.values()]);
  await workbook.commit();
  options.onProgress?.(count);
  return count;
}

function writeSummary(sheet: ExcelJS.Worksheet, meta: ReportMeta, states: SheetState[]): void {
  const timeZone = reportTimeZone(meta);
  sheet.columns = [{ width: 28 }, { width: 14 }, { width: 14 }, { width: 30 }, { width: 14 }, { width: 14 }, { width: 16 }];
  const add = (values: unknown[], format?: Record<number, string>, bold = false) => {
    const r = sheet.addRow(values);
    if (format) for (const [col, numFmt] of Object.entries(format)) r.getCell(Number(col)).numFmt = numFmt;
    if (bold) r.font = { bold: true };
    r.commit();
  };
  add(['Rapport de conformité horaire — formation socle au numérique en santé'], undefined, true);
  add(['Établissement', meta.institution]);
  add(['Plateforme', meta.platform.name ?? meta.platform.issuer]);
  add(['Généré le', wallClock(meta.generatedAt, timeZone)], { 2: DATE });
  add(['Fuseau horaire des dates', timeZone]);
  for (const f of meta.filters) add([f.label, f.value]);
  add([]);
  add(['Référentiel', 'Version', 'Apprenants', 'Complets', 'En cours', 'Non commencés', 'Taux de conformité'], undefined, true);
  for (const s of states) {
    add(
      [
        s.referential.id,
        s.referential.version,
        s.learners,
        s.byStatus.complete,
        s.byStatus.in_progress,
        s.byStatus.not_started,
        s.learners ? s.byStatus.complete / s.learners : null,
      ],
      { 7: PERCENT },
    );
  }
  add([]);
  add(['Référentiel', 'Version', 'Domaine', 'Intitulé', 'Apprenants ayant validé', 'Taux', 'Heures validées (h)'], undefined, true);
  for (const s of states) {
    for (const d of s.referential.domains) {
      const tally = s.domains.get(d.code) ?? { validatedLearners: 0, validatedMinutes: 0 };
      add(
        [
          s.referential.id,
          s.referential.version,
          d.code,
          d.title,
          tally.validatedLearners,
          s.learners ? tally.validatedLearners / s.learners : null,
          tally.validatedMinutes / 60,
        ],
        { 6: PERCENT, 7: HOURS },
      );
    }
  }
}
