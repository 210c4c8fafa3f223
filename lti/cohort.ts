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
import { type Cohort, type CohortLearner, displayName, loadCohort, type SortDir, type SortKey, sortLearners } from '../src/gradebook/cohort';
import { publishCourse } from '../src/gradebook/publish';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { notFound, SocleError } from '../src/domain/errors';
import type { Course } from '../src/identity/records';
import { addTexts, translator } from '../src/web/i18n';
import { render } from '../src/web/render';
import type { LtiRuntime } from './runtime';
import { LTI_BASE } from '../src/lms/tool-config';
import { assertSameCourse, type LtiSession, requireRole } from './session';

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
    'cohort.hours': '{{validated}} / {{required}} h',
    'cohort.none': 'aucune heure',
    'cohort.complete': 'validé',
    'cohort.empty': 'Aucun apprenant dans ce cours pour le moment. Mettez à jour la liste des participants depuis la page du cours.',
    'cohort.noReferential': 'Ce cours n’a pas encore de référentiel : associez ses activités aux compétences pour voir la progression.',
    'cohort.legend': 'Légende',
    'cohort.level0': 'rien validé',
    'cohort.level1': 'moins d’un tiers',
    'cohort.level2': 'd’un tiers à deux tiers',
    'cohort.level3': 'plus de deux tiers',
    'cohort.level4': 'domaine validé (✓)',
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
    'cohort.hours': '{{validated}} / {{required}} h',
    'cohort.none': 'no hours',
    'cohort.complete': 'validated',
    'cohort.empty': 'No learner in this course yet. Refresh the participant list from the course page.',
    'cohort.noReferential': 'This course has no framework yet: map its activities to competencies to see progress.',
    'cohort.legend': 'Legend',
    'cohort.level0': 'nothing validated',
    'cohort.level1': 'less than a third',
    'cohort.level2': 'a third to two thirds',
    'cohort.level3': 'more than two thirds',
    'cohort.level4': 'domain validated (✓)',
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

const query = z.object({
  sort: z
    .string()
    .regex(/^(name|total|domain:[\w.-]{1,40})$/, 'name, total or domain:<code>')
    .default('name'),
  dir: z.enum(['asc', 'desc']).optional(),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});

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

async function cohortOf(ctx: AppContext, s: LtiSession, course: Course): Promise<Cohort | undefined> {
  try {
    return await loadCohort(ctx.store.db, coverageDeps(ctx, ctx.store.db), s.platform, course);
  } catch (error) {
    if (SocleError.is(error, 'not_found')) return undefined;
    throw error;
  }
}

const fmt = (locale: 'fr' | 'en') => {
  const nf = new Intl.NumberFormat(locale === 'en' ? 'en-GB' : 'fr-FR', { maximumFractionDigits: 2 });
  return (n: number | null) => (n === null ? '—' : nf.format(n));
};

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
      const cohort = await cohortOf(ctx, s, course);
      const [services] = await ctx.store.db.select().from(ltiCourseServices).where(eq(ltiCourseServices.courseId, course.id));
      const sort = q.sort as SortKey;
      const dir: SortDir = q.dir ?? (sort === 'name' ? 'asc' : 'desc');
      const learners = cohort ? sortLearners(cohort.learners, sort, dir) : [];
      const pages = Math.max(1, Math.ceil(learners.length / COHORT_PAGE_SIZE));
      const page = Math.min(q.page, pages);
      const shown = learners.slice((page - 1) * COHORT_PAGE_SIZE, page * COHORT_PAGE_SIZE);
      const ltik = encodeURIComponent(s.ltik);
      const link = (p: { sort?: string; dir?: string; page?: number }) =>
        `${LTI_BASE}/course/cohort?ltik=${ltik}&sort=${encodeURIComponent(p.sort ?? sort)}&dir=${p.dir ?? dir}&page=${p.page ?? 1}`;
      const column = (key: string, label: string) => {
        const active = key === sort;
        const next = active ? (dir === 'asc' ? 'desc' : 'asc') : key === 'name' ? 'asc' : 'desc';
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
        return { level: lv, text: t('cohort.hours', { validated: n(validated ?? 0), required: n(required) }), done: lv === 4 };
      };
      const rows = shown.map((l: CohortLearner) => ({
        name: displayName(l),
        sub: l.user.sub,
        domains: l.domains.map((d) => cell(d.validatedHours, d.requiredHours)),
        total: cell(l.validatedHours, l.requiredHours),
      }));
      render(
        res,
        'cohort',
        {
          title: t('cohort.title'),
          ltik: s.ltik,
          newWindowUrl: `${base}/course/cohort?ltik=${ltik}&sort=${encodeURIComponent(sort)}&dir=${dir}&page=${page}`,
          courseUrl: `${LTI_BASE}/course?ltik=${ltik}`,
          cohort: cohort
            ? {
                lead: t('cohort.lead', {
                  count: learners.length,
                  referential: cohort.referential.title,
                  version: cohort.referential.version,
                  hours: n(cohort.requiredHours),
                }),
                requiredHours: n(cohort.requiredHours),
                columns: {
                  name: column('name', t('cohort.learner')),
                  domains: cohort.domains.map((d) => ({ ...column(`domain:${d.code}`, `${d.code}. ${d.title}`), code: d.code, title: d.title, required: n(d.requiredHours) })),
                  total: column('total', t('cohort.total')),
                },
                rows,
              }
            : undefined,
          page,
          pages,
          previousUrl: page > 1 ? link({ page: page - 1 }) : undefined,
          nextUrl: page < pages ? link({ page: page + 1 }) : undefined,
          pageLinks: Array.from({ length: pages }, (_, i) => ({ page: i + 1, href: link({ page: i + 1 }), current: i + 1 === page })),
          hasLineItem: Boolean(services?.lineitemUrl),
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
      const q = parseOr400(query, req.query, 'query');
      const cohort = await cohortOf(ctx, s, course);
      if (!cohort) throw notFound(`Course ${course.contextId} has no référentiel yet.`);
      const sort = q.sort as SortKey;
      const learners = sortLearners(cohort.learners, sort, q.dir ?? (sort === 'name' ? 'asc' : 'desc'));
      const pages = Math.max(1, Math.ceil(learners.length / COHORT_PAGE_SIZE));
      res.json({
        referential: cohort.referential,
        requiredHours: cohort.requiredHours,
        domains: cohort.domains,
        total: learners.length,
        page: q.page,
        pages,
        learners: learners.slice((q.page - 1) * COHORT_PAGE_SIZE, q.page * COHORT_PAGE_SIZE).map(({ userId: _id, ...l }) => l),
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
