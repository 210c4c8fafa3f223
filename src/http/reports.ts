import { eq } from 'drizzle-orm';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { LtiSession } from '../../lti/session';
import { findApiToken } from '../auth/api-tokens';
import type { AppContext } from '../context';
import { courses } from '../db/schema';
import { findPlatform } from '../identity';
import { indicatorsOf } from '../reports/service';
import { createExportJob, type ExportJob, exportFormats, getJob, readJobFile } from '../reports/jobs';
import { parseReferentialOption, type ReportFilters, reportFilters } from '../reports/source';
import '../reports/texts';
import { verifyAttestation } from '../reports/verification';
import { type Locale, pickLocale, translator } from '../web/i18n';
import { render, renderFragment } from '../web/render';
import { asyncHandler, badRequest, forbidden, HttpError, notFound, parseOr400, unauthorized } from './errors';

/** Who asks for a report, and which part of one platform they may see. */
export interface ReportPrincipal {
  /** Audit identity (`lti:<issuer>#<sub>`, `api-token:<name>`). */
  actor: string;
  platformId: number;
  issuer: string;
  /** `all` for administrators; otherwise the context ids of the courses they teach. */
  courses: 'all' | string[];
  locale: Locale;
}

/** An administrator sees the whole platform; an instructor only the course of their launch. */
export function ltiPrincipal(s: LtiSession): ReportPrincipal {
  const base = { actor: `lti:${s.platform.issuer}#${s.user.sub}`, platformId: s.platform.id, issuer: s.platform.issuer, locale: s.locale };
  if (s.roles.includes('administrator')) return { ...base, courses: 'all' };
  if (s.roles.includes('instructor') && s.course) return { ...base, courses: [s.course.contextId] };
  throw forbidden('Reports are reserved for administrators of the platform and instructors of the course.');
}

/** Narrows filters to what the principal may see: 403 when they name a course outside it. */
export function scopeFilters(p: ReportPrincipal, filters: ReportFilters): ReportFilters {
  if (p.courses === 'all') return filters;
  const allowed = p.courses;
  const outside = (filters.courses ?? []).filter((c) => !allowed.includes(c));
  if (outside.length) throw forbidden(`You may only report on your own course (not ${outside.join(', ')}).`);
  return { ...filters, courses: filters.courses?.length ? filters.courses : allowed };
}

function canSee(p: ReportPrincipal, job: ExportJob): boolean {
  if (job.platformId !== p.platformId) return false;
  if (p.courses === 'all') return true;
  const parsed = reportFilters.safeParse(job.filters);
  const jobCourses = parsed.success ? (parsed.data.courses ?? []) : [];
  const allowed = p.courses;
  return jobCourses.length > 0 && jobCourses.every((c) => allowed.includes(c));
}

const exportBody = z.strictObject({
  kind: z.enum(['compliance', 'attestations', 'indicators']),
  format: z.enum(['csv', 'csv-excel', 'xlsx', 'pdf', 'zip', 'json']),
  filters: reportFilters.default({}),
});

const list = (v: unknown) => (v === undefined || v === '' ? undefined : Array.isArray(v) ? v.filter((x) => x !== '') : [v]);
const blank = (v: unknown) => (v === '' || v === undefined ? undefined : v);

/** The admin page's form (urlencoded: `courses` repeated, `referential` as id@version) as an export body. */
function formToBody(form: Record<string, unknown>) {
  const referential = typeof form.referential === 'string' && form.referential ? parseReferentialOption(form.referential) : undefined;
  const courses = list(form.courses);
  return {
    kind: form.kind,
    format: form.format,
    filters: {
      ...(courses?.length ? { courses } : {}),
      ...(referential ? { referential } : {}),
      ...(blank(form.from) ? { from: form.from } : {}),
      ...(blank(form.to) ? { to: form.to } : {}),
    },
  };
}

/** Filters from a query string (`courses=2,3` or repeated, `referential=id@version`, `from`, `to`). */
function queryFilters(q: Request['query']): ReportFilters {
  const raw: Record<string, unknown> = {};
  const courses = list(q.courses)?.flatMap((c) => String(c).split(',')).filter(Boolean);
  if (courses?.length) raw.courses = courses;
  if (typeof q.referential === 'string' && q.referential) raw.referential = parseReferentialOption(q.referential);
  if (blank(q.from)) raw.from = q.from;
  if (blank(q.to)) raw.to = q.to;
  return parseOr400(reportFilters, raw, 'query');
}

export function jobView(job: ExportJob, base: string, ltik?: string) {
  const percent =
    job.status === 'done' ? 100 : job.rowsTotal ? Math.min(99, Math.floor((job.rowsDone / Math.max(1, job.rowsTotal)) * 100)) : 0;
  return {
    id: job.id,
    kind: job.kind,
    format: job.format,
    status: job.status,
    rowsDone: job.rowsDone,
    rowsTotal: job.rowsTotal,
    percent,
    requestedBy: job.requestedBy,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
    fileName: job.fileName,
    byteSize: job.byteSize,
    sha256: job.sha256,
    error: job.error,
    url: `${base}/exports/${job.id}`,
    downloadUrl: job.status === 'done' ? `${base}/exports/${job.id}/file${ltik ? `?ltik=${encodeURIComponent(ltik)}` : ''}` : null,
  };
}

/** The export endpoints, for whichever way the caller is authenticated (LTI session or API token). */
function exportRoutes(
  ctx: AppContext,
  router: Router,
  base: string,
  principalOf: (req: Request, platform?: string) => Promise<ReportPrincipal>,
  wake: () => void,
  ltikOf: (req: Request) => string | undefined,
) {
  const wantsHtml = (req: Request) => req.get('HX-Request') === 'true';
  const sendJob = (req: Request, res: Response, job: ExportJob, p: ReportPrincipal, status = 200) => {
    const view = jobView(job, base, ltikOf(req));
    if (wantsHtml(req)) renderFragment(res, 'export-job', { job: view }, p.locale, status);
    else res.status(status).json(view);
  };

  router.post(
    '/exports',
    asyncHandler(async (req, res) => {
      const raw = req.is('application/x-www-form-urlencoded') ? formToBody(req.body as Record<string, unknown>) : req.body;
      const platform = typeof raw === 'object' && raw && 'platform' in raw ? String((raw as { platform: unknown }).platform) : undefined;
      const p = await principalOf(req, platform);
      const { platform: _ignored, ...rest } = (raw ?? {}) as Record<string, unknown>;
      const body = parseOr400(exportBody, rest, 'body');
      if (!exportFormats[body.kind].includes(body.format)) {
        throw badRequest(`Exports of kind ${body.kind} are produced as ${exportFormats[body.kind].join(', ')}.`, [
          { path: 'body.format', message: `one of ${exportFormats[body.kind].join(', ')}` },
        ]);
      }
      const filters = scopeFilters(p, body.filters);
      if (filters.courses?.length) {
        const known = await ctx.store.db
          .select({ contextId: courses.contextId })
          .from(courses)
          .where(eq(courses.platformId, p.platformId));
        const missing = filters.courses.filter((c) => !known.some((k) => k.contextId === c));
        if (missing.length) throw badRequest(`Unknown course(s) on this platform: ${missing.join(', ')}.`, [{ path: 'body.filters.courses', message: 'unknown course' }]);
      }
      const job = await createExportJob(ctx.store.db, {
        kind: body.kind,
        format: body.format,
        platformId: p.platformId,
        filters,
        requestedBy: p.actor,
      });
      wake();
      sendJob(req, res, job, p, 202);
    }),
  );

  const visibleJob = async (req: Request) => {
    const job = await getJob(ctx.store.db, String(req.params.id));
    if (!job) throw notFound('No such export.');
    const p = await principalOf(req, undefined);
    if (!canSee(p, job)) throw forbidden('This export is not yours to see.');
    return { job, p };
  };

  router.get(
    '/exports/:id',
    asyncHandler(async (req, res) => {
      const { job, p } = await visibleJob(req);
      sendJob(req, res, job, p);
    }),
  );

  router.get(
    '/exports/:id/file',
    asyncHandler(async (req, res) => {
      const { job, p } = await visibleJob(req);
      const file = await readJobFile(ctx.store.db, job.id, p.actor);
      if (!file) throw new HttpError(409, 'not_ready', job.status === 'expired' ? 'This export has expired.' : `This export is ${job.status}.`);
      res.set({
        'Content-Type': file.job.contentType ?? 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${file.job.fileName ?? 'export'}"`,
        'Cache-Control': 'no-store',
        ...(file.job.byteSize !== null ? { 'Content-Length': String(file.job.byteSize) } : {}),
        ...(file.job.sha256 ? { Digest: `sha-256=${Buffer.from(file.job.sha256, 'hex').toString('base64')}` } : {}),
      });
      file.stream.on('error', (error) => {
        req.log?.error({ err: error }, 'export download failed');
        res.destroy(error);
      });
      file.stream.pipe(res);
    }),
  );
}

/** The report APIs of an LTI session, mounted in the LTI app under /api/reports (ltijs validated the ltik). */
export function ltiReportRoutes(ctx: AppContext, wake: () => void, requireSession: express.RequestHandler): Router {
  const router = express.Router();
  router.use(requireSession);
  const principalOf = async (req: Request) => {
    if (!req.lti) throw unauthorized('No LTI session: launch Socle from the platform.');
    return ltiPrincipal(req.lti);
  };
  exportRoutes(ctx, router, '/lti/api/reports', principalOf, wake, (req) => req.lti?.ltik);
  router.get(
    '/indicators',
    asyncHandler(async (req, res) => {
      const p = await principalOf(req);
      const filters = scopeFilters(p, queryFilters(req.query));
      res.json(await indicatorsOf(ctx.store.db, { platformId: p.platformId, filters }));
    }),
  );
  return router;
}

/** The principal of an admin API token for a platform given by issuer; a token of another platform gets 403. */
async function tokenPrincipal(ctx: AppContext, req: Request, issuer: string | undefined, platformId?: number): Promise<ReportPrincipal> {
  const header = req.get('Authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const token = match?.[1] ? await findApiToken(ctx.store.db, match[1]) : undefined;
  if (!token) throw unauthorized('An API token is required (Authorization: Bearer socle_…).', { 'WWW-Authenticate': 'Bearer' });
  if (token.role !== 'admin') throw forbidden('This token is not an administrator token.');
  let platform;
  if (platformId === undefined) {
    if (!issuer) throw badRequest('Which platform? Give its issuer as `platform`.', [{ path: 'platform', message: 'required' }]);
    platform = await findPlatform(ctx.store.db, issuer);
    if (!platform) throw notFound(`No platform ${issuer}.`);
  } else {
    platform = { id: platformId, issuer: '' };
  }
  if (token.platformId !== null && token.platformId !== platform.id) throw forbidden('This token is scoped to another platform.');
  return { actor: `api-token:${token.name}`, platformId: platform.id, issuer: platform.issuer, courses: 'all', locale: 'fr' };
}

/** /api/v1 for API tokens: exports and indicators of a platform; and the public attestation verification. */
export function reportsRouter(ctx: AppContext, wake: () => void): Router {
  const router = express.Router();
  const api = express.Router();
  api.use(express.json({ limit: '100kb' }));
  const jobPlatform = async (req: Request) => {
    const id = req.params.id;
    if (!id) return undefined;
    const job = await getJob(ctx.store.db, id);
    return job?.platformId ?? undefined;
  };
  exportRoutes(
    ctx,
    api,
    '/api/v1/reports',
    async (req, platform) => tokenPrincipal(ctx, req, platform, req.params.id ? await jobPlatform(req) : undefined),
    wake,
    () => undefined,
  );
  router.use('/api/v1/reports', api);
  router.get(
    '/api/v1/indicators',
    asyncHandler(async (req, res) => {
      const issuer = typeof req.query.platform === 'string' ? req.query.platform : undefined;
      const p = await tokenPrincipal(ctx, req, issuer);
      const filters = queryFilters({ ...req.query, platform: undefined });
      res.json(await indicatorsOf(ctx.store.db, { platformId: p.platformId, filters }));
    }),
  );
  router.get(
    '/attestations/:id',
    asyncHandler(async (req, res) => {
      const found = await verifyAttestation(ctx.store.db, String(req.params.id));
      const json = req.query.format === 'json' || req.accepts(['html', 'json']) === 'json';
      const locale = pickLocale(typeof req.query.lang === 'string' ? req.query.lang : req.acceptsLanguages('fr', 'en') || 'fr');
      if (!found) {
        if (json) throw notFound('No attestation with this id was issued by Socle.');
        const t = translator(locale);
        render(res, 'error', { title: t('attestation.title'), message: t('attestation.unknown') }, locale, 404);
        return;
      }
      if (json) {
        res.set('Cache-Control', 'no-store').json(found);
        return;
      }
      const t = translator(locale);
      const tag = locale === 'en' ? 'en-GB' : 'fr-FR';
      const hours = (m: number) => new Intl.NumberFormat(tag, { maximumFractionDigits: 2 }).format(Math.round((m / 60) * 100) / 100);
      const date = (d: Date) => new Intl.DateTimeFormat(tag, { dateStyle: 'long', timeZone: 'Europe/Paris' }).format(d);
      render(res, 'attestation', { title: t('attestation.title'), a: found, hours, date }, locale);
    }),
  );
  return router;
}
