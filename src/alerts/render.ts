/**
 * A weekly digest as an e-mail: a subject, plain text and simple HTML, in the recipient's language (French unless
 * their launches say English). Every value from the platform (names, titles) is escaped in the HTML.
 */
import { formatDate, formatMinutes, frenchSpacing } from '../domain/format';
import type { Locale } from '../domain/locale';
import type { Digest, DigestSection } from './digest';

const TEXTS = {
  fr: {
    subject: 'Socle : alertes de la semaine du {week}',
    hello: 'Bonjour {name},',
    helloNoName: 'Bonjour,',
    lead: 'Voici les alertes hebdomadaires de Socle pour la semaine du {week}.',
    course: 'Cours « {title} »',
    programme: 'Formation « {title} »',
    learners: '{count} apprenant(s)',
    newlyAtRisk: 'Apprenants nouvellement à risque ({count})',
    atRiskLine: '{name} : {hours} à valider avant le {due}',
    stillAtRisk: '{count} autre(s) apprenant(s) déjà signalé(s) reste(nt) à risque.',
    uncovered: 'Domaines que personne n’a encore couverts ({count})',
    neverCompleted: 'Activités rattachées jamais terminées ({count})',
    inCourse: 'cours « {title} »',
    nothing: 'Rien à signaler.',
    where: 'Le détail est dans Socle : ouvrez Socle depuis votre cours Moodle (page « Progression de la promotion ») ou depuis l’administration.',
    optOut: 'Ne plus recevoir ces alertes : {url}',
    optOutHtml: 'Ne plus recevoir ces alertes',
  },
  en: {
    subject: 'Socle: alerts for the week of {week}',
    hello: 'Hello {name},',
    helloNoName: 'Hello,',
    lead: 'Here are Socle’s weekly alerts for the week of {week}.',
    course: 'Course “{title}”',
    programme: 'Programme “{title}”',
    learners: '{count} learner(s)',
    newlyAtRisk: 'Learners newly at risk ({count})',
    atRiskLine: '{name}: {hours} to validate by {due}',
    stillAtRisk: '{count} other learner(s) reported before still at risk.',
    uncovered: 'Domains nobody has covered yet ({count})',
    neverCompleted: 'Mapped activities never completed ({count})',
    inCourse: 'course “{title}”',
    nothing: 'Nothing to report.',
    where: 'The details are in Socle: open Socle from your Moodle course (“Cohort progress” page) or from the administration.',
    optOut: 'Stop receiving these alerts: {url}',
    optOutHtml: 'Stop receiving these alerts',
  },
} as const;

type Key = keyof (typeof TEXTS)['fr'];

export function digestText(locale: Locale) {
  return (key: Key, values: Record<string, string | number> = {}) => {
    const text = TEXTS[locale][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
    return locale === 'fr' ? frenchSpacing(text) : text;
  };
}

/** A calendar date (YYYY-MM-DD) as a person reads it: 31/08/2027. */
export const dayText = (date: string, locale: Locale) => formatDate(`${date}T12:00:00Z`, { locale, style: 'short', timeZone: 'UTC' });

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** One section's blocks: a heading, its lists and a note (the same for the text, the HTML and the pages). */
export function digestBlocks(section: DigestSection, locale: Locale) {
  const t = digestText(locale);
  const lists: { title: string; items: string[] }[] = [];
  if (section.newlyAtRisk.length) {
    lists.push({
      title: t('newlyAtRisk', { count: section.newlyAtRisk.length }),
      items: section.newlyAtRisk.map((l) => t('atRiskLine', { name: l.name, hours: formatMinutes(l.minutesLeft), due: dayText(l.dueDate, locale) })),
    });
  }
  if (section.uncoveredDomains.length) {
    lists.push({ title: t('uncovered', { count: section.uncoveredDomains.length }), items: section.uncoveredDomains.map((d) => `${d.code}. ${d.title}`) });
  }
  if (section.neverCompleted.length) {
    lists.push({
      title: t('neverCompleted', { count: section.neverCompleted.length }),
      items: section.neverCompleted.map((a) => (section.kind === 'programme' && a.courseTitle ? `${a.name} (${t('inCourse', { title: a.courseTitle })})` : a.name)),
    });
  }
  const still = section.atRisk.length - section.newlyAtRisk.length;
  return {
    heading: `${t(section.kind, { title: section.title })} · ${t('learners', { count: section.learners })}`,
    lists,
    note: still > 0 ? t('stillAtRisk', { count: still }) : lists.length ? undefined : t('nothing'),
  };
}

export interface RenderedDigest {
  subject: string;
  text: string;
  html: string;
}

export function renderDigest(digest: Digest, optOutUrl: string): RenderedDigest {
  const { locale } = digest;
  const t = digestText(locale);
  const week = dayText(digest.week, locale);
  const hello = digest.name ? t('hello', { name: digest.name }) : t('helloNoName');
  const sections = digest.sections.map((s) => digestBlocks(s, locale));
  const text = [
    hello,
    '',
    t('lead', { week }),
    ...sections.flatMap((s) => [
      '',
      s.heading,
      ...s.lists.flatMap((l) => [`  ${l.title}${locale === 'fr' ? '\u00a0:' : ':'}`, ...l.items.map((i) => `   - ${i}`)]),
      ...(s.note ? [`  ${s.note}`] : []),
    ]),
    '',
    t('where'),
    '',
    '-- ',
    t('optOut', { url: optOutUrl }),
    '',
  ].join('\n');
  const e = escapeHtml;
  const html = [
    `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${e(t('subject', { week }))}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5;color:#1a1a1a;max-width:40em">',
    `<p>${e(hello)}</p>`,
    `<p>${e(t('lead', { week }))}</p>`,
    ...sections.map(
      (s) =>
        `<h2 style="font-size:1.1em">${e(s.heading)}</h2>` +
        s.lists.map((l) => `<h3 style="font-size:1em">${e(l.title)}</h3><ul>${l.items.map((i) => `<li>${e(i)}</li>`).join('')}</ul>`).join('') +
        (s.note ? `<p>${e(s.note)}</p>` : ''),
    ),
    `<p>${e(t('where'))}</p>`,
    `<hr><p style="font-size:0.9em"><a href="${e(optOutUrl)}">${e(t('optOutHtml'))}</a></p>`,
    '</body></html>',
  ].join('\n');
  return { subject: t('subject', { week }), text, html };
}
