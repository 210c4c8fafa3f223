/** Locales Socle speaks; French is the default, English is chosen from `launch_presentation.locale` (en, en_us, en-GB…). */
export type Locale = 'fr' | 'en';

/** The locale of a launch's `launch_presentation.locale` (or a stored one): English for en, en_US, en-GB…; French otherwise. */
export function pickLocale(value: string | null | undefined): Locale {
  return value && /^en([-_]|$)/i.test(value) ? 'en' : 'fr';
}
