import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type MappableReferential, MINUTES_STEP, resolveCompetency } from '../domain/mapping';

/** The mapping file: one row per (activity, competency) pair, `;`-separated, opened as is by French Excel. */
export const MAPPING_CSV_HEADER = ['activity_id', 'activity_name', 'competency_code', 'hours'] as const;

export interface MappingCsvRow {
  line: number;
  activityIri: string;
  activityName: string;
  competencyKey: string;
  minutes: number;
}

export interface CsvProblem {
  line: number;
  column?: (typeof MAPPING_CSV_HEADER)[number];
  message: string;
}

export type MappingCsvResult = { ok: true; rows: MappingCsvRow[] } | { ok: false; problems: CsvProblem[] };

/** `1,5` or `1.5` hours → 90 minutes; null when not a number of hours. */
export function parseHours(text: string): number | null {
  const normalized = text.trim().replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(normalized)) return null;
  return Math.round(Number(normalized) * 60 * 1000) / 1000;
}

export function formatHours(minutes: number): string {
  return String(minutes / 60).replace('.', ',');
}

/**
 * Reads a mapping CSV against the course's référentiel. The whole file is refused with every problem and its
 * line number if any row is wrong; nothing partial is returned.
 */
export function parseMappingCsv(text: string, referential: MappableReferential): MappingCsvResult {
  let records: string[][];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { delimiter: ';', relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (error) {
    const e = error as Error & { lines?: number };
    return { ok: false, problems: [{ line: e.lines ?? 1, message: `not a valid CSV file: ${e.message}` }] };
  }
  const [header, ...body] = records;
  if (!header || header.join(';').toLowerCase() !== MAPPING_CSV_HEADER.join(';')) {
    return { ok: false, problems: [{ line: 1, message: `the first line must be ${MAPPING_CSV_HEADER.join(';')}` }] };
  }
  const problems: CsvProblem[] = [];
  const rows: MappingCsvRow[] = [];
  body.forEach((record, i) => {
    const line = i + 2;
    if (record.length !== MAPPING_CSV_HEADER.length) {
      problems.push({ line, message: `expected ${MAPPING_CSV_HEADER.length} columns separated by ";", found ${record.length}` });
      return;
    }
    const [activityIri = '', activityName = '', code = '', hours = ''] = record;
    if (!URL.canParse(activityIri)) problems.push({ line, column: 'activity_id', message: `expected an activity IRI, found "${activityIri}"` });
    const competency = resolveCompetency(referential, code);
    if ('error' in competency) problems.push({ line, column: 'competency_code', message: competency.error });
    const minutes = parseHours(hours);
    if (minutes === null || minutes <= 0) {
      problems.push({ line, column: 'hours', message: `expected a number of hours greater than 0 (1.5 or 1,5), found "${hours}"` });
    } else if (!Number.isInteger(minutes) || minutes % MINUTES_STEP !== 0) {
      problems.push({ line, column: 'hours', message: `hours must be a multiple of a quarter hour (0,25), found "${hours}"` });
    }
    if ('key' in competency && minutes !== null) rows.push({ line, activityIri, activityName, competencyKey: competency.key, minutes });
  });
  return problems.length ? { ok: false, problems } : { ok: true, rows };
}

/** Writes a mapping as CSV (UTF-8 BOM, `;`, decimal comma, formulas neutralised). Codes are printed unless ambiguous. */
export function writeMappingCsv(
  referential: MappableReferential,
  rows: readonly { activityIri: string; activityName: string; competencyKey: string; minutes: number }[],
): string {
  const codeOf = new Map<string, string>();
  for (const d of referential.domains) {
    for (const c of d.competencies) {
      const resolved = resolveCompetency(referential, c.code);
      codeOf.set(c.key, 'key' in resolved && resolved.key === c.key ? c.code : c.key);
    }
  }
  return stringify(
    rows.map((r) => [r.activityIri, r.activityName, codeOf.get(r.competencyKey) ?? r.competencyKey, formatHours(r.minutes)]),
    { header: true, columns: [...MAPPING_CSV_HEADER], delimiter: ';', bom: true, record_delimiter: 'windows', escape_formulas: true },
  );
}
