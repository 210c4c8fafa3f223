/**
 * The instructor's cohort page (/lti/course/cohort): the course's learners × the référentiel's domains as a
 * heatmap table (validated / required hours in each cell), sortable and paginated, with the gradebook publication
 * for the whole roster. Only the course's instructors: names come from the platform and stay in the course.
 */
import { eq } from 'drizzle-orm';
import type { Express, Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { ltiCourseServices } from '../src/db/schema';
import { coverageDeps } from '../src/coverage/deps';
import { type CohortPage, cohortPage, CURSOR_PATTERN, cursorText, displayName, isKeyed, parseCursor, type SortDir, type SortKey } from '../src/gradebook/cohort';
import '../src/web/texts/programmes';
import { formatDate, formatMinutes } from '../src/domain/format';
import { publishCourse } from '../src/gradebook/publish';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { notFound, SocleError } from '../src/domain/errors';
import type { Course } from '../src/identity/records';
import { addTexts, translator } from '../src/web/i18n';
import { render } from '../src/web/render';
import type { LtiRuntime } from './runtime';
import { LTI_BASE } from '../src/lms/tool-config';
import { assertSameCourse, type LtiSession, requireRole } from './session';
import { alertsPanel } from './alerts';

export const COHORT_PAGE_SIZE = 25;

addTexts({
  fr: {
    'cohort.link': 'Progression de la promotion (heures validées par domaine)',
    'cohort.title': 'Progression de la promotion',
    'cohort.lead': '{{count}} apprenant(s) · référentiel « {{referential}} » ({{version}}) · {{hours}} h requises',
    'cohort.caption': 'Heures validées / heures requises par apprenant et par domaine',
    'cohort.learner': 'Apprenant',
    'cohort.total': 'Total',
    'cohort.sortBy': 'Trier par {{column}}',
    'cohort.sortedAsc': 'trié par ordre croissant',
    'cohort.sortedDesc': 'trié par ordre décroissant',
    'cohort.hours': '{{validated}} / {{required}}',
    'cohort.missing': 'Heures manquantes',
    'cohort.missingNone': 'aucune',
    'cohort.open': 'Voir le détail de {{name}}',
    'cohort.none': 'aucune heure',
    'cohort.complete': 'validé',
    'cohort.empty': 'Aucun apprenant dans ce cours pour le moment. Mettez à jour la liste des participants depuis la page du cours.',
    'cohort.noReferential': 'Ce cours n’a pas encore de référentiel : associez ses activités aux compétences pour voir la progression.',
    'cohort.legend': 'Part des heures requises validée',
    'cohort.level0': '0 %',
    'cohort.level1': 'moins de 33 %',
    'cohort.level2': 'de 33 % à moins de 67 %',
    'cohort.level3': 'de 67 % à moins de 100 %',
    'cohort.level4': '100 % : validé (✓)',
    'cohort.first': 'Première page',
    'cohort.pages': 'Pages',
    'cohort.page': 'Page {{page}} sur {{pages}}',
    'cohort.previous': 'Page précédente',
    'cohort.next': 'Page suivante',
    'cohort.back': 'Retour au cours',
    'cohort.backToCohort': 'Retour à la progression de la promotion',
    'cohort.gradebook': 'Carnet de notes Moodle',
    'cohort.gradebookLead': 'Envoie à Moodle les heures validées de chaque apprenant (note = heures validées, sur {{hours}}). Les notes sont ensuite renvoyées automatiquement quand la progression d’un apprenant change.',
    'cohort.noLineItem': 'Aucune colonne de carnet de notes n’est connue pour ce cours : ajoutez Socle au cours avec « Ajouter une activité » (sélection de contenu), puis lancez-le une fois.',
    'cohort.publish': 'Publier les heures dans le carnet de notes',
    'cohort.publishing': 'Publication en cours…',
    'cohort.result': 'Publication terminée : {{published}} note(s) publiée(s), {{skipped}} ignorée(s), {{failed}} en échec, sur {{total}} apprenant(s).',
    'cohort.skippedList': 'Ignorés',
    'cohort.failedList': 'En échec',
    'cohort.reason.not-gradable': 'non évaluable dans Moodle',
    'cohort.reason.no-line-item': 'pas de colonne de carnet de notes',
    'cohort.reason.no-hours': 'référentiel sans heures',
  },
  en: {
    'cohort.link': 'Cohort progress (validated hours per domain)',
    'cohort.title': 'Cohort progress',
    'cohort.lead': '{{count}} learner(s) · framework “{{referential}}” ({{version}}) · {{hours}} h required',
    'cohort.caption': 'Validated hours / required hours per learner and per domain',
    'cohort.learner': 'Learner',
    'cohort.total': 'Total',
    'cohort.sortBy': 'Sort by {{column}}',
    'cohort.sortedAsc': 'sorted ascending',
    'cohort.sortedDesc': 'sorted descending',
    'cohort.hours': '{{validated}} / {{required}}',
    'cohort.missing': 'Missing hours',
    'cohort.missingNone': 'none',
    'cohort.open': 'See the details of {{name}}',
    'cohort.none': 'no hours',
    'cohort.complete': 'validated',
    'cohort.empty': 'No learner in this course yet. Refresh the participant list from the course page.',
    'cohort.noReferential': 'This course has no framework yet: map its activities to competencies to see progress.',
    'cohort.legend': 'Share of the required hours validated',
    'cohort.level0': '0%',
    'cohort.level1': 'under 33%',
    'cohort.level2': '33% to under 67%',
    'cohort.level3': '67% to under 100%',
    'cohort.level4': '100%: validated (✓)',
    'cohort.first': 'First page',
    'cohort.pages': 'Pages',
    'cohort.page': 'Page {{page}} of {{pages}}',
    'cohort.previous': 'Previous page',
    'cohort.next': 'Next page',
    'cohort.back': 'Back to the course',
    'cohort.backToCohort': 'Back to the cohort progress',
    'cohort.gradebook': 'Moodle gradebook',
    'cohort.gradebookLead': 'Sends each learner’s validated hours to Moodle (grade = validated hours, out of {{hours}}). Grades are then re-sent automatically when a learner’s progress changes.',
    'cohort.noLineItem': 'No gradebook column is known for this course: add Socle to the course with “Add an activity” (content selection), then launch it once.',
    'cohort.publish': 'Publish hours to the gradebook',
    'cohort.publishing': 'Publishing…',
    'cohort.result': 'Publication done: {{published}} grade(s) published, {{skipped}} skipped, {{failed}} failed, out of {{total}} learner(s).',
    'cohort.skippedList': 'Skipped',
    'cohort.failedList': 'Failed',
    'cohort.reason.not-gradable': 'not gradable in Moodle',
    'cohort.reason.no-line-item': 'no gradebook column',
    'cohort.reason.no-hours': 'framework without hours',
  },
});

const cursor = z.string().regex(CURSOR_PATTERN, 'a cursor of a previous page').transform(parseCursor);
const query = z
  .object({
    sort: z
      .string()
      .regex(/^(missing|name|total|risk|domain:[\w.-]{1,40})$/, 'missing, name, total, risk or domain:<code>')
      .default('missing'),
    dir: z.enum(['asc', 'desc']).optional(),
    after: cursor.optional(),
    before: cursor.optional(),
    /** The position of the page's first learner (1 for the first page), as the links carry it: for display only. */
    from: z.coerce.number().int().min(1).max(10_000_000).default(1),
  })
  .refine((q) => !(q.after && q.before), { message: 'after or before, not both' })
  .refine((q) => {
    const c = q.after ?? q.before;
    const keyed = isKeyed(q.sort);
    return !c || (c.kind === 'key') === keyed;
  }, { message: 'this cursor belongs to another sort' })
  .refine((q) => !(q.before && q.before.kind === 'offset'), { message: 'before is for keyed sorts' });

/** The JSON API pages the same way, up to 500 learners a page (25 unless asked). */
const apiQuery = query.and(z.object({ limit: z.coerce.number().int().min(1).max(500).default(COHORT_PAGE_SIZE) }));

/** Which way a sort goes unless asked: names A→Z and risk at risk first, everything else most first (most missing hours first by default). */
const defaultDir = (sort: string): SortDir => (sort === 'name' || sort === 'risk' ? 'asc' : 'desc');

/** 0…4: nothing, < 1/3, < 2/3, < 1, complete (the figure is always written in the cell too). */
export function level(validated: number | null, required: number | null): number {
  const v = validated ?? 0;
  if (v <= 0) return 0;
  if (!required) return 3;
  const r = v / required;
  return r >= 1 ? 4 : r >= 2 / 3 ? 3 : r >= 1 / 3 ? 2 : 1;
}

function courseOf(s: LtiSession): Course {
  if (!s.course) throw notFound('No course in this launch.');
  return s.course;
}

async function pageOf(ctx: AppContext, s: LtiSession, course: Course, q: z.infer<typeof query>, limit: number): Promise<CohortPage | undefined> {
  try {
    const sort = q.sort as SortKey;
    return await cohortPage(ctx.store.db, coverageDeps(ctx, ctx.store.db), s.platform, course, {
      sort,
      dir: q.dir ?? defaultDir(sort),
      limit,
      ...(q.after ? { after: q.after } : {}),
      ...(q.before ? { before: q.before } : {}),
    });
  } catch (error) {
    if (SocleError.is(error, 'not_found')) return undefined;
    throw error;
  }
}

const fmt = (locale: 'fr' | 'en') => {
  const nf = new Intl.NumberFormat(locale === 'en' ? 'en-GB' : 'fr-FR', { maximumFractionDigits: 2 });
  return (n: number | null) => (n === null ? '—' : nf.format(n));
};
/** Hours as the learner's page writes them: "15 h 30". */
const hoursText = (h: number | null) => (h === null ? '—' : formatMinutes(Math.round(h * 60)));

/** Registers the cohort page and its APIs on ltijs' app (behind its session validator). */
export function cohortRoutes(ctx: AppContext, runtime: LtiRuntime, app: Express): void {
  const base = `${ctx.config.publicUrl}${LTI_BASE}`;
  const instructor = requireRole(ctx, 'instructor');

  app.get(
    '/course/cohort',
    instructor,
    asyncHandler(async (req: Request, res) => {
      const s = req.lti as LtiSession;
      const course = courseOf(s);
      const q = parseOr400(query, req.query, 'query');
      const t = translator(s.locale);
      const n = fmt(s.locale);
      const cohort = await pageOf(ctx, s, course, q, COHORT_PAGE_SIZE);
      const [services] = await ctx.store.db.select().from(ltiCourseServices).where(eq(ltiCourseServices.courseId, course.id));
      const sort = q.sort as SortKey;
      const dir: SortDir = q.dir ?? defaultDir(sort);
      const total = cohort?.total ?? 0;
      const pages = Math.max(1, Math.ceil(total / COHORT_PAGE_SIZE));
      const from = Math.min(q.from, Math.max(1, total));
      const page = Math.min(pages, Math.floor((from - 1) / COHORT_PAGE_SIZE) + 1);
      const ltik = encodeURIComponent(s.ltik);
      const link = (p: { sort?: string; dir?: string; after?: string; before?: string; from?: number }) =>
        `${LTI_BASE}/course/cohort?ltik=${ltik}&sort=${encodeURIComponent(p.sort ?? sort)}&dir=${p.dir ?? dir}` +
        `${p.after ? `&after=${p.after}` : ''}${p.before ? `&before=${p.before}` : ''}${p.from && p.from > 1 ? `&from=${p.from}` : ''}`;
      const column = (key: string, label: string) => {
        const active = key === sort;
        const next = active ? (dir === 'asc' ? 'desc' : 'asc') : defaultDir(key);
        return {
          label,
          href: link({ sort: key, dir: next }),
          aria: active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none',
          state: active ? t(dir === 'asc' ? 'cohort.sortedAsc' : 'cohort.sortedDesc') : '',
          arrow: active ? (dir === 'asc' ? '▲' : '▼') : '',
          sortLabel: t('cohort.sortBy', { column: label }),
        };
      };
      const cell = (validated: number | null, required: number | null) => {
        const lv = level(validated, required);
        return { level: lv, text: t('cohort.hours', { validated: hoursText(validated ?? 0), required: hoursText(required) }), done: lv === 4 };
      };
      const rows = (cohort?.learners ?? []).map((l) => ({
        name: displayName(l),
        sub: l.user.sub,
        href: `${LTI_BASE}/learners/${l.userId}?ltik=${ltik}`,
        open: t('cohort.open', { name: displayName(l) }),
        missing: l.missingHours ? hoursText(l.missingHours) : t('cohort.missingNone'),
        domains: l.domains.map((d) => cell(d.validatedHours, d.requiredHours)),
        total: cell(l.validatedHours, l.requiredHours),
        forecast: l.forecast
          ? { status: l.forecast.status, text: t(`forecast.${l.forecast.status}`), due: t('forecast.dueOn', { date: formatDate(`${l.forecast.dueDate}T12:00:00Z`, { locale: s.locale, style: 'short', timeZone: 'UTC' }) }) }
          : undefined,
      }));
      const shown = rows.length;
      const previous = cohort?.previous;
      const nextPage = cohort?.next;
      render(
        res,
        'cohort',
        {
          title: t('cohort.title'),
          ltik: s.ltik,
          newWindowUrl: `${base}${link({ ...(q.after ? { after: cursorText(q.after) } : {}), ...(q.before ? { before: cursorText(q.before) } : {}), from }).slice(LTI_BASE.length)}`,
          courseUrl: `${LTI_BASE}/course?ltik=${ltik}`,
          cohort: cohort
            ? {
                lead: t('cohort.lead', {
                  count: total,
                  referential: cohort.referential.title,
                  version: cohort.referential.version,
                  hours: n(cohort.requiredHours),
                }),
                requiredHours: n(cohort.requiredHours),
                columns: {
                  name: column('name', t('cohort.learner')),
                  missing: column('missing', t('cohort.missing')),
                  risk: column('risk', t('forecast.status')),
                  domains: cohort.domains.map((d) => ({ ...column(`domain:${d.code}`, `${d.code}. ${d.title}`), code: d.code, title: d.title, required: hoursText(d.requiredHours) })),
                  total: column('total', t('cohort.total')),
                },
                rows,
              }
            : undefined,
          page,
          pages,
          firstUrl: from > 1 ? link({}) : undefined,
          previousUrl: previous
            ? link({ ...previous, from: Math.max(1, from - COHORT_PAGE_SIZE) })
            : undefined,
          nextUrl: nextPage ? link({ after: nextPage.after, from: from + shown }) : undefined,
          levels: [0, 1, 2, 3, 4].map((l) => ({ level: l, label: t(`cohort.level${l}`) })),
          hasLineItem: Boolean(services?.lineitemUrl),
          ...(await alertsPanel(ctx, s, 'course', req.query.alerts === 'saved')),
          publishUrl: `${LTI_BASE}/api/courses/${course.id}/gradebook/publish`,
        },
        s.locale,
      );
    }),
  );

  app.get(
    '/api/courses/:courseId/cohort',
    instructor,
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      const course = assertSameCourse(s, Number(req.params.courseId));
      const q = parseOr400(apiQuery, req.query, 'query');
      const cohort = await pageOf(ctx, s, course, q, q.limit);
      if (!cohort) throw notFound(`Course ${course.contextId} has no référentiel yet.`);
      res.json({
        referential: cohort.referential,
        requiredHours: cohort.requiredHours,
        domains: cohort.domains,
        total: cohort.total,
        sort: q.sort,
        dir: q.dir ?? defaultDir(q.sort),
        next: cohort.next,
        previous: cohort.previous,
        learners: cohort.learners.map(({ userId: _id, forecast, ...l }) => ({ ...l, forecast: forecast ? { status: forecast.status, dueDate: forecast.dueDate, programme: { id: forecast.programmeId, name: forecast.programmeName } } : null })),
      });
    }),
  );

  app.post(
    '/api/courses/:courseId/gradebook/publish',
    instructor,
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      const course = assertSameCourse(s, Number(req.params.courseId));
      const report = await publishCourse(ctx, runtime.provider, s.platform, course);
      if (req.get('HX-Request') || req.accepts(['json', 'html']) === 'html') {
        const t = translator(s.locale);
        const reason = (r: string) => t(`cohort.reason.${r}`, { defaultValue: r });
        render(
          res,
          'cohort-result',
          {
            title: t('cohort.gradebook'),
            ltik: s.ltik,
            backUrl: `${LTI_BASE}/course/cohort?ltik=${encodeURIComponent(s.ltik)}`,
            summary: t('cohort.result', { published: report.published, skipped: report.skipped.length, failed: report.failed.length, total: report.total }),
            skipped: report.skipped.map((x) => ({ name: x.name, why: reason(x.reason) })),
            failed: report.failed.map((x) => ({ name: x.name, why: x.error })),
          },
          s.locale,
        );
        return;
      }
      res.json(report);
    }),
  );
}
