import type { Writable } from 'node:stream';
import type { Config } from '../../config';
import type { Store } from '../../db/store';
import type { Locale } from '../../domain/locale';
import type { Logger } from '../../logger';
import type { ComplianceQuery, ComplianceSource } from '../source';

/** A text shown on the pages, in each locale. */
export type Label = Record<Locale, string>;

export interface FormatInfo {
  /** Content-Type of the downloaded file. */
  contentType: string;
  /** Extension of the downloaded file, without the dot. */
  extension: string;
  /** The format's name for `socle report … --format`, and what the help says of it. */
  cli: string;
  cliNote?: string;
}

/**
 * Every format a report is produced in, declared once. `csv` is RFC 4180 and `csv-excel` the French Excel
 * variant (BOM, `;`, decimal comma); the CLI, as its users expect, calls the latter `csv` and the former
 * `csv-rfc4180`. The order is the API's enum of formats.
 */
const formats = {
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv', cli: 'csv-rfc4180' },
  'csv-excel': { contentType: 'text/csv; charset=utf-8', extension: 'csv', cli: 'csv', cliNote: 'French Excel' },
  xlsx: { contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extension: 'xlsx', cli: 'xlsx' },
  pdf: { contentType: 'application/pdf', extension: 'pdf', cli: 'pdf' },
  zip: { contentType: 'application/zip', extension: 'zip', cli: 'zip' },
  json: { contentType: 'application/json', extension: 'json', cli: 'json' },
} satisfies Record<string, FormatInfo>;
export type ReportFormat = keyof typeof formats;
export const reportFormats: Readonly<Record<ReportFormat, FormatInfo>> = formats;

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
  /** The downloaded file is `<fileName>-<YYYY-MM-DD of the request>.<extension of the format>`. */
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

/** The file name and content type of a report of `kind` in `format`, requested on `date`. */
export function reportFile(kind: ReportKind, format: ReportFormat, date: Date): { fileName: string; contentType: string } {
  const info = reportFormats[format];
  return { fileName: `${kind.fileName}-${date.toISOString().slice(0, 10)}.${info.extension}`, contentType: info.contentType };
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
