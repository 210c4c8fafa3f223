import type { Writable } from 'node:stream';
import type { Config } from '../../config';
import type { Store } from '../../db/store';
import type { Locale } from '../../domain/locale';
import type { Logger } from '../../logger';
import type { ComplianceQuery, ComplianceSource } from '../source';
import { wallClock } from '../../domain/format';

/** A text shown on the pages, in each locale. */
export type Label = Record<Locale, string>;

export interface FormatInfo {
  /** Content-Type of the downloaded file. */
  contentType: string;
  /** Extension of the downloaded file, without the dot. */
  extension: string;
  /** What ends the file's name before its extension, so that two formats of one extension differ (`-excel`). */
  fileSuffix?: string;
  /** What the pages call it, and what the CLI's help and the API document say of it. */
  label: Label;
  note: string;
}

/**
 * Every format a report is produced in, declared once, under one name for the API, the CLI, the pages and the
 * stored jobs: `csv-excel` is the French Excel variant (BOM, `;`, decimal comma, JJ/MM/AAAA dates), `csv-rfc4180`
 * the CSV for programs. The order is the API's enum of formats. Older names stay accepted: see `formatAliases`.
 */
const formats = {
  'csv-excel': {
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    fileSuffix: '-excel',
    label: { fr: 'CSV (Excel français)', en: 'CSV (French Excel)' },
    note: 'CSV for French Excel: BOM, ";", decimal comma, dates JJ/MM/AAAA',
  },
  'csv-rfc4180': {
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    label: { fr: 'CSV (RFC 4180)', en: 'CSV (RFC 4180)' },
    note: 'CSV for programs (RFC 4180): ",", decimal point, ISO 8601 dates',
  },
  xlsx: { contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extension: 'xlsx', label: { fr: 'XLSX', en: 'XLSX' }, note: 'Excel workbook' },
  pdf: { contentType: 'application/pdf', extension: 'pdf', label: { fr: 'PDF', en: 'PDF' }, note: 'printable report' },
  zip: { contentType: 'application/zip', extension: 'zip', label: { fr: 'ZIP', en: 'ZIP' }, note: 'one PDF per attestation' },
  json: { contentType: 'application/json', extension: 'json', label: { fr: 'JSON', en: 'JSON' }, note: 'JSON document' },
} satisfies Record<string, FormatInfo>;
export type ReportFormat = keyof typeof formats;
export const reportFormats: Readonly<Record<ReportFormat, FormatInfo>> = formats;

/** Where a format's name comes from: the JSON API (and the jobs it stored) or the command line. */
export type FormatEntry = 'api' | 'cli';

/**
 * The names each entry point accepted before the formats had one name, kept as aliases: the API (and the jobs
 * stored then) called the RFC 4180 CSV `csv`, the CLI called the French Excel CSV `csv`.
 */
export const formatAliases: Readonly<Record<FormatEntry, Readonly<Record<string, ReportFormat>>>> = {
  api: { csv: 'csv-rfc4180' },
  cli: { csv: 'csv-excel' },
};

/** The format a name stands for at an entry point (its own name, or an alias), or undefined. */
export function canonicalFormat(name: string, entry: FormatEntry): ReportFormat | undefined {
  if (Object.hasOwn(formats, name)) return name as ReportFormat;
  return Object.hasOwn(formatAliases[entry], name) ? formatAliases[entry][name] : undefined;
}

/** The aliases of an entry point that stand for one of `formats`, as `alias → format`. */
export function aliasesOf(entry: FormatEntry, among: readonly ReportFormat[]): [string, ReportFormat][] {
  return Object.entries(formatAliases[entry]).filter(([, f]) => among.includes(f));
}

/**
 * What a producer may use of the application context (the runner and the CLI give it the whole `AppContext`).
 * Named here rather than imported: src/context.ts names the registry of kinds, so this file cannot import it back.
 */
export interface ReportContext {
  config: Config;
  store: Store;
  logger: Logger;
  clock: () => Date;
  compliance: ComplianceSource;
}

/** What a producer is given: the query to report on, the format, where to write, and how to report progress. */
export interface ReportRun<F extends ReportFormat = ReportFormat> {
  ctx: ReportContext;
  query: ComplianceQuery;
  format: F;
  /** Write the report here and end it. */
  out: Writable;
  /** Rows (learners, attestations) done so far, and the expected total when known. */
  progress(done: number, total?: number): void;
  /** The export job being produced (none when the CLI writes a file). */
  jobId?: string;
}

/** A button of the admin page's export form that queues this kind in one format. */
export interface PageButton<F extends ReportFormat = ReportFormat> {
  format: F;
  label: Label;
  secondary?: boolean;
}

/**
 * A kind of report: everything the API, the job runner, the CLI and the admin page need to offer it.
 * Producers load their writers (exceljs, pdfmake) when they run: the CLI's other commands start faster.
 */
export interface ReportKind<N extends string = string, F extends ReportFormat = ReportFormat> {
  /** The API's `kind`, the CLI's `socle report <name>`, the stored job's kind. */
  name: N;
  label: Label;
  /** The downloaded file is `<fileName>-<YYYY-MM-DD of the request><suffix of the format>.<its extension>`. */
  fileName: string;
  /** The formats it is produced in, in the order errors and the CLI list them. */
  formats: readonly [F, ...F[]];
  /**
   * Writes the report of `run.query` in `run.format` to `run.out` (and ends it); resolves with how many rows
   * (learners, attestations) it holds. Throws a SocleError (`invalid_request`, `not_found`) when the query cannot be reported on as asked.
   */
  produce(run: ReportRun<F>): Promise<{ count: number }>;
  cli: {
    description: string;
    /** Label of the progress lines on stderr (`<progress>: n/total`). */
    progress: string;
    /** What the last line says was written (`<written(count)> written to <file> (<n> bytes)`). */
    written(count: number): string;
  };
  /**
   * Its buttons on the admin page. The first kind of the registry the page offers is the form's own: its buttons
   * submit the form's `kind` and `format`, in a group labelled `group`; the others' buttons follow on one line.
   */
  page?: { group?: Label; buttons: readonly PageButton<F>[] };
}

/** Declares a kind (its formats narrow what `produce` and the page buttons are given). */
export const defineKind = <const N extends string, const F extends ReportFormat>(kind: ReportKind<N, F>): ReportKind<N, F> => kind;

/** The file name and content type of a report of `kind` in `format`, requested on `date` (the day in `timeZone`). */
export function reportFile(kind: ReportKind, format: ReportFormat, date: Date, timeZone?: string): { fileName: string; contentType: string } {
  const info = reportFormats[format];
  const day = wallClock(date, timeZone).toISOString().slice(0, 10);
  return { fileName: `${kind.fileName}-${day}${info.fileSuffix ?? ''}.${info.extension}`, contentType: info.contentType };
}

/** A set of report kinds, and the enums every entry point derives from it. */
export interface ExportRegistry<N extends string = string, F extends ReportFormat = ReportFormat> {
  /** The kinds, in the order the CLI and the admin page list them. */
  readonly kinds: readonly ReportKind[];
  /** Their names: the API's and the job's `kind`. */
  readonly names: readonly N[];
  /** The formats any of them is produced in, in the order of `reportFormats`: the API's `format`. */
  readonly formats: readonly F[];
  find(name: string): ReportKind | undefined;
  /** The formats of a kind (none for an unknown kind). */
  formatsOf(name: string): readonly ReportFormat[];
  /** What the pages call a kind (its name when unknown). */
  label(name: string, locale: Locale): string;
}

export function exportRegistry<const K extends readonly ReportKind[]>(
  kinds: K,
): ExportRegistry<K[number]['name'], K[number]['formats'][number]> {
  const byName = new Map<string, ReportKind>(kinds.map((k) => [k.name, k]));
  if (byName.size !== kinds.length) throw new Error('two report kinds have the same name');
  const used = new Set<ReportFormat>(kinds.flatMap((k) => k.formats));
  return {
    kinds,
    names: kinds.map((k): K[number]['name'] => k.name),
    formats: (Object.keys(reportFormats) as K[number]['formats'][number][]).filter((f) => used.has(f)),
    find: (name) => byName.get(name),
    formatsOf: (name) => byName.get(name)?.formats ?? [],
    label: (name, locale) => byName.get(name)?.label[locale] ?? name,
  };
}
