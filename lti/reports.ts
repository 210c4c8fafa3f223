import { and, eq, inArray } from 'drizzle-orm';
import type { AppContext } from '../src/context';
import { courses, users } from '../src/db/schema';
import { canSeeJob, jobView, type ReportPrincipal } from '../src/reports/access';
import { ltiActor } from '../src/identity/records';
import { forbidden } from '../src/domain/errors';
import { formatDate, formatPercent, NBSP } from '../src/domain/format';
import type { LtiSession } from './session';
import { listReferentials } from '../src/referentials/catalogue';
import { listJobs } from '../src/reports/jobs';
import { canonicalFormat, type ExportRegistry, reportFormats } from '../src/reports/kinds';
import { translator } from '../src/web/i18n';
import { complianceSummary } from '../src/reports/source';
import '../src/web/texts/reports';

const REPORTS_BASE = '/lti/api/reports';

/**
 * The export form's buttons: the first kind offered is the form's own (its formats submit the form, in a labelled
 * group); the buttons of the others follow, each queuing its kind and format.
 */
function exportButtons(kinds: ExportRegistry, locale: ReportPrincipal['locale']) {
  const offered = kinds.kinds.flatMap(({ name, label, page }) => {
    if (!page) return [];
    const buttons = page.buttons.map((b) => ({ kind: name, format: b.format, label: b.label[locale], secondary: b.secondary ?? false }));
    return [{ kind: name, group: (page.group ?? label)[locale], buttons }];
  });
  const [own, ...others] = offered;
  return { own, others: others.flatMap((k) => k.buttons) };
}

/** What the reports section of the admin (or course) page shows: filters, dashboard, recent exports. */
/** The reports panel; `timeZone`: the institution's, for the dates of the jobs. */
export async function reportsPanel(ctx: AppContext, p: ReportPrincipal, ltik: string, timeZone?: string) {
  const db = ctx.store.db;
  const allCourses = await db
    .select({ contextId: courses.contextId, title: courses.title })
    .from(courses)
    .where(eq(courses.platformId, p.platformId))
    .orderBy(courses.title, courses.contextId);
  const limited = p.courses !== 'all';
  const visibleCourses = p.courses === 'all' ? allCourses : allCourses.filter((c) => p.courses.includes(c.contextId));
  const query = { platformId: p.platformId, filters: limited ? { courses: p.courses as string[] } : {} };
  const { learners, compliant, domains: summary } = await complianceSummary(db, ctx.compliance, query);
  const domains = summary.map((d) => {
    const rate = d.learners ? Math.round((d.compliant / d.learners) * 1000) / 10 : 0;
    return { ...d, rate, rateText: formatPercent(rate / 100, p.locale) };
  });
  const t = translator(p.locale);
  const formatLabel = (name: string) => {
    const format = canonicalFormat(name, 'api');
    return format ? reportFormats[format].label[p.locale] : name;
  };
  // who asked, when it was not an LTI user of this platform: the command line or an API token
  const requester = (actor: string) =>
    actor === 'cli' ? t('reports.who.cli') : actor.startsWith('api-token:') ? t('reports.who.apiToken', { name: actor.slice('api-token:'.length) }) : actor.replace(/^lti:[^#]*#/, '');
  const jobs = (await listJobs(db, { platformId: p.platformId, limit: 50 }))
    .filter((j) => canSeeJob(p, j))
    .slice(0, 10);
  // Who asked: the name of an LTI user of this platform when known, else the audit identity.
  const prefix = `lti:${p.issuer}#`;
  const subs = [...new Set(jobs.map((j) => j.requestedBy).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length)))];
  const names = new Map(
    subs.length
      ? (
          await db
            .select({ sub: users.sub, name: users.name })
            .from(users)
            .where(and(eq(users.platformId, p.platformId), inArray(users.sub, subs)))
        ).map((u) => [`${prefix}${u.sub}`, u.name ?? u.sub])
      : [],
  );
  return {
    limited,
    courses: visibleCourses,
    referentials: (await listReferentials(db)).map((r) => ({ id: r.id, version: r.version })),
    dashboard: { learners, compliant, domains },
    exportsUrl: `${REPORTS_BASE}/exports`,
    exportButtons: exportButtons(ctx.reports, p.locale),
    colon: p.locale === 'en' ? ': ' : `${NBSP}: `,
    semicolon: p.locale === 'en' ? '; ' : `${NBSP}; `,
    jobs: jobs.map((j) => ({
      ...jobView(j, REPORTS_BASE, ltik),
      at: formatDate(j.createdAt, { locale: p.locale, style: 'dateTime', timeZone }),
      what: ctx.reports.label(j.kind, p.locale),
      formatLabel: formatLabel(j.format),
      who: names.get(j.requestedBy) ?? requester(j.requestedBy),
    })),
  };
}

/** An administrator sees the whole platform; an instructor only the course of their launch. */
export function reportPrincipalOf(s: LtiSession): ReportPrincipal {
  const base = { actor: ltiActor(s.platform.issuer, s.user.sub), platformId: s.platform.id, issuer: s.platform.issuer, locale: s.locale };
  if (s.roles.includes('administrator')) return { ...base, courses: 'all' };
  if (s.roles.includes('instructor') && s.course) return { ...base, courses: [s.course.contextId] };
  throw forbidden('Reports are reserved for administrators of the platform and instructors of the course.');
}
