import type { Request } from 'express';
import i18next, { type TFunction } from 'i18next';
import { type Locale, pickLocale } from '../domain/locale';

export type { Locale };
export { pickLocale };

/**
 * The language of a page or error page: the LTI session's (`res.locals.locale`, set once the session is
 * resolved), else `?lang=`, else the browser's `Accept-Language`; French by default.
 */
export function requestLocale(req: Request): Locale {
  const session = (req.res?.locals as { locale?: Locale } | undefined)?.locale;
  if (session) return session;
  if (typeof req.query.lang === 'string') return pickLocale(req.query.lang);
  return pickLocale(req.acceptsLanguages('fr', 'en') || 'fr');
}

/** Page texts. Later modules add their keys with `addTexts`. */
const texts: Record<Locale, Record<string, string>> = {
  fr: {
    'app.name': 'Socle',
    'layout.skip': 'Aller au contenu',
    'layout.newWindow': 'Ouvrir dans une nouvelle fenêtre',
    'layout.newWindowHint': '(nouvel onglet)',
    'role.instructor': 'Enseignant',
    'role.learner': 'Apprenant',
    'role.administrator': 'Administrateur',
    'course.title': 'Cours « {{title}} »',
    'course.referential': 'Référentiel',
    'course.noReferential': 'aucun référentiel choisi',
    'course.roster': 'Participants',
    'course.rosterCount': '{{count}} participant(s)',
    'course.rosterSynced': 'Liste mise à jour le {{at}}',
    'course.rosterNever': 'Liste jamais récupérée auprès de la plateforme',
    'course.rosterRefresh': 'Mettre à jour la liste des participants',
    'course.name': 'Nom',
    'course.id': 'Identifiant plateforme',
    'course.roles': 'Rôles',
    'course.status': 'Statut',
    'me.title': 'Ma progression',
    'me.who': 'Vous êtes connecté(e) en tant que {{name}}, dans le cours « {{course}} ».',
    'me.placeholder': 'Vos heures validées par domaine apparaîtront ici.',
    'admin.title': 'Administration de Socle',
    'admin.platforms': 'Plateformes enregistrées',
    'admin.config': 'Valeurs à saisir dans Moodle (« Configurer un outil manuellement »)',
    'admin.active': 'active',
    'admin.inactive': 'en attente d’activation',
    'deeplink.title': 'Ajouter Socle au cours',
    'deeplink.lead': 'Socle sera ajouté comme activité, avec la colonne de carnet de notes « {{label}} ».',
    'deeplink.submit': 'Ajouter au cours',
    'deeplink.returning': 'Retour à la plateforme…',
    'deeplink.continue': 'Continuer',
    'deeplink.lineItem': 'Socle — heures validées',
    'error.next': 'Que faire ?',
    'error.detail': 'Détail technique',
    'error.requestId': 'Identifiant de la requête (à donner à l’administrateur) :',
    'error.status': 'Erreur {{status}}',
    'register.title': 'Enregistrement de Socle',
    'register.done': 'Socle est enregistré auprès de {{issuer}} (client_id {{clientId}}, déploiement {{deploymentId}}).',
    'register.pending': 'L’outil est en attente : un administrateur doit l’activer dans Moodle (Administration du site › Plugins › Outil externe › Gérer les outils) puis avec « socle platforms activate ».',
    'register.active': 'L’outil est actif.',
  },
  en: {
    'app.name': 'Socle',
    'layout.skip': 'Skip to content',
    'layout.newWindow': 'Open in a new window',
    'layout.newWindowHint': '(new tab)',
    'role.instructor': 'Teacher',
    'role.learner': 'Learner',
    'role.administrator': 'Administrator',
    'course.title': 'Course “{{title}}”',
    'course.referential': 'Framework',
    'course.noReferential': 'no framework chosen',
    'course.roster': 'Participants',
    'course.rosterCount': '{{count}} participant(s)',
    'course.rosterSynced': 'List updated on {{at}}',
    'course.rosterNever': 'List never fetched from the platform',
    'course.rosterRefresh': 'Refresh the participant list',
    'course.name': 'Name',
    'course.id': 'Platform id',
    'course.roles': 'Roles',
    'course.status': 'Status',
    'me.title': 'My progress',
    'me.who': 'You are signed in as {{name}}, in the course “{{course}}”.',
    'me.placeholder': 'Your validated hours per domain will appear here.',
    'admin.title': 'Socle administration',
    'admin.platforms': 'Registered platforms',
    'admin.config': 'Values to enter in Moodle (“Configure a tool manually”)',
    'admin.active': 'active',
    'admin.inactive': 'awaiting activation',
    'deeplink.title': 'Add Socle to the course',
    'deeplink.lead': 'Socle will be added as an activity, with the gradebook column “{{label}}”.',
    'deeplink.submit': 'Add to the course',
    'deeplink.returning': 'Returning to the platform…',
    'deeplink.continue': 'Continue',
    'deeplink.lineItem': 'Socle — heures validées',
    'error.next': 'What to do',
    'error.detail': 'Technical detail',
    'error.requestId': 'Request id (to give to the administrator):',
    'error.status': 'Error {{status}}',
    'register.title': 'Socle registration',
    'register.done': 'Socle is registered with {{issuer}} (client_id {{clientId}}, deployment {{deploymentId}}).',
    'register.pending': 'The tool is pending: an administrator must activate it in Moodle (Site administration › Plugins › External tool › Manage tools) and with “socle platforms activate”.',
    'register.active': 'The tool is active.',
  },
};

const instance = i18next.createInstance();
void instance.init({
  initAsync: false,
  lng: 'fr',
  fallbackLng: 'fr',
  supportedLngs: ['fr', 'en'],
  interpolation: { escapeValue: false },
  resources: { fr: { translation: texts.fr }, en: { translation: texts.en } },
});

/** Adds (or overrides) texts of a module: `addTexts({ fr: {...}, en: {...} })`. */
export function addTexts(more: Partial<Record<Locale, Record<string, string>>>): void {
  for (const [lng, values] of Object.entries(more)) {
    instance.addResources(lng, 'translation', values ?? {});
  }
}

export function translator(locale: Locale): TFunction {
  return instance.getFixedT(locale);
}
