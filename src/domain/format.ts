/**
 * How Socle writes hours and dates for people: pages, documents, the command line. Data files (CSV, XLSX, JSON)
 * keep numbers and ISO dates; what a person reads goes through here, in the institution's time zone.
 */
import type { Locale } from './locale';

/** The time zone of dates when the institution has not set its own. */
export const DEFAULT_TIME_ZONE = 'Europe/Paris';

/** Minutes as hours for people: 360 → "6 h", 90 → "1 h 30", null → "—". */
export function formatMinutes(value: number | null): string {
  if (value === null) return '—';
  const h = Math.floor(value / 60);
  const m = Math.round(value % 60);
  return m === 0 ? `${h} h` : `${h} h ${String(m).padStart(2, '0')}`;
}

/** Minutes as decimal hours for data: 330 → 5.5, 320 → 5.33. */
export function minutesToHours(minutes: number): number {
  return Math.round((minutes / 60) * 100) / 100;
}

/** `long`: "23 octobre 2026"; `short`: "23/10/2026"; `dateTime`: "23/10/2026 08:00". */
export type DateStyle = 'long' | 'short' | 'dateTime';

const OPTIONS: Record<DateStyle, Intl.DateTimeFormatOptions> = {
  long: { day: 'numeric', month: 'long', year: 'numeric' },
  short: { day: '2-digit', month: '2-digit', year: 'numeric' },
  dateTime: { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' },
};
const formats = new Map<string, Intl.DateTimeFormat>();

/** A date as a person reads it, in `timeZone` (an IANA name; the default is Europe/Paris). */
export function formatDate(value: Date | string, options: { locale: Locale; style?: DateStyle; timeZone?: string }): string {
  const style = options.style ?? 'long';
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  const key = `${options.locale}|${style}|${timeZone}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(options.locale === 'en' ? 'en-GB' : 'fr-FR', { ...OPTIONS[style], timeZone });
    formats.set(key, format);
  }
  return format.format(typeof value === 'string' ? new Date(value) : value);
}
