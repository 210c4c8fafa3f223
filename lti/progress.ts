/**
 * "Ma progression": what the learner's page shows, built from `learnerView` (the coverage rules applied to their
 * facts at this request) and their credentials. One section per référentiel: the course's, and any other the
 * learner has credits in.
 */
import { sql } from 'drizzle-orm';
import { achievementPath, urls } from '../src/badges/achievements';
import { formatMinutes } from '../src/domain/format';
import { type CredentialSummary, issuerProfileOf, listCredentials } from '../src/badges/credentials';
import { linkedInAddUrl } from '../src/wallet/linkedin';
import { badgeSvg } from '../src/badges/image';
import type { AppContext } from '../src/context';
import { learnerView, type PendingActivity, pendingActivities } from '../src/coverage/read';
import { currentRecords } from '../src/coverage/records';
import { recordUrl } from '../src/badges/records';
import { SocleError } from '../src/domain/errors';
import { coverageDeps } from '../src/coverage/deps';
import { queryRows } from '../src/db/store';
import type { Course, Platform, User } from '../src/identity/records';
import { addTexts, translator } from '../src/web/i18n';
import { forecastDay, learnerForecasts } from '../src/programmes/forecasts';
import { preferenceOf } from '../src/alerts/preferences';
import { dayText } from '../src/alerts/render';
import type { ForecastStatus } from '../src/domain/forecast';
import type { Locale } from '../src/domain/locale';

type View = Awaited<ReturnType<typeof learnerView>>;

const minutesOf = (hours: number | null) => (hours === null ? null : Math.round(hours * 60));
/** "4 h 30" from hours (null → "—"). */
export const hoursText = (hours: number | null) => (hours === null ? '—' : formatMinutes(minutesOf(hours) ?? 0));
const percent = (done: number | null, total: number | null) => (!total ? 0 : Math.max(0, Math.min(100, Math.round(((done ?? 0) / total) * 100))));

export interface BadgeCard {
  name: string;
  domainCode: string | null;
  requiredHours: number | null;
  validatedHours: number;
  percent: number;
  state: 'active' | 'revoked' | 'upcoming';
  credential?: CredentialSummary;
  /** Same-origin image: the baked SVG of a credential, or the achievement's picture for an upcoming badge. */
  image: string;
  /** Relative download links (the page may be reached on another host than PUBLIC_URL). */
  png?: string;
  svg?: string;
  /** LinkedIn's "add to profile" link of an active credential (opened in a new tab). */
  linkedIn?: string;
}

export interface ReferentialSection {
  view: View;
  percent: number;
  /** A learner with nothing credited yet in this référentiel. */
  empty: boolean;
  domains: (View['domains'][number] & { percent: number })[];
  badges: BadgeCard[];
  /** For each domain still missing hours (or competencies), the activities of the learner's courses that would credit it. */
  nextSteps: NextStep[];
  /** The learner's current record (CLR 2.0) of this référentiel version, once they have hours in it. */
  record?: { id: string; issuedAt: string; download: string; verifyUrl: string };
}

export interface NextStep {
  domainCode: string;
  domainTitle: string;
  missingHours: number | null;
  activities: { name: string | null; href: string | null; courseTitle: string | null; minutes: number; competencyCodes: string[] }[];
}

/** A link to the activity in the platform: its IRI when it is a web address of the platform's own activity. */
const activityHref = (a: PendingActivity) => (a.inPlatform && /^https?:\/\//i.test(a.iri) ? a.iri : null);

/** The gaps of the view, each with the pending activities mapped to its domain (hours summed per activity). */
export function nextSteps(view: View, pending: readonly PendingActivity[]): NextStep[] {
  const domainOf = new Map<string, { domain: string; code: string }>();
  for (const d of view.domains) for (const c of d.competencies) domainOf.set(c.key, { domain: d.code, code: c.code });
  return view.gaps.map((g) => {
    const byActivity = new Map<string, NextStep['activities'][number]>();
    for (const p of pending) {
      const where = domainOf.get(p.competencyKey);
      if (where?.domain !== g.domainCode) continue;
      const key = `${p.courseId}|${p.iri}`;
      const known = byActivity.get(key);
      if (known) {
        known.minutes += p.minutes;
        if (!known.competencyCodes.includes(where.code)) known.competencyCodes.push(where.code);
      } else {
        byActivity.set(key, { name: p.name, href: activityHref(p), courseTitle: p.courseTitle, minutes: p.minutes, competencyCodes: [where.code] });
      }
    }
    return { domainCode: g.domainCode, domainTitle: g.domainTitle, missingHours: g.missingHours, activities: [...byActivity.values()] };
  });
}

/** The référentiels to show: the course's (its own or those its mappings use), then the learner's others. */
async function referentialIds(ctx: AppContext, user: User, course: Course | undefined): Promise<string[]> {
  const ids: string[] = [];
  const add = (id: string | null | undefined) => {
    if (id && !ids.includes(id)) ids.push(id);
  };
  add(course?.referentialId);
  if (course) {
    const mapped = await queryRows<{ referential_id: string }>(
      ctx.store.db,
      sql`SELECT DISTINCT referential_id FROM activity_mappings WHERE course_id = ${course.id} ORDER BY referential_id`,
    );
    for (const r of mapped) add(r.referential_id);
  }
  const stored = await queryRows<{ referential_id: string }>(
    ctx.store.db,
    sql`SELECT DISTINCT referential_id FROM learner_coverage WHERE user_id = ${user.id} ORDER BY referential_id`,
  );
  for (const r of stored) add(r.referential_id);
  const credited = await queryRows<{ referential_id: string }>(
    ctx.store.db,
    sql`SELECT DISTINCT referential_id FROM manual_credits WHERE user_id = ${user.id} AND revoked_at IS NULL ORDER BY referential_id`,
  );
  for (const r of credited) add(r.referential_id);
  return ids;
}

function badgeCards(view: View, credentials: CredentialSummary[], publicUrl: string, organizationName: string): BadgeCard[] {
  const ref = view.referential;
  const credentialOf = (domainCode: string | null) => {
    const id = urls.achievement(publicUrl, achievementPath(ref.id, ref.version, domainCode));
    const mine = credentials.filter((c) => c.achievement.id === id);
    return mine.find((c) => c.status === 'active') ?? mine[mine.length - 1];
  };
  const card = (name: string, title: string, domainCode: string | null, required: number | null, validated: number | null): BadgeCard => {
    const credential = credentialOf(domainCode);
    const picture = badgeSvg({ title, requiredMinutes: minutesOf(required), domainCode });
    return {
      image: credential ? `/badges/${credential.id}/badge.svg` : `data:image/svg+xml;base64,${Buffer.from(picture).toString('base64')}`,
      ...(credential ? { png: `/badges/${credential.id}/badge.png`, svg: `/badges/${credential.id}/badge.svg` } : {}),
      name,
      domainCode,
      requiredHours: required,
      validatedHours: validated ?? 0,
      percent: percent(validated, required),
      state: credential ? credential.status : 'upcoming',
      ...(credential ? { credential } : {}),
      ...(credential?.status === 'active'
        ? { linkedIn: linkedInAddUrl({ name: credential.achievement.name, organizationName, issuedAt: credential.issuedAt, verifyUrl: credential.verifyUrl, id: credential.id }) }
        : {}),
    };
  };
  const cards = view.domains
    .filter((d) => d.requiredHours !== null && d.requiredHours > 0)
    .map((d) => card(credentialOf(d.code)?.achievement.name ?? `${d.title} — ${hoursText(d.requiredHours)}`, d.title, d.code, d.requiredHours, d.validatedHours));
  cards.push(
    card(
      credentialOf(null)?.achievement.name ?? `${ref.title}${view.requiredHours ? ` — ${hoursText(view.requiredHours)}` : ''}`,
      ref.title,
      null,
      view.requiredHours,
      view.validatedHours,
    ),
  );
  return cards;
}

export async function learnerProgress(
  ctx: AppContext,
  session: { platform: Platform; user: User; course: Course | undefined },
): Promise<ReferentialSection[]> {
  const deps = coverageDeps(ctx, ctx.store.db);
  const credentials = await listCredentials(ctx.store.db, ctx, session.user.id);
  const organizationName = credentials.length ? (await issuerProfileOf(ctx.store.db, ctx.config.publicUrl, session.platform.id)).name : '';
  const sections: ReferentialSection[] = [];
  // the learner records (issued again only when their hours or badges changed)
  const records = await ctx.store.db.transaction((tx) => currentRecords(tx, ctx, { platformId: session.platform.id, userId: session.user.id }));
  const recordOf = (ref: { id: string; version: string }) => records.find((r) => r.record.referentialId === ref.id && r.record.referentialVersion === ref.version)?.record;
  for (const id of await referentialIds(ctx, session.user, session.course)) {
    let view: View;
    try {
      view = await learnerView(ctx.store.db, deps, session.platform, session.user, id);
    } catch (error) {
      if (SocleError.is(error, 'not_found')) continue;
      throw error;
    }
    const pending = view.gaps.length ? await pendingActivities(ctx.store.db, session.platform.id, session.user.id, view.referential) : [];
    const credited = view.domains.some((d) => d.competencies.some((c) => c.credits.length > 0));
    const record = credited ? recordOf(view.referential) : undefined;
    sections.push({
      ...(record
        ? { record: { id: record.id, issuedAt: record.issuedAt.toISOString(), download: `/records/${record.id}/record.jwt`, verifyUrl: recordUrl(ctx.config.publicUrl, record.id) } }
        : {}),
      view,
      percent: view.hasHours ? percent(view.validatedHours, view.requiredHours) : percent(view.coveredCompetencies, view.totalCompetencies),
      empty: !credited,
      domains: view.domains.map((d) => ({
        ...d,
        percent: d.requiredHours === null ? percent(d.competencies.filter((c) => c.covered).length, d.competencies.length) : percent(d.validatedHours, d.requiredHours),
      })),
      badges: badgeCards(view, credentials, ctx.config.publicUrl, organizationName),
      nextSteps: nextSteps(view, pending),
    });
  }
  return sections;
}

/** One programme's forecast as "Ma progression" shows it: the status, the due date, what is left and where. */
export interface ForecastCard {
  programme: string;
  status: ForecastStatus;
  dueDate: string;
  daysLeft: number;
  missing: string;
  available: string;
  expected: string;
  /** The domains still missing minutes: what is left and what the courses still offer. */
  domains: { code: string; title: string; missing: string; available: string; short: boolean }[];
  /** The learner's reminder (null when done). */
  reminder: string | null;
}

/**
 * The learner's forecasts (one per programme they belong to through their courses), at today in the institution's
 * time zone, and whether they turned their reminder off.
 */
export async function learnerForecast(ctx: AppContext, session: { platform: Platform; user: User; locale: Locale }) {
  const t = translator(session.locale);
  const deps = coverageDeps(ctx, ctx.store.db);
  const today = await forecastDay(ctx.store.db, session.platform.id, ctx.clock());
  const forecasts = await learnerForecasts(ctx.store.db, session.platform.id, session.user.id, today, deps);
  const cards: ForecastCard[] = [];
  for (const f of forecasts) {
    const referential = await deps.lookup(f.referential.id, f.referential.version);
    const titleOf = (code: string) => referential?.domains.find((d) => d.code === code)?.title ?? code;
    const due = dayText(f.dueDate, session.locale);
    const missing = formatMinutes(f.missingMinutes);
    const available = formatMinutes(f.mappableMinutes);
    cards.push({
      programme: f.programmeName,
      status: f.status,
      dueDate: due,
      daysLeft: f.daysLeft,
      missing,
      available,
      expected: formatMinutes(f.expectedMinutes),
      domains: f.domains
        .filter((d) => d.requiredMinutes > d.validatedMinutes)
        .map((d) => ({
          code: d.code,
          title: titleOf(d.code),
          missing: formatMinutes(d.requiredMinutes - d.validatedMinutes),
          available: formatMinutes(d.mappableMinutes),
          short: f.shortDomains.includes(d.code),
        })),
      reminder: f.status === 'done' ? null : t(f.mappableMinutes > 0 ? 'me.reminder' : 'me.reminderNothingLeft', { missing, due, available }),
    });
  }
  const preference = await preferenceOf(ctx.store.db, session.user.id);
  return { forecasts: cards, reminderOff: Boolean(preference?.optedOutAt) };
}

addTexts({
  fr: {
    'me.forecastTitle': 'Mon échéance',
    'me.forecastNone': 'Vos cours ne font partie d’aucune formation suivie par Socle : votre échéance et ce qu’il vous reste à valider apparaîtront ici quand votre établissement aura déclaré la formation de vos cours.',
    'me.forecastProgramme': 'Formation « {{programme}} »',
    'me.forecastStatus': 'Prévision',
    'me.status.on_track': 'Dans les temps',
    'me.status.behind': 'En retard',
    'me.status.at_risk': 'À risque',
    'me.status.done': 'Terminé',
    'me.explain.on_track': 'Au rythme actuel, vous aurez tout validé avant l’échéance.',
    'me.explain.behind': 'Vous avez validé moins d’heures que prévu à cette date ({{expected}} attendues) : vous pouvez encore rattraper avec les activités de vos cours.',
    'me.explain.at_risk': 'Les activités de vos cours ne suffisent plus à tout valider avant l’échéance. Parlez-en à votre enseignant : il peut rattacher d’autres activités ou vous créditer une formation suivie ailleurs.',
    'me.explain.done': 'Vous avez validé toutes les heures requises de la formation.',
    'me.dueDate': 'Échéance',
    'me.daysLeft': '{{date}} (dans {{days}} jours)',
    'me.daysPast': '{{date}} (dépassée)',
    'me.hoursLeft': 'Heures restant à valider',
    'me.hoursAvailable': 'Heures disponibles dans vos cours',
    'me.leftByDomain': 'Ce qu’il vous reste par domaine',
    'me.leftMissing': 'Reste à valider',
    'me.leftAvailable': 'Disponible dans vos cours',
    'me.leftShort': 'insuffisant',
    'me.reminderTitle': 'Rappel',
    'me.reminder': 'Il vous reste {{missing}} à valider avant le {{due}} ; vos cours en proposent encore {{available}}.',
    'me.reminderNothingLeft': 'Il vous reste {{missing}} à valider avant le {{due}} ; vos cours n’en proposent plus : parlez-en à votre enseignant.',
    'me.reminderOff': 'Ne plus afficher ce rappel',
    'me.reminderOn': 'Afficher de nouveau le rappel',
    'me.reminderHidden': 'Vous avez masqué le rappel de votre échéance.',
    'me.tabs': 'Sections de la page',
    'me.tabHours': 'Mes heures',
    'me.tabBadges': 'Mes badges',
    'me.version': 'version {{version}}',
    'me.total': '{{validated}} validées sur {{required}}',
    'me.totalCompetencies': '{{covered}} compétences couvertes sur {{total}}',
    'me.complete': 'Bravo : vous avez validé l’ensemble du référentiel.',
    'me.byDomain': 'Heures validées par domaine',
    'me.domain': 'Domaine',
    'me.validated': 'Validées',
    'me.required': 'Requises',
    'me.progress': 'Avancement',
    'me.missing': 'Ce qu’il vous reste',
    'me.missingHours': '{{domain}} : encore {{hours}}',
    'me.missingCompetencies': '{{domain}} : {{count}} compétence(s) à couvrir',
    'me.nothingMissing': 'Plus rien : toutes les heures requises sont validées.',
    'me.next': 'Ce que vous pouvez faire maintenant',
    'me.nextIntro': 'Les activités de vos cours, pas encore terminées, qui vous créditeront des heures dans chaque domaine où il en manque.',
    'me.nextDomain': '{{domain}} — encore {{hours}}',
    'me.nextDomainCompetencies': '{{domain}} — {{count}} compétence(s) à couvrir',
    'me.nextActivity': '{{hours}} · compétence(s) {{codes}}',
    'me.nextCourse': 'cours « {{course}} »',
    'me.nextNone': 'Aucune activité de vos cours ne reste à faire pour ce domaine. Parlez-en à votre enseignant : il peut rattacher une autre activité ou vous créditer une formation suivie ailleurs.',
    'me.nextOpen': 'Ouvrir « {{name}} » dans Moodle',
    'me.details': 'Compétences et activités créditées',
    'me.competencyHours': '{{validated}} validées sur {{required}}',
    'me.competencyCredited': '{{validated}} validées',
    'me.noCredit': 'Aucune activité créditée pour l’instant.',
    'me.activity': 'Activité',
    'me.date': 'Date',
    'me.hours': 'Heures',
    'me.manual': 'Crédit manuel',
    'me.manualJustification': 'Justification : {{text}}',
    'me.unnamed': 'Activité sans nom',
    'me.empty': 'Vous n’avez encore aucune heure validée. Terminez les activités de votre cours : chaque activité rattachée au référentiel vous crédite ses heures, visibles ici au prochain chargement de la page.',
    'me.noReferential': 'Aucun référentiel n’est encore associé à ce cours. Votre enseignant doit d’abord rattacher les activités du cours aux compétences du référentiel.',
    'me.badgesIntro': 'Un badge numérique vérifiable (Open Badges 3.0) est délivré pour chaque domaine validé et pour le référentiel complet.',
    'me.earned': 'Badges obtenus',
    'me.upcoming': 'Badges à venir',
    'me.noEarned': 'Aucun badge obtenu pour l’instant.',
    'me.badgeActive': 'Obtenu le {{date}}',
    'me.badgeRevoked': 'Révoqué le {{date}} : {{reason}}',
    'me.badgeProgress': '{{validated}} sur {{required}}',
    'me.downloadPng': 'Télécharger (PNG)',
    'me.downloadSvg': 'Télécharger (SVG)',
    'me.verify': 'Lien de vérification à partager',
    'me.badgeImage': 'Image du badge « {{name}} »',
    'me.linkedin': 'Ajouter à LinkedIn',
    'me.walletsTitle': 'Portefeuilles de badges',
    'me.walletsIntro': 'Un portefeuille de badges (Open Badges 3.0) peut recevoir vos badges. Quand il vous affiche un code de connexion à Socle, saisissez-le ici :',
    'me.walletCode': 'Code affiché par le portefeuille',
    'me.walletSubmit': 'Continuer',
    'me.record': 'Mon relevé de formation',
    'me.recordIntro': 'Un relevé vérifiable (Comprehensive Learner Record 2.0) réunit vos heures validées par domaine et vos badges de ce référentiel, signé par l’établissement.',
    'me.recordDownload': 'Télécharger le relevé (CLR 2.0)',
    'me.recordIssued': 'Relevé du {{date}}',
  },
  en: {
    'me.forecastTitle': 'My deadline',
    'me.forecastNone': 'Your courses are in no programme Socle follows: your deadline and what is left to validate will appear here once your institution has declared your courses’ programme.',
    'me.forecastProgramme': 'Programme “{{programme}}”',
    'me.forecastStatus': 'Forecast',
    'me.status.on_track': 'On track',
    'me.status.behind': 'Behind',
    'me.status.at_risk': 'At risk',
    'me.status.done': 'Done',
    'me.explain.on_track': 'At your current pace, you will have validated everything by the deadline.',
    'me.explain.behind': 'You have validated fewer hours than expected by now ({{expected}} expected): the activities of your courses can still get you there.',
    'me.explain.at_risk': 'The activities of your courses are no longer enough to validate everything by the deadline. Ask your teacher: they can link other activities or credit training you followed elsewhere.',
    'me.explain.done': 'You have validated every required hour of the programme.',
    'me.dueDate': 'Deadline',
    'me.daysLeft': '{{date}} (in {{days}} days)',
    'me.daysPast': '{{date}} (passed)',
    'me.hoursLeft': 'Hours left to validate',
    'me.hoursAvailable': 'Hours available in your courses',
    'me.leftByDomain': 'What is left per domain',
    'me.leftMissing': 'Left to validate',
    'me.leftAvailable': 'Available in your courses',
    'me.leftShort': 'not enough',
    'me.reminderTitle': 'Reminder',
    'me.reminder': 'You have {{missing}} left to validate by {{due}}; your courses still offer {{available}}.',
    'me.reminderNothingLeft': 'You have {{missing}} left to validate by {{due}}; your courses offer none any more: ask your teacher.',
    'me.reminderOff': 'Stop showing this reminder',
    'me.reminderOn': 'Show the reminder again',
    'me.reminderHidden': 'You hid the reminder of your deadline.',
    'me.tabs': 'Page sections',
    'me.tabHours': 'My hours',
    'me.tabBadges': 'My badges',
    'me.version': 'version {{version}}',
    'me.total': '{{validated}} validated out of {{required}}',
    'me.totalCompetencies': '{{covered}} competencies covered out of {{total}}',
    'me.complete': 'Well done: you have validated the whole référentiel.',
    'me.byDomain': 'Validated hours per domain',
    'me.domain': 'Domain',
    'me.validated': 'Validated',
    'me.required': 'Required',
    'me.progress': 'Progress',
    'me.missing': 'Still to do',
    'me.missingHours': '{{domain}}: {{hours}} to go',
    'me.missingCompetencies': '{{domain}}: {{count}} competency(ies) to cover',
    'me.nothingMissing': 'Nothing: every required hour is validated.',
    'me.next': 'What you can do now',
    'me.nextIntro': 'The activities of your courses, not completed yet, that will credit hours in each domain where some are missing.',
    'me.nextDomain': '{{domain}} — {{hours}} to go',
    'me.nextDomainCompetencies': '{{domain}} — {{count}} competency(ies) to cover',
    'me.nextActivity': '{{hours}} · competency(ies) {{codes}}',
    'me.nextCourse': 'course “{{course}}”',
    'me.nextNone': 'No activity of your courses is left to do for this domain. Ask your teacher: they can link another activity or credit training you followed elsewhere.',
    'me.nextOpen': 'Open “{{name}}” in Moodle',
    'me.details': 'Competencies and credited activities',
    'me.competencyHours': '{{validated}} validated out of {{required}}',
    'me.competencyCredited': '{{validated}} validated',
    'me.noCredit': 'No credited activity yet.',
    'me.activity': 'Activity',
    'me.date': 'Date',
    'me.hours': 'Hours',
    'me.manual': 'Manual credit',
    'me.manualJustification': 'Justification: {{text}}',
    'me.unnamed': 'Unnamed activity',
    'me.empty': 'You have no validated hours yet. Complete your course’s activities: each activity linked to the référentiel credits its hours, shown here the next time the page loads.',
    'me.noReferential': 'No référentiel is linked to this course yet. Your teacher first has to link the course’s activities to the référentiel’s competencies.',
    'me.badgesIntro': 'A verifiable digital badge (Open Badges 3.0) is issued for each validated domain and for the whole référentiel.',
    'me.earned': 'Earned badges',
    'me.upcoming': 'Upcoming badges',
    'me.noEarned': 'No badge earned yet.',
    'me.badgeActive': 'Earned on {{date}}',
    'me.badgeRevoked': 'Revoked on {{date}}: {{reason}}',
    'me.badgeProgress': '{{validated}} of {{required}}',
    'me.downloadPng': 'Download (PNG)',
    'me.downloadSvg': 'Download (SVG)',
    'me.verify': 'Verification link to share',
    'me.badgeImage': 'Badge image “{{name}}”',
    'me.linkedin': 'Add to LinkedIn',
    'me.walletsTitle': 'Badge wallets',
    'me.walletsIntro': 'A badge wallet (Open Badges 3.0) can receive your badges. When it shows you a code to connect to Socle, enter it here:',
    'me.walletCode': 'Code shown by the wallet',
    'me.walletSubmit': 'Continue',
    'me.record': 'My learner record',
    'me.recordIntro': 'A verifiable record (Comprehensive Learner Record 2.0) gathers your validated hours per domain and your badges of this référentiel, signed by the institution.',
    'me.recordDownload': 'Download the record (CLR 2.0)',
    'me.recordIssued': 'Record of {{date}}',
  },
});
