/**
 * How Socle writes hours and dates for people: pages, documents, the command line. Data files (CSV, XLSX, JSON)
 * keep numbers and ISO dates; what a person reads goes through here, in the institution's time zone.
 */
import type { Locale } from './locale';

/** The time zone of dates when the institution has not set its own. */
export const DEFAULT_TIME_ZONE = 'Europe/Paris';

/** The no-break space (U+00A0) French typography puts between a number and its unit, and before `:` and `%`. */
export const NBSP = '\u00a0';

/**
 * Minutes as hours for people: 360 → "6 h", 90 → "1 h 30", null → "—", the spaces being no-break spaces (a line
 * never breaks inside "15 h 30").
 */
export function formatMinutes(value: number | null): string {
  if (value === null) return '—';
  const h = Math.floor(value / 60);
  const m = Math.round(value % 60);
  return m === 0 ? `${h}${NBSP}h` : `${h}${NBSP}h${NBSP}${String(m).padStart(2, '0')}`;
}

const percents = new Map<Locale, Intl.NumberFormat>();
/** A ratio (0–1) as a percentage for people, one decimal at most: 0.125 → "12,5 %" (no-break space) or "12.5%". */
export function formatPercent(ratio: number, locale: Locale = 'fr'): string {
  let format = percents.get(locale);
  if (!format) {
    format = new Intl.NumberFormat(locale === 'en' ? 'en-GB' : 'fr-FR', { style: 'percent', maximumFractionDigits: 1 });
    percents.set(locale, format);
  }
  return format.format(ratio).replace(/\u202f/g, NBSP);
}

/**
 * French spacing of a text for people: a no-break space before `:`, `;`, `!`, `?`, `%` and `»` and after `«`
 * (an ordinary space there becomes one; none is added where there was no space, so "08:00" and URLs stay).
 */
export function frenchSpacing(text: string): string {
  return text.replace(/ +([:;!?%»])/g, `${NBSP}$1`).replace(/« +/g, `«${NBSP}`);
}

/** Words French elides before a vowel or a mute h, and what they become. */
const ELIDED: Record<string, string> = {
  que: 'qu’',
  de: 'd’',
  le: 'l’',
  la: 'l’',
  ne: 'n’',
  je: 'j’',
  me: 'm’',
  te: 't’',
  se: 's’',
  jusque: 'jusqu’',
  lorsque: 'lorsqu’',
  puisque: 'puisqu’',
};
/** Common words of an aspirated h, which is not elided ("le handicap", "que Hector"…: rare in names, given here). */
const ASPIRATED_H = /^(hache|haine|hall|halte|hamac|hameau|hanche|handicap|hangar|hasard|hausse|haut|hauteur|hérisson|héros|hibou|hiérarchie|homard|honte|hors|hublot|huit|hurl)/i;

/**
 * `word` followed by `next`, elided as French writes it: elide('que', 'Inès') → "qu’Inès", elide('que', 'Paul') →
 * "que Paul", elide('de', 'Hélène') → "d’Hélène", elide('de', 'Yann') → "de Yann". A capitalised word keeps its capital ("Que" → "Qu’").
 */
export function elide(word: string, next: string): string {
  return `${elision(word, next)}${next.trimStart()}`;
}

/** `word` as written before `next`, with its space: elision('que', 'Inès') → "qu’", elision('que', 'Paul') → "que ". */
export function elision(word: string, next: string): string {
  const elided = ELIDED[word.toLowerCase()];
  const letters = next.trimStart().normalize('NFD').toLowerCase();
  const first = letters.charAt(0);
  // a y before a vowel is a consonant ("de Yann"), before a consonant a vowel ("d’Yves")
  const vowel =
    'aeiouœæ'.includes(first) || (first === 'y' && !'aeiouy'.includes(letters.charAt(1))) || (first === 'h' && !ASPIRATED_H.test(next.trimStart()));
  if (!elided || !first || !vowel) return `${word} `;
  const capital = word.charAt(0) !== word.charAt(0).toLowerCase();
  return capital ? elided.charAt(0).toUpperCase() + elided.slice(1) : elided;
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

const clocks = new Map<string, Intl.DateTimeFormat>();
/** Offsets (ms) of a zone's wall clock from UTC per quarter hour (zones change their offset on a quarter hour). */
const offsets = new Map<string, number>();
const QUARTER = 900_000;
/**
 * The wall-clock time of `value` in `timeZone`, as a Date whose UTC fields hold it: what a spreadsheet stores for a
 * date (Excel's dates have no time zone, exceljs writes a Date's UTC fields), so that 2026-10-22T21:30Z in
 * Indian/Reunion reads "23/10/2026 01:30" in Excel.
 */
export function wallClock(value: Date, timeZone: string = DEFAULT_TIME_ZONE): Date {
  const quarter = Math.floor(value.getTime() / QUARTER) * QUARTER;
  const key = `${timeZone}|${quarter}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    let format = clocks.get(timeZone);
    if (!format) {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      clocks.set(timeZone, format);
    }
    const parts = Object.fromEntries(format.formatToParts(new Date(quarter)).map((p) => [p.type, p.value]));
    const n = (type: string) => Number(parts[type]);
    offset = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - quarter;
    if (offsets.size >= 50_000) offsets.clear();
    offsets.set(key, offset);
  }
  return new Date(value.getTime() + offset);
}
