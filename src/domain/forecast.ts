/**
 * The forecast of a learner in a programme: will they have validated every required minute of the référentiel by
 * the programme's due date? Pure rules on minutes and calendar dates (YYYY-MM-DD, read as UTC days).
 *
 * - **done**: every required minute is validated (overall and in each domain);
 * - **at_risk**: what is missing cannot be covered by what the programme's courses still offer this learner (overall,
 *   or in one domain missing more than its still-mappable minutes), or the due date has passed undone;
 * - **behind**: fewer minutes validated than the trajectory expects today (linear from the intake's start,
 *   1 September of the intake year, to the due date);
 * - **on_track** otherwise.
 *
 * The order of the statuses, best first: done > on_track > behind > at_risk (`statusRank`). More validated minutes
 * never give a worse status.
 */
import { z } from 'zod';

export const forecastStatusSchema = z.enum(['on_track', 'behind', 'at_risk', 'done']);
export type ForecastStatus = z.infer<typeof forecastStatusSchema>;

/** Rank of a status, higher is better: at_risk 0, behind 1, on_track 2, done 3. */
export const statusRank: Record<ForecastStatus, number> = { at_risk: 0, behind: 1, on_track: 2, done: 3 };
/** The statuses from the most to the least worrying (the heatmap's "by risk" order). */
export const RISK_ORDER: readonly ForecastStatus[] = ['at_risk', 'behind', 'on_track', 'done'];

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since the epoch of a YYYY-MM-DD date, or NaN when it is not a real calendar date. */
export function dayNumber(date: string): number {
  const m = ISO_DATE.exec(date);
  if (!m) return Number.NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return Number.NaN;
  return t / DAY_MS;
}

/** A calendar date YYYY-MM-DD that exists. */
export const isoDateSchema = z
  .string()
  .regex(ISO_DATE, 'expected a date AAAA-MM-JJ')
  .refine((s) => !Number.isNaN(dayNumber(s)), 'not a calendar date');

/** The date (UTC) of an instant, as YYYY-MM-DD. */
export const isoDay = (at: Date): string => at.toISOString().slice(0, 10);

/** The start of an intake: 1 September of its year (the French academic year). */
export const intakeStart = (intakeYear: number): string => `${String(intakeYear).padStart(4, '0')}-09-01`;

/**
 * The default due date of an intake: the end of the third academic year (arrêté of 10 November 2022), 31 August of
 * the intake year + 3.
 */
export const defaultDueDate = (intakeYear: number): string => `${String(intakeYear + 3).padStart(4, '0')}-08-31`;

export const intakeYearSchema = z.number().int().min(2000).max(2100);

const minutes = z.number().int().min(0);

export const forecastDomainSchema = z.object({
  code: z.string().min(1),
  requiredMinutes: minutes,
  validatedMinutes: minutes,
  /** Minutes the programme's courses still offer the learner in this domain (mapped activities not completed). */
  mappableMinutes: minutes,
});
export type ForecastDomain = z.infer<typeof forecastDomainSchema>;

export const forecastInputSchema = z.object({
  requiredMinutes: minutes,
  validatedMinutes: minutes,
  /** Minutes the programme's courses still offer the learner, overall. */
  mappableMinutes: minutes,
  domains: z.array(forecastDomainSchema),
  intakeYear: intakeYearSchema,
  dueDate: isoDateSchema,
  today: isoDateSchema,
});
export type ForecastInput = z.infer<typeof forecastInputSchema>;

export const forecastSchema = z.object({
  status: forecastStatusSchema,
  dueDate: isoDateSchema,
  /** Minutes the trajectory expects validated today. */
  expectedMinutes: minutes,
  requiredMinutes: minutes,
  validatedMinutes: minutes,
  /** Required minutes not validated yet (overall, or the sum of the domains' gaps when that is more). */
  missingMinutes: minutes,
  mappableMinutes: minutes,
  /** Days from today to the due date (negative once it has passed). */
  daysLeft: z.number().int(),
  /** Codes of the domains missing more minutes than the courses still offer. */
  shortDomains: z.array(z.string()),
});
export type Forecast = z.infer<typeof forecastSchema>;

/** The forecast of one learner (input parsed: a wrong figure or date throws). */
export function forecast(raw: ForecastInput): Forecast {
  const input = forecastInputSchema.parse(raw);
  const domainGap = input.domains.reduce((sum, d) => sum + Math.max(0, d.requiredMinutes - d.validatedMinutes), 0);
  const missingMinutes = Math.max(input.requiredMinutes - input.validatedMinutes, domainGap, 0);
  const progress = Math.max(0, input.requiredMinutes - missingMinutes);

  const start = dayNumber(intakeStart(input.intakeYear));
  const due = dayNumber(input.dueDate);
  const today = dayNumber(input.today);
  const span = due - start;
  const elapsed = span <= 0 ? 1 : Math.min(1, Math.max(0, (today - start) / span));
  const expectedMinutes = Math.round(input.requiredMinutes * elapsed);
  const daysLeft = due - today;

  const shortDomains = input.domains
    .filter((d) => Math.max(0, d.requiredMinutes - d.validatedMinutes) > d.mappableMinutes)
    .map((d) => d.code);
  let status: ForecastStatus;
  if (missingMinutes === 0) status = 'done';
  else if (daysLeft < 0 || missingMinutes > input.mappableMinutes || shortDomains.length > 0) status = 'at_risk';
  else if (progress < expectedMinutes) status = 'behind';
  else status = 'on_track';

  return {
    status,
    dueDate: input.dueDate,
    expectedMinutes,
    requiredMinutes: input.requiredMinutes,
    validatedMinutes: input.validatedMinutes,
    missingMinutes,
    mappableMinutes: input.mappableMinutes,
    daysLeft,
    shortDomains,
  };
}
