/**
 * One learner seen by a teacher (a learner of their course) or an administrator (anyone of their platform):
 * `/lti/learners/:userId` with the learner's hours by domain and competency, credited activities, manual credits
 * (granted and revoked here, with their evidence file), learner records of another Socle imported as prior learning
 * (imported and revoked here: src/coverage/imports.ts), badges and attestations. Another platform's learner is 404,
 * a learner outside the teacher's course 403, and a learner's own session never reaches these routes.
 */
import { and, desc, eq } from 'drizzle-orm';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { attestationRecords, platformSettings } from '../src/db/schema';
import { coverageDeps } from '../src/coverage/deps';
import { forecastDay, learnerForecasts } from '../src/programmes/forecasts';
import '../src/web/texts/programmes';
import { creditEvidence, grantManualCredit, hoursToMinutes, listLearnerCredits, revokeManualCredit } from '../src/coverage/credits';
import { MAX_EVIDENCE_BYTES } from '../src/coverage/evidence';
import { importRecord, listImports, type MissingCompetency, revokeImport } from '../src/coverage/imports';
import { notFound, SocleError } from '../src/domain/errors';
import { formatDate, formatMinutes } from '../src/domain/format';
import { canSee } from '../src/identity/access';
import { findPlatformUser } from '../src/identity/learners';
import { ltiActor, type User } from '../src/identity/records';
import { LTI_BASE } from '../src/lms/tool-config';
import { listReferentials } from '../src/referentials/catalogue';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { parseMultipart } from '../src/web/multipart';
import { render } from '../src/web/render';
import { translator } from '../src/web/i18n';
import { hoursText, learnerProgress } from './progress';
import { type LtiSession, requireRole } from './session';
import '../src/web/texts/admin';

/** The learner page's path for a Socle user id (the cohort heatmap and the admin search link to it). */
export const learnerPath = (userId: number) => `${LTI_BASE}/learners/${userId}`;

const params = z.object({ userId: z.coerce.number().int().positive().max(2_147_483_647) });
const creditParams = params.extend({ creditId: z.coerce.number().int().positive().max(2_147_483_647) });
const importParams = params.extend({ importId: z.coerce.number().int().positive().max(2_147_483_647) });

/** The largest record file accepted (a whole référentiel's record with its badges is some tens of kB). */
const MAX_RECORD_BYTES = 2 * 1024 * 1024;
const importBody = z.object({ justification: z.string().trim().max(2_000, 'at most 2000 characters').optional() });

/** The grant form: the competency as `<référentiel id>@<version>|<competency key>`, hours as "2" or "1,5". */
const grantBody = z.object({
  competency: z
    .string({ error: 'required' })
    .regex(/^[^@|]+@[^|]+\|.+$/, 'choose a competency')
    .transform((v) => {
      const at = v.indexOf('@');
      const bar = v.lastIndexOf('|');
      return { referentialId: v.slice(0, at), referentialVersion: v.slice(at + 1, bar), competencyKey: v.slice(bar + 1) };
    }),
  hours: z
    .string({ error: 'required' })
    .transform((v, c) => {
      const minutes = hoursToMinutes(v);
      if (minutes === undefined || minutes <= 0 || minutes > 1_000 * 60) {
        c.addIssue({ code: 'custom', message: `expected a number of hours between 0 and 1000 such as 2 or 1,5, found "${v.slice(0, 20)}"` });
        return z.NEVER;
      }
      return minutes;
    }),
  justification: z.string({ error: 'required' }).trim().min(1, 'a manual credit needs a justification').max(2_000, 'at most 2000 characters'),
});
const revokeBody = z.object({ reason: z.string().trim().max(500, 'at most 500 characters').optional() });

const session = (req: Request): LtiSession => {
  if (!req.lti) throw new Error('no session');
  return req.lti;
};
const isHtmx = (req: Request) => req.get('HX-Request') === 'true';
const wantsJson = (req: Request) => !isHtmx(req) && req.accepts(['html', 'json']) === 'json';

/**
 * The learner of `userId` if this session may see them: another platform's (or an unknown id) is 404, a
 * teacher's view of someone outside their course 403 (`canSee`, the one rule of who sees whom).
 */
export async function visibleLearner(ctx: AppContext, s: LtiSession, userId: number): Promise<User> {
  const user = await findPlatformUser(ctx.store.db, s.platform.id, userId);
  if (!user) throw notFound('No such learner on this platform.');
  const principal = { kind: 'lti' as const, platformId: s.platform.id, userId: s.user.id, sub: s.user.sub, courseId: s.course?.id, roles: s.roles };
  if (!(await canSee(ctx.store.db, principal, { platformId: s.platform.id, userId: user.id }))) {
    throw new SocleError('forbidden', 'This learner is not one of your course: a teacher sees the learners of the course Socle was launched from.');
  }
  return user;
}

/** A référentiel version as the coverage looks it up (domains and competencies). */
type Grantable = NonNullable<Awaited<ReturnType<ReturnType<AppContext['referentials']>>>>;

/** The référentiels a credit may be granted in: the learner's, the course's, the platform's default, else every current one. */
async function grantableReferentials(ctx: AppContext, s: LtiSession, shown: { id: string; version: string }[]): Promise<Grantable[]> {
  const db = ctx.store.db;
  const lookup = ctx.referentials(db);
  const out: Grantable[] = [];
  for (const r of shown) {
    const found = await lookup(r.id, r.version);
    if (found && !out.some((o) => o.id === found.id)) out.push(found);
  }
  const add = async (id: string | null | undefined, version?: string | null) => {
    if (!id || out.some((r) => r.id === id)) return;
    const found = await lookup(id, version ?? undefined);
    if (found) out.push(found);
  };
  await add(s.course?.referentialId, s.course?.referentialVersion);
  const [settings] = await db.select().from(platformSettings).where(eq(platformSettings.platformId, s.platform.id));
  await add(settings?.defaultReferentialId, settings?.defaultReferentialVersion);
  if (!out.length) for (const r of (await listReferentials(db)).filter((r) => r.latest)) await add(r.id, r.version);
  return out;
}

async function learnerPage(ctx: AppContext, req: Request, res: Response, user: User, status = 200, notice?: string) {
  const s = session(req);
  const t = translator(s.locale);
  const db = ctx.store.db;
  const ltik = encodeURIComponent(s.ltik);
  const base = learnerPath(user.id);
  const sections = await learnerProgress(ctx, { platform: s.platform, user, course: s.roles.includes('administrator') ? undefined : s.course });
  const referentials = await grantableReferentials(ctx, s, sections.map((x) => x.view.referential));
  const competencyOptions = referentials.map((r) => ({
    label: `${r.title} (${r.version})`,
    options: r.domains.flatMap((d) => d.competencies.map((c) => ({ value: `${r.id}@${r.version}|${c.key}`, label: `${c.code} ${c.title}` }))),
  }));
  const credits = (await listLearnerCredits(db, s.platform.id, user.id)).reverse().map((c) => ({
    id: c.id,
    referential: `${c.referentialId} ${c.referentialVersion}`,
    competencyKey: c.competencyKey,
    hours: formatMinutes(c.minutes),
    justification: c.justification,
    grantedAt: formatDate(c.grantedAt, { locale: s.locale, timeZone: s.timeZone }),
    revokedAt: c.revokedAt ? formatDate(c.revokedAt, { locale: s.locale, timeZone: s.timeZone }) : null,
    revocationReason: c.revocationReason,
    evidence: c.evidence ? { name: c.evidence.fileName, size: Math.max(1, Math.round(c.evidence.size / 1024)), url: `${base}/credits/${c.id}/evidence?ltik=${ltik}` } : null,
    revokeUrl: `${base}/credits/${c.id}/revoke`,
  }));
  const imports = (await listImports(db, { platformId: s.platform.id, userId: user.id })).map((i) => ({
    id: i.id,
    issuerName: i.issuerName,
    recordId: i.recordId,
    referential: `${i.referentialId} ${i.referentialVersion}`,
    issuedAt: formatDate(i.recordIssuedAt, { locale: s.locale, timeZone: s.timeZone }),
    importedAt: formatDate(i.verifiedAt, { locale: s.locale, timeZone: s.timeZone }),
    hours: formatMinutes(i.creditedMinutes),
    status: i.status,
    endedAt: i.revokedAt ? formatDate(i.revokedAt, { locale: s.locale, timeZone: s.timeZone }) : null,
    revocationReason: i.revocationReason,
    missing: (i.missing as MissingCompetency[]).map((m) => ({ code: m.code, hours: formatMinutes(m.minutes) })),
    revokeUrl: `${base}/imports/${i.id}/revoke`,
  }));
  const attestations = await db
    .select({ id: attestationRecords.id, referentialTitle: attestationRecords.referentialTitle, issuedAt: attestationRecords.issuedAt })
    .from(attestationRecords)
    .where(and(eq(attestationRecords.platformId, s.platform.id), eq(attestationRecords.learnerSub, user.sub)))
    .orderBy(desc(attestationRecords.issuedAt))
    .limit(20);
  // the forecasts of the learner's programmes, each under its référentiel version's section
  const today = await forecastDay(db, s.platform.id, ctx.clock());
  const forecasts = (await learnerForecasts(db, s.platform.id, user.id, today, coverageDeps(ctx, db))).map((f) => ({
    referential: `${f.referential.id}@${f.referential.version}`,
    status: f.status,
    label: t(`forecast.${f.status}`),
    summary: t('forecast.summary', {
      programme: f.programmeName,
      status: t(`forecast.${f.status}`).toLowerCase(),
      date: formatDate(`${f.dueDate}T12:00:00Z`, { locale: s.locale, timeZone: 'UTC' }),
      days: f.daysLeft,
      missing: formatMinutes(f.missingMinutes),
      mappable: formatMinutes(f.mappableMinutes),
    }),
  }));
  const backUrl = s.roles.includes('administrator') ? `${LTI_BASE}/admin?ltik=${ltik}#learners-title` : `${LTI_BASE}/course?ltik=${ltik}`;
  render(
    res,
    'learner',
    {
      title: t('learner.title', { name: user.name ?? user.sub }),
      ltik: s.ltik,
      newWindowUrl: `${ctx.config.publicUrl}${base}?ltik=${ltik}`,
      learner: { id: user.id, sub: user.sub, name: user.name ?? user.sub },
      backUrl,
      backLabel: t(s.roles.includes('administrator') ? 'learner.backAdmin' : 'learner.backCourse'),
      sections,
      hoursText,
      formatDate: (iso: string) => formatDate(iso, { locale: s.locale, timeZone: s.timeZone }),
      credits,
      competencyOptions,
      grantUrl: `${base}/credits`,
      imports,
      importUrl: `${base}/imports`,
      maxEvidenceMiB: MAX_EVIDENCE_BYTES / 1024 / 1024,
      forecasts,
      attestations: attestations.map((a) => ({ url: `/attestations/${a.id}`, title: a.referentialTitle, at: formatDate(a.issuedAt, { locale: s.locale, timeZone: s.timeZone }) })),
      notice,
    },
    s.locale,
    status,
  );
}

/** After a change: htmx reloads the page, a plain form goes back to it (303), an API client gets JSON. */
const NOTICES = ['granted', 'revoked', 'imported', 'importRevoked'] as const;
type Notice = (typeof NOTICES)[number];

function answerChange(req: Request, res: Response, user: User, json: unknown, status: number, notice: Notice) {
  const s = session(req);
  if (isHtmx(req)) {
    res.set('HX-Redirect', `${learnerPath(user.id)}?ltik=${encodeURIComponent(s.ltik)}&done=${notice}`).status(204).end();
  } else if (wantsJson(req)) {
    res.status(status).json(json);
  } else {
    res.redirect(303, `${learnerPath(user.id)}?ltik=${encodeURIComponent(s.ltik)}&done=${notice}`);
  }
}

/** Registers the learner page and its manual-credit routes on ltijs' app. */
export function learnerRoutes(ctx: AppContext, app: Express): void {
  const staff = requireRole(ctx, 'instructor', 'administrator');
  const actorOf = (s: LtiSession) => ltiActor(s.platform.issuer, s.user.sub);

  app.get(
    '/learners/:userId',
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId } = parseOr400(params, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const notice = NOTICES.find((n) => n === req.query.done);
      const done = notice ? translator(s.locale)(`learner.done.${notice}`) : undefined;
      await learnerPage(ctx, req, res, user, 200, done);
    }),
  );

  app.post(
    '/learners/:userId/credits',
    // the evidence file and the form: a little more than the file's limit, so that the feature says what is wrong
    express.raw({ type: 'multipart/form-data', limit: MAX_EVIDENCE_BYTES + 256 * 1024 }),
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId } = parseOr400(params, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const multipart = req.is('multipart/form-data') ? await parseMultipart(req.body, req.get('Content-Type')) : undefined;
      const fields = multipart ? multipart.fields : ((req.body ?? {}) as Record<string, unknown>);
      const body = parseOr400(grantBody, fields, 'body');
      const file = multipart?.files.evidence;
      const record = await ctx.store.db.transaction((tx) =>
        grantManualCredit(tx, coverageDeps(ctx, tx), {
          platformId: s.platform.id,
          userId: user.id,
          ...body.competency,
          minutes: body.hours,
          justification: body.justification,
          actor: actorOf(s),
          ...(file ? { evidence: file } : {}),
        }),
      );
      answerChange(req, res, user, { credit: { id: record.id, competencyKey: record.competencyKey, minutes: record.minutes, evidence: Boolean(file) } }, 201, 'granted');
    }),
  );

  app.post(
    '/learners/:userId/credits/:creditId/revoke',
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId, creditId } = parseOr400(creditParams, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const body = parseOr400(revokeBody, req.body ?? {}, 'body');
      const record = await ctx.store.db.transaction((tx) =>
        revokeManualCredit(tx, coverageDeps(ctx, tx), {
          id: creditId,
          actor: actorOf(s),
          ...(body.reason ? { reason: body.reason } : {}),
          platformId: s.platform.id,
          userId: user.id,
        }),
      );
      if (!record) throw notFound('No active manual credit with this number for this learner.');
      answerChange(req, res, user, { revoked: record.id }, 200, 'revoked');
    }),
  );

  app.post(
    '/learners/:userId/imports',
    express.raw({ type: 'multipart/form-data', limit: MAX_RECORD_BYTES + 64 * 1024 }),
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId } = parseOr400(params, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const form = await parseMultipart(req.body, req.get('Content-Type'));
      const body = parseOr400(importBody, form.fields, 'body');
      const file = form.files.record;
      if (!file) throw new SocleError('invalid_request', 'Choose the record file (record.jwt or its JSON).', [{ path: 'record', message: 'required' }]);
      if (file.data.length > MAX_RECORD_BYTES) throw new SocleError('payload_too_large', `The record file is larger than ${MAX_RECORD_BYTES / 1024 / 1024} MiB.`);
      const result = await importRecord(ctx.store.db, ctx, ctx, {
        platformId: s.platform.id,
        userId: user.id,
        record: file.data.toString('utf8'),
        actor: actorOf(s),
        ...(body.justification ? { justification: body.justification } : {}),
      });
      const { jwt: _jwt, ...summary } = result.import;
      answerChange(req, res, user, { ...result, import: summary }, result.created ? 201 : 200, 'imported');
    }),
  );

  app.post(
    '/learners/:userId/imports/:importId/revoke',
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId, importId } = parseOr400(importParams, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const body = parseOr400(revokeBody, req.body ?? {}, 'body');
      const row = await ctx.store.db.transaction((tx) =>
        revokeImport(tx, coverageDeps(ctx, tx), {
          id: importId,
          actor: actorOf(s),
          ...(body.reason ? { reason: body.reason } : {}),
          platformId: s.platform.id,
          userId: user.id,
        }),
      );
      if (!row) throw notFound('No active imported record with this number for this learner.');
      answerChange(req, res, user, { revoked: row.id }, 200, 'importRevoked');
    }),
  );

  app.get(
    '/learners/:userId/credits/:creditId/evidence',
    staff,
    asyncHandler(async (req, res) => {
      const s = session(req);
      const { userId, creditId } = parseOr400(creditParams, req.params, 'params');
      const user = await visibleLearner(ctx, s, userId);
      const evidence = await creditEvidence(ctx.store.db, { platformId: s.platform.id, userId: user.id, creditId });
      if (!evidence) throw notFound('This manual credit has no evidence file.');
      const ascii = evidence.fileName.replace(/[^\x20-\x7e]/g, '_');
      res
        .status(200)
        .type(evidence.contentType)
        .set('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(evidence.fileName)}`)
        .set('Cache-Control', 'no-store')
        .send(evidence.data);
    }),
  );
}

