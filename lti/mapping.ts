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
import type { Locale } from '../src/web/i18n';
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
  saveActivityPairs,
  setCoursePolicy,
  setCourseReferential,
} from '../src/mapping/course';
import { formatHours, parseHours } from '../src/mapping/csv';
import { MAX_MINUTES, type MappingEntry, summarizeByDomain } from '../src/domain/mapping';
import { addManualActivity, getMapping, type ListedActivity, mappingHistory, refreshActivities } from '../src/mapping/service';
import '../src/web/texts/mapping';

/** The actor recorded in the audit log for a launch's user. */
const actorOf = (s: LtiSession) => ltiActor(s.platform.issuer, s.user.sub);

/** A DOM id for an activity (IRIs are URLs). */
const domId = (iri: string) => `a${createHash('sha1').update(iri).digest('hex').slice(0, 10)}`;

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
const rowBody = z.object({
  activityIri: z.string().min(1, 'required'),
  competencyKey: many,
  hours: z
    .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))])
    .optional()
    .transform((v) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String))),
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
function fileFromMultipart(req: Request): string | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.get('Content-Type') ?? '');
  const body = req.body as unknown;
  if (!boundary || !Buffer.isBuffer(body)) return undefined;
  const marker = `--${boundary[1] ?? boundary[2]}`;
  for (const part of body.toString('utf8').split(marker)) {
    const end = part.indexOf('\r\n\r\n');
    if (end < 0) continue;
    const headers = part.slice(0, end);
    if (!/name="file"/i.test(headers)) continue;
    return part.slice(end + 4).replace(/\r\n$/, '');
  }
  return undefined;
}

type Row = {
  activity: ListedActivity;
  id: string;
  pairs: { competencyKey: string; hours: string; error?: string; competencyError?: string }[];
  errors: string[];
  saved?: boolean;
};

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
function historyView(rows: Awaited<ReturnType<typeof mappingHistory>>, locale: Locale, names: Map<string, string>, people: Map<string, string>) {
  const when = (d: Date) => formatDate(d, { locale, style: 'dateTime' });
  return rows.map((r) => {
    let before: string[] = [];
    let after: string[] = [];
    if (r.action === 'mapping.save') {
      const b = describeEntries(r.before, locale, names);
      const a = describeEntries(r.after, locale, names);
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
    .where(and(eq(auditEvents.subject, `course:${courseId}`), inArray(auditEvents.action, ['mapping.save', 'activity.add', 'course.referential', 'course.policy'])))
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
  return historyView(rows, s.locale, names, people);
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
    policy: await coursePolicy(db, course),
    hasWebservice: Boolean(platform?.webserviceToken),
    refreshError: settings?.activitiesRefreshError ?? null,
    refreshedAt: settings?.activitiesRefreshedAt ? formatDate(settings.activitiesRefreshedAt, { locale: s.locale, style: 'dateTime' }) : undefined,
    others: await otherCourses(db, course),
    history: await historyOf(ctx, s, course.id, names),
    ltik: s.ltik,
  };
}

/**
 * The teacher's course page: refreshes the activities from Moodle's web service (a failure is a warning on the
 * page, never a broken page), then renders the mapping screen. `extra` carries what the LTI page adds (roster).
 */
export async function renderMappingPage(ctx: AppContext, req: Request, res: Response, extra: Record<string, unknown>) {
  const s = session(req);
  const course = s.course;
  if (!course) throw notFound('No course in this launch.');
  try {
    await refreshActivities(ctx.store.db, { course, issuer: s.platform.issuer, ltiKey: ctx.config.ltiKey });
  } catch (error) {
    req.log?.warn({ err: error, courseId: course.id }, 'activities not refreshed');
  }
  const data = await pageData(ctx, s, course);
  render(res, 'course', { ...extra, ...data, title: String(extra.title ?? course.title ?? course.contextId) }, s.locale);
}

/** Answers an htmx request with the page's mapping section again (after an import, a copy, a refresh…). */
async function sectionFragment(ctx: AppContext, req: Request, res: Response, course: Course, message: Record<string, unknown>, status = 200) {
  const s = session(req);
  renderFragment(res, 'mapping-refresh', { ...(await pageData(ctx, s, course)), ...message }, s.locale, status);
}

/**
 * The mapping endpoints, on the LTI app (behind ltijs' validator: every request carries the `ltik`, as a Bearer
 * header, a form field or a query parameter — never a cookie alone) and reserved to the course's instructors.
 */
export function mappingRoutes(ctx: AppContext, app: Express): void {
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

  /** The page's row form: replaces one activity's pairs (intent save), or adds/removes a line without saving. */
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
      const lines = body.competencyKey.map((competencyKey, i) => ({ competencyKey, hours: body.hours[i] ?? '' }));
      const row: Row = { activity, id: domId(activity.iri), pairs: lines.filter((l) => l.competencyKey !== '' || l.hours.trim() !== ''), errors: [] };
      const fragment = (status: number, extra: Record<string, unknown> = {}) =>
        renderFragment(res, 'mapping-row', { row, referential, base: `/lti/api/courses/${course.id}`, ltik: s.ltik, ...extra }, s.locale, status);

      if (body.intent === 'add' || body.intent.startsWith('remove:')) {
        if (body.intent === 'add') row.pairs.push({ competencyKey: '', hours: '' });
        else row.pairs.splice(Number(body.intent.slice(7)), 1);
        if (!isHtmx(req)) throw invalid('intent add/remove is for the page; send intent=save to save.', [{ path: 'body.intent', message: 'not save' }]);
        fragment(200, { focusLast: body.intent === 'add' });
        return;
      }
      // A line whose competency is left empty is removed; hours without a competency is an error.
      const problems: { path: string; message: string }[] = [];
      const pairs: { competencyKey: string; minutes: number }[] = [];
      row.pairs.forEach((p, i) => {
        if (!p.competencyKey) {
          p.competencyError = 'choose a competency, or clear the hours to remove this line';
          problems.push({ path: `body.pairs[${i}].competencyKey`, message: p.competencyError });
          return;
        }
        const minutes = toMinutes(p.hours);
        if (minutes === null || minutes <= 0) {
          p.error = minutes === null ? `expected a number of hours such as 1,5 — found "${p.hours}"` : 'hours must be greater than 0';
          problems.push({ path: `body.pairs[${i}].hours`, message: p.error });
          return;
        }
        if (minutes > MAX_MINUTES) {
          p.error = `hours must be at most ${MAX_MINUTES / 60}`;
          problems.push({ path: `body.pairs[${i}].hours`, message: p.error });
          return;
        }
        pairs.push({ competencyKey: p.competencyKey, minutes });
      });
      let saved;
      if (!problems.length) {
        try {
          saved = await saveActivityPairs(db(), ctx, { course, referential, activityIri: activity.iri, pairs, actor: actorOf(s) });
        } catch (error) {
          if (!SocleError.is(error, 'invalid_request')) throw error;
          // Indexes of `pairs` are those of the row's non-empty lines, in order.
          for (const d of error.details) {
            const m = /^pairs\[(\d+)\]\.(\w+)$/.exec(d.path);
            const line = m ? row.pairs[Number(m[1])] : undefined;
            if (line && m?.[2] === 'competencyKey') line.competencyError = d.message;
            else if (line) line.error = d.message;
            else row.errors.push(d.message);
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
      const text = typeof req.body === 'string' ? req.body : fileFromMultipart(req);
      if (text === undefined) {
        throw invalid('Send the CSV file as text/csv, or as the field "file" of a multipart form.', [{ path: 'body', message: 'no CSV file' }]);
      }
      try {
        const saved = await importMapping(db(), ctx, { course, referential, text, actor: actorOf(s) });
        if (isHtmx(req)) {
          await sectionFragment(ctx, req, res, course, { message: 'mapping.imported', count: saved.entries.length, target: 'import' });
          return;
        }
        res.json({ imported: saved.entries.length, summary: saved.summary, changedActivities: saved.changedActivities });
      } catch (error) {
        if (!isRefusal(error) || !isHtmx(req)) throw error;
        renderFragment(res, 'mapping-problems', { title: 'mapping.importRefused', problems: error.details, id: 'import-result' }, s.locale, 400);
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
          await sectionFragment(ctx, req, res, course, {
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
        renderFragment(res, 'mapping-problems', { title: 'mapping.invalid', problems: error.details, id: 'copy-result' }, s.locale, 400);
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
