/** Locales Socle speaks; French is the default, English is chosen from `launch_presentation.locale` (en, en_us, en-GB…). */
export type Locale = 'fr' | 'en';
