import type { ErrorCode, SocleError } from '../../domain/errors';
import { addTexts, type Locale, translator } from '../i18n';

const session = {
  fr: 'Votre session Socle a expiré ou n’a pas pu être ouverte. Relancez Socle depuis Moodle.',
  en: 'Your Socle session expired or could not be opened. Launch Socle again from Moodle.',
};
/** The error's own message (it names what was wrong). */
const own = { fr: '{{message}}', en: '{{message}}' };
const internal = {
  fr: 'Socle a rencontré une erreur interne. Réessayez plus tard ou contactez l’administrateur de la plateforme.',
  en: 'Socle ran into an internal error. Try again later or contact the platform administrator.',
};

/** What an HTML page says for each error code, in French and English; `{{message}}` is the error's own message. */
export const pageErrorTexts: Record<ErrorCode, Record<Locale, string>> = {
  invalid_request: own,
  unauthorized: session,
  forbidden: { fr: 'Cette page est réservée à un autre rôle.', en: 'This page is for another role.' },
  not_found: own,
  conflict: own,
  no_referential: own,
  not_ready: own,
  payload_too_large: own,
  platform_error: own,
  registration_failed: own,
  invalid_launch: session,
  session_expired: session,
  unregistered_platform: own,
  platform_inactive: session,
  invalid_config: internal,
  unavailable: {
    fr: 'Socle est momentanément indisponible. Réessayez dans quelques secondes.',
    en: 'Socle is unavailable for a moment. Try again in a few seconds.',
  },
  internal_error: internal,
};

const codes = Object.keys(pageErrorTexts) as ErrorCode[];
addTexts({
  fr: Object.fromEntries(codes.map((code) => [`error.${code}`, pageErrorTexts[code].fr])),
  en: Object.fromEntries(codes.map((code) => [`error.${code}`, pageErrorTexts[code].en])),
});

/** The message of an error page for `error`, in `locale`. */
export function pageMessage(error: SocleError, locale: Locale): string {
  return translator(locale)(`error.${error.code}`, { message: error.message });
}
