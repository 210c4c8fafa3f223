import { eq } from 'drizzle-orm';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { findApiToken } from '../identity/api-tokens';
import type { AppContext } from '../context';
import { courses } from '../db/schema';
import { findPlatform } from '../identity/records';
import { indicatorsOf } from '../reports/service';
import { createExportJob, type ExportJob, getJob, readJobFile } from '../reports/jobs';
import { aliasesOf, canonicalFormat, reportFormats, reportKinds } from '../reports/kinds';
import { parseReferentialOption, type ReportFilters, reportFilters } from '../reports/source';
import '../web/texts/reports';
import { canSeeJob, jobView, type ReportPrincipal, scopeFilters } from '../reports/access';
import { verifyAttestation } from '../reports/verification';
import { requestLocale, translator } from '../web/i18n';
import { render, renderFragment } from '../web/render';
import { asyncHandler, parseOr400 } from '../web/http';
import { enforceRateLimit } from '../web/rate-limit';
import { forbidden, invalid, notFound, SocleError, unauthorized } from '../domain/errors';
import { formatDate, formatMinutes } from '../domain/format';
import { institutionOf } from '../identity/institution';

/**
 * The body of a POST /exports. Its enums are those of the default registry, since the schema is static (the OpenAPI
 * document is generated from it); whether the kind is produced, in that format, is checked against `ctx.reports`.
 */
const apiAliases = aliasesOf('api', reportKinds.formats);
export const exportBody = z.strictObject({
  kind: z.enum(reportKinds.names),
  format: z
    .enum([...reportKinds.formats, ...apiAliases.map(([alias]) => alias)])
    .describe(
      [
        ...reportKinds.formats.map((f) => `\`${f}\`: ${reportFormats[f].note}`),
        ...apiAliases.map(([alias, f]) => `\`${alias}\`: an older name of \`${f}\`, still accepted`),
      ].join('; '),
    ),
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

/** The filters of a query string as the API document shows them; `queryFilters` reads them into `reportFilters`. */
export const filtersQuery = z.object({
  courses: z.array(z.string()).optional().describe('course context ids, repeated or comma-separated'),
  referential: z.string().optional().describe('a référentiel id, or id@version'),
  from: reportFilters.shape.from,
  to: reportFilters.shape.to,
});

export const jobParams = z.object({ id: z.string().describe('the export id') });

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
    if (wantsHtml(req)) {
      const known = canonicalFormat(view.format, 'api');
      const format = known ? reportFormats[known].label[p.locale] : view.format;
      renderFragment(res, 'export-job', { job: view, what: ctx.reports.label(job.kind, p.locale), format }, p.locale, status);
    }
    else res.status(status).json(view);
  };

  router.post(
    '/exports',
    asyncHandler(async (req, res) => {
      const raw = req.is('application/x-www-form-urlencoded') ? formToBody(req.body as Record<string, unknown>) : req.body;
      const platform = typeof raw === 'object' && raw && 'platform' in raw ? String((raw as { platform: unknown }).platform) : undefined;
      const p = await principalOf(req, platform);
      const { platform: _ignored, ...rest } = (raw ?? {}) as Record<string, unknown>;
      const parsed = parseOr400(exportBody, rest, 'body');
      const format = canonicalFormat(parsed.format, 'api');
      if (!format) throw invalid(`Unknown format ${parsed.format}.`, [{ path: 'body.format', message: 'unknown format' }]);
      const body = { ...parsed, format };
      const formats = ctx.reports.formatsOf(body.kind);
      if (!formats.includes(body.format)) {
        throw invalid(`Exports of kind ${body.kind} are produced as ${formats.join(', ')}.`, [
          { path: 'body.format', message: `one of ${formats.join(', ')}` },
        ]);
      }
      const filters = scopeFilters(p, body.filters);
      if (filters.courses?.length) {
        const known = await ctx.store.db
          .select({ contextId: courses.contextId })
          .from(courses)
          .where(eq(courses.platformId, p.platformId));
        const missing = filters.courses.filter((c) => !known.some((k) => k.contextId === c));
        if (missing.length) throw invalid(`Unknown course(s) on this platform: ${missing.join(', ')}.`, [{ path: 'body.filters.courses', message: 'unknown course' }]);
      }
      const job = await createExportJob(ctx.store.db, ctx.reports, {
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
    const job = await getJob(ctx.store.db, parseOr400(jobParams, req.params, 'params').id);
    if (!job) throw notFound('No such export.');
    const p = await principalOf(req, undefined);
    if (!canSeeJob(p, job)) throw forbidden('This export is not yours to see.');
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
      if (!file) throw new SocleError('not_ready', job.status === 'expired' ? 'This export has expired.' : `This export is ${job.status}.`);
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

/**
 * The report APIs of a session whose principal the caller resolves (the LTI app mounts them under
 * /lti/api/reports, behind ltijs' validation of the ltik).
 */
export function sessionReportRoutes(ctx: AppContext, wake: () => void, principalOf: (req: Request) => Promise<ReportPrincipal>): Router {
  const router = express.Router();
  exportRoutes(ctx, router, '/lti/api/reports', principalOf, wake, (req) => req.lti?.ltik);
  router.get(
    '/indicators',
    asyncHandler(async (req, res) => {
      const p = await principalOf(req);
      const filters = scopeFilters(p, queryFilters(req.query));
      res.json(await indicatorsOf(ctx.store.db, ctx.compliance, { platformId: p.platformId, filters }));
    }),
  );
  return router;
}

/** The principal of an admin API token for a platform given by issuer; a token of another platform gets 403. */
async function tokenPrincipal(ctx: AppContext, req: Request, issuer: string | undefined, platformId?: number): Promise<ReportPrincipal> {
  const header = req.get('Authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const token = match?.[1] ? await findApiToken(ctx.store.db, match[1]) : undefined;
  if (!token) throw unauthorized('An API token is required (Authorization: Bearer socle_…).', 'Bearer');
  await enforceRateLimit(ctx, 'api', token.name);
  if (token.role !== 'admin') throw forbidden('This token is not an administrator token.');
  let platform;
  if (platformId === undefined) {
    if (!issuer) throw invalid('Which platform? Give its issuer as `platform`.', [{ path: 'platform', message: 'required' }]);
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
      res.json(await indicatorsOf(ctx.store.db, ctx.compliance, { platformId: p.platformId, filters }));
    }),
  );
  router.get(
    '/attestations/:id',
    asyncHandler(async (req, res) => {
      const found = await verifyAttestation(ctx.store.db, String(req.params.id));
      const json = req.query.format === 'json' || req.accepts(['html', 'json']) === 'json';
      const locale = requestLocale(req);
      if (!found) throw notFound('No attestation with this id was issued by Socle.');
      if (json) {
        res.set('Cache-Control', 'no-store').json(found);
        return;
      }
      const t = translator(locale);
      // hours as the attestation prints them, dates in the institution's time zone
      const platform = await findPlatform(ctx.store.db, found.platform);
      const { timeZone } = platform ? await institutionOf(ctx.store.db, platform) : { timeZone: undefined };
      const date = (d: Date) => formatDate(d, { locale, timeZone });
      render(res, 'attestation', { title: t('attestation.title'), a: found, hours: formatMinutes, date }, locale);
    }),
  );
  return router;
}
