import { createHash } from 'node:crypto';
import { and, desc, eq, inArray } from 'drizzle-orm';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { LtiSession } from './session';
import { assertSameCourse, requireRole } from './session';
import type { AppContext } from '../src/context';
import { auditEvents, courseSettings, platformSettings, users } from '../src/db/schema';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { invalid, notFound, SocleError } from '../src/domain/errors';
import { type Course, ltiActor } from '../src/identity/records';
import { listReferentials } from '../src/referentials/catalogue';
import { formatDate, formatMinutes } from '../src/domain/format';
import type { Referential } from '../src/domain/referential';
import { type Locale, translator } from '../src/web/i18n';
import { LTI_BASE } from '../src/lms/tool-config';
import { render, renderFragment } from '../src/web/render';
import {
  copyMapping,
  courseActivityList,
  coursePolicy,
  courseReferential,
  exportMapping,
  importMapping,
  otherCourses,
  replaceMapping,
  saveActivitiesPairs,
  saveActivityPairs,
  setCoursePolicy,
  setCourseReferential,
} from '../src/mapping/course';
import { formatHours, parseHours } from '../src/mapping/csv';
import { MAX_MINUTES, type MappingEntry, summarizeByDomain } from '../src/domain/mapping';
import { addManualActivity, getMapping, type ListedActivity, mappingHistory, refreshActivities } from '../src/mapping/service';
import '../src/web/texts/mapping';
import { isMultipart, parseMultipart } from '../src/web/multipart';

/** The actor recorded in the audit log for a launch's user. */
const actorOf = (s: LtiSession) => ltiActor(s.platform.issuer, s.user.sub);

/** A DOM id for an activity (IRIs are URLs). */
const domId = (iri: string) => `a${createHash('sha1').update(iri).digest('hex').slice(0, 10)}`;

/** The parts of the course page, each at its own URL (`/lti/course?tab=…`): they fit Moodle's iframe. */
export const COURSE_TABS = ['activities', 'rule', 'transfer', 'history', 'roster', 'reports'] as const;
export type CourseTab = (typeof COURSE_TABS)[number];
export const courseTab = (value: unknown): CourseTab => (COURSE_TABS as readonly unknown[]).includes(value) ? (value as CourseTab) : 'activities';
/** The course page's URL for a tab (with the session's ltik: every LTI page request carries it). */
export const courseTabUrl = (ltik: string, tab: CourseTab) => `${LTI_BASE}/course?ltik=${encodeURIComponent(ltik)}${tab === 'activities' ? '' : `&tab=${tab}`}`;

/**
 * A mapping problem as the page says it, in the session's language: the messages of the mapping rules, the
 * hour parsing and the CSV file are English (the JSON API's details); the page translates the known ones.
 */
const PROBLEMS: [RegExp, string][] = [
  [/^expected a number of hours(?: greater than 0)? .*found "(.*)"$/, 'mapping.problem.notHours'],
  [/^hours must be greater than 0$/, 'mapping.problem.positive'],
  [/^hours must be a multiple of a quarter hour \(0[.,]25\)(?:, found "(.*)")?$/, 'mapping.problem.quarter'],
  [/^hours must be at most (\d+)$/, 'mapping.problem.max'],
  [/^choose a competency, or clear the hours to remove this line$/, 'mapping.problem.chooseCompetency'],
  [/^no competency (.+) in (.+)$/, 'mapping.problem.unknownCompetency'],
  [/^activity .* is already mapped to (.+)$/, 'mapping.problem.duplicate'],
  [/^activity .* is not an activity of this course$/, 'mapping.problem.notInCourse'],
];
export function problemText(locale: Locale, message: string): string {
  const t = translator(locale);
  for (const [pattern, key] of PROBLEMS) {
    const m = pattern.exec(message);
    if (m) return t(key, { value: m[1] ?? '', other: m[2] ?? '' });
  }
  return message;
}
/** A CSV problem's place ("line 3 hours") in the page's language. */
const problemPath = (locale: Locale, path: string) => (locale === 'fr' ? path.replace(/^line (\d+)/, 'ligne $1') : path);

const pageProblems = (locale: Locale, details: readonly { path: string; message: string }[]) =>
  details.map((d) => ({ path: problemPath(locale, d.path), message: problemText(locale, d.message) }));

/** Hours as the page prints them: `1,5` in French, `1.5` in English. */
const hoursText = (minutes: number, locale: Locale) => (locale === 'en' ? String(minutes / 60) : formatHours(minutes));

/** Hours given as a number (JSON) or text (`1,5`, `1.5`) → minutes; null when not a number of hours. */
function toMinutes(value: number | string): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value * 60 * 1000) / 1000 : null;
  if (/^\s*-\s*\d/.test(value)) return -1;
  return parseHours(value);
}

const hoursValue = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const minutes = toMinutes(v);
  if (minutes === null) {
    ctx.addIssue({ code: 'custom', message: `expected a number of hours such as 1.5 or 1,5, found "${v}"` });
    return z.NEVER;
  }
  return minutes;
});

const entrySchema = z.object({
  activityIri: z.string().min(1, 'required'),
  competencyKey: z.string().min(1, 'required'),
  hours: hoursValue,
});
const mappingBody = z.object({ entries: z.array(entrySchema).max(5_000) });

/** Form fields repeat (`competencyKey=…&competencyKey=…`): one value arrives as a string, several as an array. */
const many = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
const manyHours = z
  .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))])
  .optional()
  .transform((v) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String)));
/**
 * A row's lines: `competencyKey`/`hours` (one row alone, as the JSON API sends them), or the page's own fields
 * `c.<row id>`/`h.<row id>` (the whole table is one form: every row's fields arrive, each row reads its own).
 */
function rowLines(raw: Record<string, unknown>, id: string, fallback: { competencyKey: string[]; hours: string[] }) {
  const own = `c.${id}` in raw || `h.${id}` in raw;
  const keys = own ? many.parse(raw[`c.${id}`]) : fallback.competencyKey;
  const hours = own ? manyHours.parse(raw[`h.${id}`]) : fallback.hours;
  return keys.map((competencyKey, i) => ({ competencyKey, hours: hours[i] ?? '' })).filter((l) => l.competencyKey !== '' || l.hours.trim() !== '');
}
/** The page's "save all": the ids of the rows the form holds (`row=<id>`, repeated), each row's own fields. */
const bulkBody = z.object({ row: many, only: z.string().max(40).optional() }).passthrough();
const rowBody = z.object({
  activityIri: z.string().min(1, 'required'),
  competencyKey: many,
  hours: manyHours,
  intent: z
    .string()
    .regex(/^(save|add|remove:\d+)$/, 'save, add or remove:<n>')
    .default('save'),
});

const referentialBody = z.union([
  z.object({ referential: z.string().regex(/^[^@]+@.+$/, 'expected <id>@<version>') }).transform((b) => {
    const at = b.referential.indexOf('@');
    return { referentialId: b.referential.slice(0, at), version: b.referential.slice(at + 1) };
  }),
  z.object({ referentialId: z.string().min(1), version: z.string().min(1).optional() }),
]);

const checkbox = z
  .union([z.boolean(), z.enum(['on', 'true', 'false', '1', '0'])])
  .optional()
  .transform((v) => v === true || v === 'on' || v === 'true' || v === '1');
const policyBody = z.object({ crediting: z.enum(['completion', 'success']), capToMeasuredDuration: checkbox });
const manualBody = z.object({ name: z.string().trim().min(1, 'required').max(200, 'at most 200 characters') });
const copyBody = z.object({ fromCourseId: z.coerce.number().int().positive() });

const isHtmx = (req: Request) => req.get('HX-Request') === 'true';

function session(req: Request): LtiSession {
  if (!req.lti) throw new Error('no session');
  return req.lti;
}

/** The session's course, checked against the URL's id: another course's id is 403. */
function ownCourse(req: Request): { s: LtiSession; course: Course } {
  const s = session(req);
  const id = Number(req.params.courseId);
  if (!Number.isInteger(id)) throw notFound('No such course.');
  return { s, course: assertSameCourse(s, id) };
}

async function requireReferential(ctx: AppContext, course: Course): Promise<Referential> {
  const { referential } = await courseReferential(ctx.store.db, course);
  if (!referential) throw new SocleError('no_referential', 'Choose a référentiel for this course first.', [{ path: 'referential', message: 'none chosen' }]);
  return referential;
}

/** A mapping request refused with details the page shows (field, CSV line). */
const isRefusal = (error: unknown): error is SocleError => SocleError.is(error, 'invalid_request', 'not_found');

/** Multipart upload of one file, read without a dependency (the page's import form; ≤ 2 MB). */
async function fileFromMultipart(req: Request): Promise<string | undefined> {
  if (!isMultipart(req.body, req.get('Content-Type'))) return undefined;
  return (await parseMultipart(req.body, req.get('Content-Type'))).files.file?.data.toString('utf8');
}

type Row = {
  activity: ListedActivity;
  id: string;
  pairs: { competencyKey: string; hours: string; error?: string | undefined; competencyError?: string | undefined }[];
  errors: string[];
  saved?: boolean;
};

/**
 * Checks a row's lines before saving: a competency for each line, hours that parse, > 0 and within the maximum.
 * Marks the lines in error (in the page's language) and returns the pairs to save and the problems (English, API).
 */
function checkLines(row: Row, locale: Locale, pathOf: (line: number, field: string) => string) {
  const problems: { path: string; message: string }[] = [];
  const pairs: { competencyKey: string; minutes: number }[] = [];
  const fail = (i: number, field: 'competencyKey' | 'hours', message: string) => {
    const line = row.pairs[i];
    if (line && field === 'competencyKey') line.competencyError = problemText(locale, message);
    else if (line) line.error = problemText(locale, message);
    problems.push({ path: pathOf(i, field), message });
  };
  row.pairs.forEach((p, i) => {
    if (!p.competencyKey) return fail(i, 'competencyKey', 'choose a competency, or clear the hours to remove this line');
    const minutes = toMinutes(p.hours);
    if (minutes === null) return fail(i, 'hours', `expected a number of hours such as 1,5 — found "${p.hours}"`);
    if (minutes <= 0) return fail(i, 'hours', 'hours must be greater than 0');
    if (minutes > MAX_MINUTES) return fail(i, 'hours', `hours must be at most ${MAX_MINUTES / 60}`);
    pairs.push({ competencyKey: p.competencyKey, minutes });
  });
  return { pairs, problems };
}

/** Puts the mapping rules' refusals (paths `<prefix>pairs[i].field`) on the lines of the row they name. */
function markRefusal(row: Row, locale: Locale, field: string | undefined, line: number | undefined, message: string) {
  const target = line === undefined ? undefined : row.pairs[line];
  if (target && field === 'competencyKey') target.competencyError = problemText(locale, message);
  else if (target) target.error = problemText(locale, message);
  else row.errors.push(problemText(locale, message));
}

function rowOf(activity: ListedActivity, entries: readonly MappingEntry[], locale: Locale): Row {
  return {
    activity,
    id: domId(activity.iri),
    pairs: entries.filter((e) => e.activityIri === activity.iri).map((e) => ({ competencyKey: e.competencyKey, hours: hoursText(e.minutes, locale) })),
    errors: [],
  };
}

function summaryView(referential: Referential | undefined, entries: readonly MappingEntry[]) {
  if (!referential) return [];
  return summarizeByDomain(referential, entries).map((d) => ({
    ...d,
    mapped: formatMinutes(d.mappedMinutes),
    required: d.requiredMinutes === null ? null : formatMinutes(d.requiredMinutes),
    complete: d.requiredMinutes !== null && d.mappedMinutes >= d.requiredMinutes,
    /** More hours mapped than the domain requires: what is beyond counts for no one (a warning, not an error). */
    over: d.requiredMinutes !== null && d.mappedMinutes > d.requiredMinutes ? formatMinutes(d.mappedMinutes - d.requiredMinutes) : null,
  }));
}

function describeEntries(value: unknown, locale: Locale, names: Map<string, string>): string[] {
  const entries = (value as { entries?: MappingEntry[] } | null)?.entries;
  if (!Array.isArray(entries)) return [];
  const byActivity = new Map<string, string[]>();
  for (const e of entries) byActivity.set(e.activityIri, [...(byActivity.get(e.activityIri) ?? []), `${e.competencyKey} : ${hoursText(e.minutes, locale)} h`]);
  return [...byActivity].map(([iri, pairs]) => `${names.get(iri) ?? iri} — ${pairs.join(', ')}`);
}

/** Before/after of each audited change, limited to the activities whose pairs changed. */
function historyView(rows: Awaited<ReturnType<typeof mappingHistory>>, locale: Locale, timeZone: string, names: Map<string, string>, people: Map<string, string>) {
  const when = (d: Date) => formatDate(d, { locale, style: 'dateTime', timeZone });
  return rows.map((r) => {
    let before: string[] = [];
    let after: string[] = [];
    if (r.action === 'mapping.save' || r.action === 'mapping.transition') {
      // a référentiel transition: the pairs of the old version before, of the new one after, each named with its version
      const version = (v: unknown) => (r.action === 'mapping.transition' ? ` (${String((v as { referential?: unknown } | null)?.referential ?? '')})` : '');
      const b = describeEntries(r.before, locale, names).map((x) => x + version(r.before));
      const a = describeEntries(r.after, locale, names).map((x) => x + version(r.after));
      before = b.filter((x) => !a.includes(x));
      after = a.filter((x) => !b.includes(x));
    } else {
      const show = (v: unknown) =>
        v && typeof v === 'object'
          ? Object.entries(v as Record<string, unknown>)
              .filter(([k, x]) => x !== null && x !== undefined && k !== 'iri')
              .map(([k, x]) => (typeof x === 'boolean' ? `${k}: ${x ? '✓' : '✗'}` : String(x)))
              .join(' — ')
          : '';
      before = show(r.before) ? [show(r.before)] : [];
      after = show(r.after) ? [show(r.after)] : [];
    }
    return { at: when(r.at), actor: people.get(r.actor) ?? r.actor.replace(/^lti:.*#/, ''), action: r.action, before, after };
  });
}

async function auditHistory(ctx: AppContext, courseId: number) {
  return ctx.store.db
    .select({ at: auditEvents.at, actor: auditEvents.actor, action: auditEvents.action, before: auditEvents.before, after: auditEvents.after })
    .from(auditEvents)
    .where(and(eq(auditEvents.subject, `course:${courseId}`), inArray(auditEvents.action, ['mapping.save', 'mapping.transition', 'activity.add', 'course.referential', 'course.policy'])))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(30);
}

/** The history with people's names (from the platform's users) instead of audit actor strings. */
async function historyOf(ctx: AppContext, s: LtiSession, courseId: number, names: Map<string, string>) {
  const rows = await auditHistory(ctx, courseId);
  const prefix = `lti:${s.platform.issuer}#`;
  const subs = [...new Set(rows.map((r) => r.actor).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length)))];
  const people = new Map<string, string>();
  if (subs.length) {
    const found = await ctx.store.db
      .select({ sub: users.sub, name: users.name })
      .from(users)
      .where(and(eq(users.platformId, s.platform.id), inArray(users.sub, subs)));
    for (const u of found) people.set(`${prefix}${u.sub}`, u.name ?? u.sub);
  }
  return historyView(rows, s.locale, s.timeZone, names, people);
}

/** Everything the mapping page shows. */
async function pageData(ctx: AppContext, s: LtiSession, course: Course) {
  const db = ctx.store.db;
  const chosen = await courseReferential(db, course);
  const activities = await courseActivityList(db, course.id);
  const entries = chosen.referential ? await getMapping(db, course.id, chosen.referential) : [];
  const [platform] = await db.select().from(platformSettings).where(eq(platformSettings.platformId, course.platformId));
  const [settings] = await db.select().from(courseSettings).where(eq(courseSettings.courseId, course.id));
  const names = new Map(activities.map((a) => [a.iri, a.name]));
  const base = `/lti/api/courses/${course.id}`;
  return {
    course,
    base,
    referential: chosen.referential,
    referentialSource: chosen.source,
    referentialMissing: chosen.missing,
    referentials: await listReferentials(db),
    rows: activities.map((a) => rowOf(a, entries, s.locale)),
    summary: summaryView(chosen.referential, entries),
    /** Nothing mapped yet in this course: the page says where to start. */
    firstVisit: entries.length === 0,
    policy: await coursePolicy(db, course),
    hasWebservice: Boolean(platform?.webserviceToken),
    refreshError: settings?.activitiesRefreshError ?? null,
    refreshedAt: settings?.activitiesRefreshedAt ? formatDate(settings.activitiesRefreshedAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }) : undefined,
    others: await otherCourses(db, course),
    history: await historyOf(ctx, s, course.id, names),
    ltik: s.ltik,
  };
}

/** The tabs of the course page, and the URL of the page in a new window for this tab. */
function tabsOf(ltik: string, tab: CourseTab, extra: Record<string, unknown>) {
  const given = typeof extra.newWindowUrl === 'string' ? extra.newWindowUrl : undefined;
  const newWindowUrl = given && tab !== 'activities' ? `${given}&tab=${tab}` : given;
  return { tab, tabs: COURSE_TABS.map((name) => ({ name, url: courseTabUrl(ltik, name) })), newWindowUrl };
}

/**
 * The teacher's course page, one tab at a time (`?tab=`): the activities tab refreshes the activities from
 * Moodle's web service first (a failure is a warning on the page, never a broken page). `extra` carries what the
 * LTI page adds (title, roster, reports).
 */
export async function renderMappingPage(ctx: AppContext, req: Request, res: Response, extra: Record<string, unknown>) {
  const s = session(req);
  const course = s.course;
  if (!course) throw notFound('No course in this launch.');
  const tab = courseTab(req.query.tab);
  if (tab === 'activities') {
    try {
      await refreshActivities(ctx.store.db, { course, issuer: s.platform.issuer, ltiKey: ctx.config.ltiKey });
    } catch (error) {
      req.log?.warn({ err: error, courseId: course.id }, 'activities not refreshed');
    }
  }
  const data = await pageData(ctx, s, course);
  const saved = z.coerce.number().int().min(0).max(100_000).safeParse(req.query.saved);
  const statusMessage = saved.success && req.query.saved !== undefined ? translator(s.locale)('mapping.savedAll', { count: saved.data }) : undefined;
  render(res, 'course', { ...extra, ...data, ...tabsOf(s.ltik, tab, extra), statusMessage, title: String(extra.title ?? course.title ?? course.contextId) }, s.locale);
}

/** Answers an htmx request of the import/copy tab with what was done, and a link back to the activities. */
function sectionFragment(req: Request, res: Response, message: Record<string, unknown>, status = 200) {
  const s = session(req);
  renderFragment(res, 'mapping-refresh', { ...message, activitiesUrl: courseTabUrl(s.ltik, 'activities') }, s.locale, status);
}

/**
 * The mapping endpoints, on the LTI app (behind ltijs' validator: every request carries the `ltik`, as a Bearer
 * header, a form field or a query parameter — never a cookie alone) and reserved to the course's instructors.
 */
export function mappingRoutes(ctx: AppContext, app: Express, pageExtra: (req: Request) => Promise<Record<string, unknown>>): void {
  const instructor = requireRole(ctx, 'instructor');
  const db = () => ctx.store.db;

  app.get(
    '/api/courses/:courseId/mapping',
    instructor,
    asyncHandler(async (req, res) => {
      const { course } = ownCourse(req);
      const chosen = await courseReferential(db(), course);
      const activities = await courseActivityList(db(), course.id);
      const entries = chosen.referential ? await getMapping(db(), course.id, chosen.referential) : [];
      res.json({
        course: { id: course.id, contextId: course.contextId, title: course.title },
        referential: chosen.referential ? { id: chosen.referential.id, version: chosen.referential.version, source: chosen.source } : null,
        activities,
        entries: entries.map((e) => ({ ...e, hours: e.minutes / 60 })),
        summary: chosen.referential ? summarizeByDomain(chosen.referential, entries) : [],
        policy: await coursePolicy(db(), course),
      });
    }),
  );

  app.put(
    '/api/courses/:courseId/mapping',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(mappingBody, req.body, 'body');
      const referential = await requireReferential(ctx, course);
      const saved = await replaceMapping(db(), ctx, {
        course,
        referential,
        entries: body.entries.map((e) => ({ activityIri: e.activityIri, competencyKey: e.competencyKey, minutes: e.hours })),
        actor: actorOf(s),
      });
      res.json({ entries: saved.entries.map((e) => ({ ...e, hours: e.minutes / 60 })), summary: saved.summary, changedActivities: saved.changedActivities });
    }),
  );

  /** The page's row buttons: replaces one activity's pairs (intent save), or adds/removes a line without saving. */
  app.post(
    '/api/courses/:courseId/mapping/activity',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(rowBody, req.body, 'body');
      const referential = await requireReferential(ctx, course);
      const activities = await courseActivityList(db(), course.id);
      const activity = activities.find((a) => a.iri === body.activityIri);
      if (!activity) {
        throw invalid('This activity is not an activity of this course: nothing was saved.', [
          { path: 'body.activityIri', message: `activity ${body.activityIri} is not an activity of this course` },
        ]);
      }
      const id = domId(activity.iri);
      const row: Row = { activity, id, pairs: rowLines(req.body as Record<string, unknown>, id, body), errors: [] };
      const fragment = (status: number, extra: Record<string, unknown> = {}) =>
        renderFragment(res, 'mapping-row', { row, referential, base: `/lti/api/courses/${course.id}`, ltik: s.ltik, ...extra }, s.locale, status);

      if (body.intent === 'add' || body.intent.startsWith('remove:')) {
        if (body.intent === 'add') row.pairs.push({ competencyKey: '', hours: '' });
        else row.pairs.splice(Number(body.intent.slice(7)), 1);
        if (!isHtmx(req)) throw invalid('intent add/remove is for the page; send intent=save to save.', [{ path: 'body.intent', message: 'not save' }]);
        fragment(200, { focusLast: body.intent === 'add' });
        return;
      }
      // A line whose competency and hours are both empty is dropped; hours without a competency is an error.
      const { pairs, problems } = checkLines(row, s.locale, (i, field) => `body.pairs[${i}].${field}`);
      let saved;
      if (!problems.length) {
        try {
          saved = await saveActivityPairs(db(), ctx, { course, referential, activityIri: activity.iri, pairs, actor: actorOf(s) });
        } catch (error) {
          if (!SocleError.is(error, 'invalid_request')) throw error;
          // Indexes of `pairs` are those of the row's non-empty lines, in order.
          for (const d of error.details) {
            const m = /^pairs\[(\d+)\]\.(\w+)$/.exec(d.path);
            markRefusal(row, s.locale, m?.[2], m ? Number(m[1]) : undefined, d.message);
            problems.push({ path: `body.${d.path}`, message: d.message });
          }
        }
      }
      if (problems.length) {
        if (!isHtmx(req)) throw invalid('The mapping is invalid: nothing was saved.', problems);
        fragment(400);
        return;
      }
      if (!saved) throw new Error('unreachable');
      if (!isHtmx(req)) {
        res.json({ entries: saved.entries.filter((e) => e.activityIri === activity.iri), summary: saved.summary, changedActivities: saved.changedActivities });
        return;
      }
      const fresh = rowOf(activity, saved.entries, s.locale);
      fresh.saved = true;
      Object.assign(row, fresh);
      fragment(200, { summary: summaryView(referential, saved.entries), oob: true });
    }),
  );

  /**
   * The page's "save all": the activities table is one form; every row it holds is replaced at once (nothing is
   * saved if a line is wrong). htmx gets the rows back (with their errors) and the summary; a browser without
   * scripts is sent back to the page (303), or gets the page again with the errors (400).
   */
  app.post(
    '/api/courses/:courseId/mapping/activities',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const raw = req.body as Record<string, unknown>;
      const body = parseOr400(bulkBody, raw, 'body');
      const referential = await requireReferential(ctx, course);
      const activities = await courseActivityList(db(), course.id);
      const byId = new Map(activities.map((a) => [domId(a.iri), a]));
      // `only`: a row's own save button, pressed without scripts (the whole table is sent, that row is saved)
      const ids = body.only ? [body.only] : [...new Set(body.row)];
      const problems: { path: string; message: string }[] = [];
      const rows: Row[] = [];
      const toSave: { activityIri: string; pairs: { competencyKey: string; minutes: number }[] }[] = [];
      ids.forEach((id, r) => {
        const activity = byId.get(id);
        if (!activity) {
          problems.push({ path: `body.row[${r}]`, message: `row ${id} is not an activity of this course` });
          return;
        }
        const row: Row = { activity, id, pairs: rowLines(raw, id, { competencyKey: [], hours: [] }), errors: [] };
        const checked = checkLines(row, s.locale, (i, field) => `body.rows[${toSave.length}].pairs[${i}].${field}`);
        problems.push(...checked.problems);
        rows.push(row);
        toSave.push({ activityIri: activity.iri, pairs: checked.pairs });
      });
      if (!ids.length) problems.push({ path: 'body.row', message: 'no row to save' });
      let saved;
      if (!problems.length) {
        try {
          saved = await saveActivitiesPairs(db(), ctx, { course, referential, rows: toSave, actor: actorOf(s) });
        } catch (error) {
          if (!SocleError.is(error, 'invalid_request')) throw error;
          for (const d of error.details) {
            const m = /^rows\[(\d+)\](?:\.pairs\[(\d+)\])?\.(\w+)$/.exec(d.path);
            const row = m ? rows[Number(m[1])] : undefined;
            if (row) markRefusal(row, s.locale, m?.[3], m?.[2] === undefined ? undefined : Number(m[2]), d.message);
            problems.push({ path: `body.${d.path}`, message: d.message });
          }
        }
      }
      const t = translator(s.locale);
      // the page's form without scripts (urlencoded) gets pages; htmx gets fragments; other clients JSON
      const fromForm = !isHtmx(req) && Boolean(req.is('application/x-www-form-urlencoded'));
      if (problems.length) {
        if ((!isHtmx(req) && !fromForm) || rows.length === 0) throw invalid('The mapping is invalid: nothing was saved.', problems);
        const data = await pageData(ctx, s, course);
        const mine = new Map(rows.map((r) => [r.id, r]));
        data.rows = data.rows.map((r) => mine.get(r.id) ?? r);
        const status = { statusError: t('mapping.savedNone', { count: rows.filter((r) => r.errors.length || r.pairs.some((p) => p.error || p.competencyError)).length }) };
        if (isHtmx(req)) {
          renderFragment(res, 'mapping-rows-result', { ...data, ...status }, s.locale, 400);
          return;
        }
        const extra = await pageExtra(req);
        render(res, 'course', { ...extra, ...data, ...status, ...tabsOf(s.ltik, 'activities', extra), title: String(extra.title ?? course.title ?? course.contextId) }, s.locale, 400);
        return;
      }
      if (!saved) throw new Error('unreachable');
      const message = t('mapping.savedAll', { count: toSave.length });
      if (fromForm) {
        res.redirect(303, `${courseTabUrl(s.ltik, 'activities')}&saved=${toSave.length}`);
        return;
      }
      if (!isHtmx(req)) {
        res.json({ rows: toSave.length, summary: saved.summary, changedActivities: saved.changedActivities });
        return;
      }
      const data = await pageData(ctx, s, course);
      const changed = new Set(saved.changedActivities);
      for (const r of data.rows) if (changed.has(r.activity.iri)) r.saved = true;
      renderFragment(res, 'mapping-rows-result', { ...data, statusMessage: message }, s.locale);
    }),
  );

  app.post(
    '/api/courses/:courseId/referential',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(referentialBody, req.body, 'body');
      const referential = await setCourseReferential(db(), { course, referentialId: body.referentialId, version: body.version, actor: actorOf(s) });
      if (isHtmx(req)) {
        res.set('HX-Refresh', 'true').status(204).end();
        return;
      }
      res.json({ referential: { id: referential.id, version: referential.version } });
    }),
  );

  app.post(
    '/api/courses/:courseId/policy',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(policyBody, req.body, 'body');
      const policy = await setCoursePolicy(db(), ctx, {
        course,
        policy: { requireSuccess: body.crediting === 'success', capToMeasuredDuration: body.capToMeasuredDuration },
        actor: actorOf(s),
      });
      if (isHtmx(req)) {
        renderFragment(res, 'mapping-status', { message: 'mapping.policySaved' }, s.locale);
        return;
      }
      res.json({ policy });
    }),
  );

  app.post(
    '/api/courses/:courseId/activities',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(manualBody, req.body, 'body');
      const activity = await addManualActivity(db(), { courseId: course.id, name: body.name, publicUrl: ctx.config.publicUrl, actor: actorOf(s) });
      if (isHtmx(req)) {
        res.set('HX-Refresh', 'true').status(204).end();
        return;
      }
      res.status(201).json({ activity });
    }),
  );

  app.post(
    '/api/courses/:courseId/activities/refresh',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const result = await refreshActivities(db(), { course, issuer: s.platform.issuer, ltiKey: ctx.config.ltiKey });
      if (isHtmx(req)) {
        res.set('HX-Refresh', 'true').status(204).end();
        return;
      }
      res.json({ ...result, activities: await courseActivityList(db(), course.id) });
    }),
  );

  app.get(
    '/api/courses/:courseId/mapping.csv',
    instructor,
    asyncHandler(async (req, res) => {
      const { course } = ownCourse(req);
      const referential = await requireReferential(ctx, course);
      const { csv } = await exportMapping(db(), course, referential);
      const name = `socle-mapping-${course.contextId.replace(/[^\w-]/g, '_')}-${referential.id}-${referential.version}.csv`;
      res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="${name}"`).set('Cache-Control', 'no-store').send(csv);
    }),
  );

  app.post(
    '/api/courses/:courseId/mapping.csv',
    express.text({ type: ['text/csv', 'application/csv'], limit: '2mb' }),
    express.raw({ type: 'multipart/form-data', limit: '2mb' }),
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const referential = await requireReferential(ctx, course);
      const text = typeof req.body === 'string' ? req.body : await fileFromMultipart(req);
      if (text === undefined) {
        throw invalid('Send the CSV file as text/csv, or as the field "file" of a multipart form.', [{ path: 'body', message: 'no CSV file' }]);
      }
      try {
        const saved = await importMapping(db(), ctx, { course, referential, text, actor: actorOf(s) });
        if (isHtmx(req)) {
          sectionFragment(req, res, { message: 'mapping.imported', count: saved.entries.length, target: 'import' });
          return;
        }
        res.json({ imported: saved.entries.length, summary: saved.summary, changedActivities: saved.changedActivities });
      } catch (error) {
        if (!isRefusal(error) || !isHtmx(req)) throw error;
        renderFragment(res, 'mapping-problems', { title: 'mapping.importRefused', problems: pageProblems(s.locale, error.details), id: 'import-result' }, s.locale, 400);
      }
    }),
  );

  app.post(
    '/api/courses/:courseId/mapping/copy',
    instructor,
    asyncHandler(async (req, res) => {
      const { s, course } = ownCourse(req);
      const body = parseOr400(copyBody, req.body, 'body');
      const referential = await requireReferential(ctx, course);
      try {
        const result = await copyMapping(db(), ctx, { course, fromCourseId: body.fromCourseId, referential, actor: actorOf(s) });
        if (isHtmx(req)) {
          sectionFragment(req, res, {
            message: 'mapping.copied',
            copied: result.copied,
            total: result.sourcePairs,
            from: result.from.title ?? result.from.contextId,
            unmatched: result.unmatched,
            target: 'copy',
          });
          return;
        }
        res.json({ from: result.from, copied: result.copied, unmatched: result.unmatched, summary: result.saved.summary });
      } catch (error) {
        if (!isRefusal(error) || !isHtmx(req)) throw error;
        renderFragment(res, 'mapping-problems', { title: 'mapping.invalid', problems: pageProblems(s.locale, error.details), id: 'copy-result' }, s.locale, 400);
      }
    }),
  );

  app.get(
    '/api/courses/:courseId/mapping/history',
    instructor,
    asyncHandler(async (req, res) => {
      const { course } = ownCourse(req);
      res.json({ history: await auditHistory(ctx, course.id) });
    }),
  );
}
