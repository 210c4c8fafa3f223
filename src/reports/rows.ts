import { z } from 'zod';
import { SocleError } from '../domain/errors';
import { DEFAULT_TIME_ZONE } from '../domain/format';
import { type ForecastStatus, forecastStatusSchema, isoDateSchema } from '../domain/forecast';
import { domainSchema, type ReferentialRef, referentialRefSchema, titledReferentialRefSchema } from '../domain/referential';

/**
 * The compliance report's row: one learner of one référentiel version, with their validated and required
 * minutes per domain. Hours are carried as integer minutes everywhere; writers convert them for display.
 *
 * Ordering is the caller's: the row source yields non-compliant learners first (status `not_started`, then
 * `in_progress`, then `complete`), so the writers never sort nor hold the whole report.
 */
export const complianceStatus = z.enum(['not_started', 'in_progress', 'complete']);
export type ComplianceStatus = z.infer<typeof complianceStatus>;

const minutes = z.number().int().min(0);

export const domainFigures = z.object({
  code: z.string().min(1),
  title: z.string(),
  validatedMinutes: minutes,
  requiredMinutes: minutes,
});
export type DomainFigures = z.infer<typeof domainFigures>;

export const complianceRow = z.object({
  learner: z.object({
    /** The platform's user id (LTI `sub` = xAPI `account.name`). */
    sub: z.string().min(1),
    name: z.string().nullable(),
  }),
  courses: z.array(z.object({ contextId: z.string().min(1), title: z.string().nullable() })),
  referential: referentialRefSchema,
  domains: z.array(domainFigures),
  validatedMinutes: minutes,
  requiredMinutes: minutes,
  status: complianceStatus,
  completedAt: z.date().nullable(),
  hasManualCredits: z.boolean(),
  /** The learner's forecast in the programme of this référentiel version they belong to; absent or null: none. */
  forecast: z.object({ status: forecastStatusSchema, dueDate: isoDateSchema }).nullable().optional(),
});
export type ComplianceRow = z.infer<typeof complianceRow>;

/** A référentiel version as the report presents it: its domains give the report's columns, in this order. */
export const reportReferential = titledReferentialRefSchema.extend({
  domains: z.array(domainSchema.pick({ code: true, title: true }).strip().extend({ requiredMinutes: minutes })).min(1),
});
export type ReportReferential = z.infer<typeof reportReferential>;

export const reportMeta = z.object({
  /** The issuing institution (or the platform's name when it has no other). */
  institution: z.string().min(1),
  /** The IANA time zone dates of the report are written in: the institution's; writers use DEFAULT_TIME_ZONE (src/domain/format.ts) when absent. */
  timeZone: z.string().min(1).optional(),
  platform: z.object({ issuer: z.string().min(1), name: z.string().nullable() }),
  /** The filters used, as label → value, shown in the PDF header and the XLSX summary. */
  filters: z.array(z.object({ label: z.string(), value: z.string() })),
  generatedAt: z.date(),
  /** Every référentiel version the rows may refer to; a row of another one is an error. */
  referentials: z.array(reportReferential).min(1),
});
export type ReportMeta = z.infer<typeof reportMeta>;

/** Called with the number of rows written so far. */
export type ProgressCallback = (rowsWritten: number) => void;

export const referentialKey = (r: ReferentialRef) => `${r.id}@${r.version}`;

/** The référentiel of a row, checked against the report's metadata. */
export function referentialOf(meta: ReportMeta, row: ComplianceRow): ReportReferential {
  const found = meta.referentials.find((r) => r.id === row.referential.id && r.version === row.referential.version);
  if (!found) {
    throw new SocleError(
      'internal_error',
      `Row of learner ${row.learner.sub} refers to référentiel ${referentialKey(row.referential)}, which the report does not declare`,
    );
  }
  return found;
}

/** The time zone of the report's dates. */
export const reportTimeZone = (meta: ReportMeta): string => meta.timeZone ?? DEFAULT_TIME_ZONE;

/** Every domain code of the report's référentiels, in first-seen order: the CSV's columns. */
export function allDomainCodes(meta: ReportMeta): { code: string; title: string }[] {
  const seen = new Map<string, string>();
  for (const r of meta.referentials) for (const d of r.domains) if (!seen.has(d.code)) seen.set(d.code, d.title);
  return [...seen].map(([code, title]) => ({ code, title }));
}

export const statusLabelFr: Record<ComplianceStatus, string> = {
  not_started: 'Non commencé',
  in_progress: 'En cours',
  complete: 'Complet',
};

/** The forecast statuses as people's documents write them. */
export const forecastLabelFr: Record<ForecastStatus, string> = {
  on_track: 'en bonne voie',
  behind: 'en retard',
  at_risk: 'à risque',
  done: 'terminé',
};

/** A due date YYYY-MM-DD as JJ/MM/AAAA. */
export const dueDateFr = (date: string): string => `${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(0, 4)}`;

/** Resolves after pending I/O callbacks: long loops call it so timers, progress and sockets keep running. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits until `out` has drained when its buffer is full (back-pressure for writers that push chunks). */
export async function drained(out: NodeJS.WritableStream & { writableNeedDrain?: boolean }): Promise<void> {
  if (out.writableNeedDrain) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}
