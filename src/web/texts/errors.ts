import type { ErrorCode, SocleError } from '../../domain/errors';
import { addTexts, type Locale, translator } from '../i18n';

/**
 * What an error page says: a title, what happened, what to do next. `{{issuer}}` and `{{clientId}}` are the platform's
 * (`…` when unknown), `{{platform}}` both in parentheses (or nothing).
 */
export interface PageErrorText {
  title: string;
  message: string;
  action: string;
}

type Texts = Record<Locale, PageErrorText>;

const session: Texts = {
  fr: {
    title: 'Session expirée',
    message: 'Votre session a expiré ou n’existe pas : relancez Socle depuis Moodle. Une session Socle s’ouvre quand vous cliquez sur l’activité Socle d’un cours ; elle dure au plus 24 heures et ne vaut que dans le navigateur où elle a été ouverte.',
    action: 'Retournez dans votre cours Moodle et cliquez de nouveau sur l’activité Socle.',
  },
  en: {
    title: 'Session expired',
    message: 'Your session has expired or does not exist: launch Socle again from Moodle. A Socle session opens when you click the Socle activity of a course; it lasts at most 24 hours and only in the browser where it was opened.',
    action: 'Go back to your Moodle course and click the Socle activity again.',
  },
};
const unavailable: Texts = {
  fr: {
    title: 'Service momentanément indisponible',
    message: 'Socle ne peut pas répondre pour le moment : sa base de données ne répond pas. Rien n’a été modifié.',
    action: 'Réessayez dans quelques minutes. Si cela dure, prévenez l’administrateur de Socle en lui donnant l’identifiant de la requête ci-dessous.',
  },
  en: {
    title: 'Service temporarily unavailable',
    message: 'Socle cannot answer right now: its database does not answer. Nothing was changed.',
    action: 'Try again in a few minutes. If it lasts, tell the Socle administrator, giving the request id below.',
  },
};
const internal: Texts = {
  fr: {
    title: 'Erreur interne',
    message: 'Socle a rencontré une erreur interne : votre demande n’a pas abouti.',
    action: 'Réessayez plus tard. Si cela se reproduit, transmettez l’identifiant de la requête ci-dessous à l’administrateur de Socle : il lui permet de retrouver l’erreur dans les journaux.',
  },
  en: {
    title: 'Internal error',
    message: 'Socle ran into an internal error: your request was not completed.',
    action: 'Try again later. If it happens again, give the request id below to the Socle administrator: it finds the error in the logs.',
  },
};

/** What an HTML error page says for each error code, in French and English (the page also shows the error's own message). */
export const pageErrorTexts: Record<ErrorCode, Texts> = {
  invalid_request: {
    fr: {
      title: 'Demande invalide',
      message: 'Socle n’a pas pu traiter cette demande : une valeur envoyée est absente ou incorrecte. Rien n’a été modifié.',
      action: 'Revenez à la page précédente, vérifiez ce que vous avez saisi et recommencez.',
    },
    en: {
      title: 'Invalid request',
      message: 'Socle could not handle this request: a value sent is missing or wrong. Nothing was changed.',
      action: 'Go back to the previous page, check what you entered and try again.',
    },
  },
  unauthorized: session,
  forbidden: {
    fr: {
      title: 'Accès refusé',
      message: 'Votre rôle dans ce cours ne donne pas accès à cette page de Socle (elle est réservée à d’autres rôles, ou à un autre cours).',
      action: 'Ouvrez Socle depuis le cours concerné. Si vous pensez devoir y accéder, demandez à l’enseignant ou à l’administrateur de Moodle de vérifier votre rôle.',
    },
    en: {
      title: 'Access denied',
      message: 'Your role in this course gives no access to this Socle page (it is for other roles, or for another course).',
      action: 'Open Socle from the course concerned. If you think you should have access, ask the teacher or the Moodle administrator to check your role.',
    },
  },
  not_found: {
    fr: {
      title: 'Page introuvable',
      message: 'Cette adresse ne correspond à aucune page ou ressource de Socle : le lien est incomplet, ou ce qu’il désignait n’existe plus.',
      action: 'Vérifiez l’adresse, ou revenez à l’accueil de Socle.',
    },
    en: {
      title: 'Page not found',
      message: 'This address matches no Socle page or resource: the link is incomplete, or what it pointed to no longer exists.',
      action: 'Check the address, or go back to the Socle home page.',
    },
  },
  conflict: {
    fr: {
      title: 'Modification impossible',
      message: 'Cette modification entre en conflit avec l’état actuel des données (quelqu’un l’a peut-être déjà faite). Rien n’a été modifié.',
      action: 'Rechargez la page pour voir l’état actuel, puis recommencez si nécessaire.',
    },
    en: {
      title: 'Change not possible',
      message: 'This change conflicts with the current state of the data (someone may have made it already). Nothing was changed.',
      action: 'Reload the page to see the current state, then try again if needed.',
    },
  },
  precondition_failed: {
    fr: {
      title: 'Modification refusée',
      message: 'Le document a changé depuis sa dernière lecture, ou la condition posée par la demande n’est pas remplie. Rien n’a été modifié.',
      action: 'Relisez le document pour obtenir son état actuel, puis recommencez.',
    },
    en: {
      title: 'Change refused',
      message: 'The document has changed since it was last read, or the condition the request set does not hold. Nothing was changed.',
      action: 'Read the document again to get its current state, then try again.',
    },
  },
  no_referential: {
    fr: {
      title: 'Aucun référentiel choisi',
      message: 'Ce cours n’a pas encore de référentiel : Socle ne sait pas quelles compétences et quelles heures suivre.',
      action: 'L’enseignant du cours choisit le référentiel sur la page du cours dans Socle.',
    },
    en: {
      title: 'No framework chosen',
      message: 'This course has no framework yet: Socle does not know which competencies and hours to follow.',
      action: 'The course’s teacher chooses the framework on the course page in Socle.',
    },
  },
  not_ready: {
    fr: {
      title: 'Pas encore prêt',
      message: 'Ce que vous demandez n’est pas encore prêt (un export en cours, par exemple), ou n’est plus disponible.',
      action: 'Patientez quelques instants puis rechargez la page ; si l’export a expiré, relancez-le.',
    },
    en: {
      title: 'Not ready yet',
      message: 'What you asked for is not ready yet (an export in progress, for instance), or is no longer available.',
      action: 'Wait a moment and reload the page; if the export has expired, start it again.',
    },
  },
  payload_too_large: {
    fr: {
      title: 'Fichier trop volumineux',
      message: 'Le fichier ou les données envoyés dépassent la taille que Socle accepte. Rien n’a été enregistré.',
      action: 'Envoyez un fichier plus petit (par exemple en le découpant) et recommencez.',
    },
    en: {
      title: 'File too large',
      message: 'The file or data sent are larger than Socle accepts. Nothing was saved.',
      action: 'Send a smaller file (for instance split it) and try again.',
    },
  },
  rate_limited: {
    fr: {
      title: 'Trop de demandes',
      message: 'Trop de demandes en peu de temps depuis ce poste, cette clé ou ce jeton : Socle les refuse un moment pour rester disponible pour tous. Rien n’a été modifié.',
      action: 'Patientez une minute, puis réessayez.',
    },
    en: {
      title: 'Too many requests',
      message: 'Too many requests in a short time from this computer, key or token: Socle refuses them for a while to stay available to everyone. Nothing was changed.',
      action: 'Wait a minute, then try again.',
    },
  },
  platform_error: {
    fr: {
      title: 'Moodle n’a pas répondu',
      message: 'Socle a interrogé Moodle (liste des participants, carnet de notes ou services web) et Moodle a refusé ou n’a pas répondu.',
      action: 'Réessayez dans quelques minutes. Si cela dure, l’administrateur de Moodle vérifie les services de l’outil Socle et le jeton des services web.',
    },
    en: {
      title: 'Moodle did not answer',
      message: 'Socle asked Moodle (participant list, gradebook or web services) and Moodle refused or did not answer.',
      action: 'Try again in a few minutes. If it lasts, the Moodle administrator checks the Socle tool’s services and the web-service token.',
    },
  },
  registration_failed: {
    fr: {
      title: 'Enregistrement impossible',
      message: 'L’enregistrement dynamique de Socle auprès de Moodle a échoué : Socle n’a pas pu lire la configuration de Moodle ou Moodle a refusé l’enregistrement.',
      action: 'Administrateur : vérifiez que Moodle joint Socle à son adresse publique, puis relancez l’enregistrement (Administration du site › Plugins › Outils externes › Gérer les outils). Le détail technique ci-dessous indique l’étape en échec.',
    },
    en: {
      title: 'Registration failed',
      message: 'The dynamic registration of Socle with Moodle failed: Socle could not read Moodle’s configuration or Moodle refused the registration.',
      action: 'Administrator: check that Moodle reaches Socle at its public address, then start the registration again (Site administration › Plugins › External tool › Manage tools). The technical detail below names the failing step.',
    },
  },
  invalid_launch: {
    fr: {
      title: 'Lancement refusé',
      message: 'Socle n’a pas pu vérifier ce lancement depuis Moodle (signature, délai ou déploiement non reconnus) : aucune session n’a été ouverte.',
      action: 'Relancez Socle depuis Moodle. Si le refus se reproduit, transmettez l’identifiant de la requête à l’administrateur : l’horloge du serveur ou la configuration de l’outil est peut-être en cause.',
    },
    en: {
      title: 'Launch refused',
      message: 'Socle could not verify this launch from Moodle (signature, timing or deployment not recognised): no session was opened.',
      action: 'Launch Socle again from Moodle. If it is refused again, give the request id to the administrator: the server clock or the tool configuration may be at fault.',
    },
  },
  session_expired: session,
  unregistered_platform: {
    fr: {
      title: 'Plateforme inconnue',
      message: 'Cette plateforme Moodle{{platform}} n’est pas enregistrée dans Socle : Socle refuse les lancements qu’il ne peut pas vérifier.',
      action: 'Administrateur : enregistrez Moodle dans Socle, soit par l’enregistrement dynamique (collez l’adresse d’enregistrement de Socle dans Administration du site › Plugins › Outils externes › Gérer les outils), soit avec « socle platforms add ».',
    },
    en: {
      title: 'Unknown platform',
      message: 'This Moodle platform{{platform}} is not registered in Socle: Socle refuses launches it cannot verify.',
      action: 'Administrator: register Moodle in Socle, either by dynamic registration (paste Socle’s registration URL into Site administration › Plugins › External tool › Manage tools) or with “socle platforms add”.',
    },
  },
  platform_inactive: {
    fr: {
      title: 'Socle n’est pas encore activé',
      message: 'Cette plateforme Moodle{{platform}} est enregistrée dans Socle mais n’a pas encore été activée : aucun lancement n’est accepté d’ici là. Ce n’est pas de votre fait.',
      action: 'Prévenez l’administrateur de Moodle. Administrateur : activez l’outil dans Moodle (Administration du site › Plugins › Outils externes › Gérer les outils), puis dans Socle avec la commande : socle platforms activate --issuer {{issuer}} --client-id {{clientId}}',
    },
    en: {
      title: 'Socle is not activated yet',
      message: 'This Moodle platform{{platform}} is registered in Socle but not activated yet: no launch is accepted until then. It is not your doing.',
      action: 'Tell the Moodle administrator. Administrator: activate the tool in Moodle (Site administration › Plugins › External tool › Manage tools), then in Socle with the command: socle platforms activate --issuer {{issuer}} --client-id {{clientId}}',
    },
  },
  invalid_config: internal,
  unavailable,
  internal_error: internal,
};

const codes = Object.keys(pageErrorTexts) as ErrorCode[];
const parts = ['title', 'message', 'action'] as const;
for (const locale of ['fr', 'en'] as const) {
  addTexts({ [locale]: Object.fromEntries(codes.flatMap((code) => parts.map((part) => [`error.${code}.${part}`, pageErrorTexts[code][locale][part]]))) });
}

/** The texts of an error page for `error`, in `locale`; `values` fill the `{{…}}` of the texts (platform issuer…). */
export function pageError(error: SocleError, locale: Locale, values: Record<string, string> = {}): PageErrorText {
  const t = translator(locale);
  const platform = values.issuer ? ` (${values.issuer}${values.clientId ? `, client_id ${values.clientId}` : ''})` : '';
  const filled = { issuer: '…', clientId: '…', ...values, platform };
  return {
    title: t(`error.${error.code}.title`, filled),
    message: t(`error.${error.code}.message`, filled),
    action: t(`error.${error.code}.action`, filled),
  };
}
