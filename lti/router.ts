import { eq, sql } from 'drizzle-orm';
import express, { type Request, type Response } from 'express';
import type { IdToken } from 'ltijs';
import { CLOCK_SKEW, type LtiRuntime, scoreMaximumOf, TOKEN_MAX_AGE } from './runtime';
import { launchChecks } from './launch-checks';
import type { AppContext } from '../src/context';
import { courseMembers, ltiCourseServices, users } from '../src/db/schema';
import { asyncHandler, sendError } from '../src/web/http';
import { type ErrorCode, forbidden, invalid, notFound, platformError, SocleError } from '../src/domain/errors';
import { launches } from '../src/metrics';
import { mappingRoutes, renderMappingPage } from './mapping';
import { ensureCourse, ensurePlatform, ensureUser } from '../src/identity/records';
import { type Locale, pickLocale, translator } from '../src/web/i18n';
import { hoursText, learnerForecast, learnerProgress } from './progress';
import { formatDate, formatMinutes } from '../src/domain/format';
import { render } from '../src/web/render';
import { allowFormTarget, allowFraming, originOf } from '../src/web/security';
import { reportPrincipalOf, reportsPanel } from './reports';

import { outboxStatus } from '../src/forwarding/outbox';
import { LINE_ITEM_LABEL, LINE_ITEM_TAG } from '../src/lms/ags';
import { cohortRoutes } from './cohort';
import { institutionPanel, institutionRoutes } from './institution';
import { syncRoster } from '../src/lms/nrps';
import { dynamicRegistration, isDeploymentAllowed, prefillInstitutionFromLaunch } from './registration';
import { LTI_BASE, toolConfig } from '../src/lms/tool-config';
import { landingRole, type SocleRole, socleRoles } from '../src/domain/roles';
import { assertSameCourse, requireRole } from './session';
import { learnerRoutes } from './learner';
import { adminPlatformRoutes, platformsPanel } from './admin-platforms';
import { adminWebServiceRoutes, webServicePanel } from './admin-webservice';
import { adminXapiKeyRoutes, xapiKeysPanel } from './admin-xapi-keys';
import { adminLearnerRoutes, learnersPanel } from './admin-learners';
import { adminProgrammeRoutes, programmesPanel } from './admin-programmes';
import { adminTransitionRoutes, transitionsPanel } from './admin-transitions';
import { WALLET_CODE_PATH, WALLET_DISCONNECT_PATH, walletRoutes } from './wallet';
import { connectedWallets } from '../src/wallet/tokens';
import { recordRecipient } from '../src/alerts/preferences';
import { alertsPanel, alertsRoutes } from './alerts';

/** ltijs' reasons that mean "no session" on a page (no ltik, or one whose stored session has expired). */
const NO_SESSION = new Set(['NO_LTIK_OR_IDTOKEN_FOUND', 'IDTOKEN_NOT_FOUND_DB', 'CONTEXTTOKEN_NOT_FOUND_DB']);

/** A field of the login or launch request (body or query), short, for the error page. */
function requestField(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name] ?? req.query[name];
  return typeof value === 'string' && value ? value.slice(0, 200) : undefined;
}

/** An LTI login, launch or session refused: answered like every error (a page to browsers, JSON otherwise). */
function refuseLti(code: ErrorCode, req: Request, res: Response, detail: string) {
  req.log?.warn({ reason: detail }, 'LTI request refused');
  const issuer = requestField(req, 'iss');
  const clientId = requestField(req, 'client_id');
  const platform = issuer ? ` (${issuer}${clientId ? `, client id ${clientId}` : ''})` : '';
  const onPage = code === 'invalid_launch' && NO_SESSION.has(detail) && req.path !== '/launch';
  const error =
    code === 'unregistered_platform'
      ? new SocleError(code, `This platform${platform} is not registered in Socle.`, [{ path: 'lti', message: detail }])
      : code === 'platform_inactive'
        ? new SocleError(code, `This platform${platform} is registered but not activated in Socle (socle platforms activate).`, [{ path: 'lti', message: detail }])
        : onPage
          ? new SocleError('session_expired', 'No LTI session: launch Socle again from the platform.', [{ path: 'lti', message: detail }])
          : new SocleError(code, `The LTI launch or session is invalid: ${detail}.`, [{ path: 'lti', message: detail }]);
  sendError(req, res, error, { values: { ...(issuer ? { issuer } : {}), ...(clientId ? { clientId } : {}) } });
}

/** ltijs' callback for `code`: the reason is ltijs' own (`res.locals.err`). */
function ltiError(code: ErrorCode) {
  return (req: Request, res: Response) => {
    const err = (res.locals as { err?: { details?: { message?: string; description?: string } } }).err;
    refuseLti(code, req, res, err?.details?.message ?? code);
  };
}

function localeOf(token: IdToken | undefined): Locale {
  return pickLocale(token?.platformContext?.launchPresentation?.locale);
}

/** Records the launch in Socle's identity tables: platform, user (name/email only if sent), course, membership, services. */
async function recordLaunch(ctx: AppContext, token: IdToken, roles: SocleRole[]) {
  const pc = token.platformContext;
  return ctx.store.db.transaction(async (tx) => {
    const platform = await ensurePlatform(tx, token.iss);
    if (!(await isDeploymentAllowed(tx, platform.id, token.clientId, token.deploymentId))) return { platform, refused: true as const };
    await prefillInstitutionFromLaunch(tx, platform.id, token.platformInfo);
    const user = await ensureUser(tx, platform.id, token.user, {
      ...(token.userInfo?.name ? { name: token.userInfo.name } : {}),
      ...(token.userInfo?.email ? { email: token.userInfo.email } : {}),
      ...(pc?.launchPresentation?.locale ? { locale: pc.launchPresentation.locale } : {}),
    });
    await tx.update(users).set({ lastSeenAt: sql`now()` }).where(eq(users.id, user.id));
    // teachers and administrators receive the weekly digests: their address is kept for them (src/alerts)
    if (roles.includes('instructor') || roles.includes('administrator')) {
      await recordRecipient(tx, platform.id, user.id, { email: token.userInfo?.email, manager: roles.includes('administrator') });
    }
    let course;
    if (pc?.context?.id) {
      course = await ensureCourse(tx, platform.id, pc.context.id, pc.context.title ?? null);
      if (roles.includes('learner') || roles.includes('instructor')) {
        const memberRoles = pc.roles ?? [];
        await tx
          .insert(courseMembers)
          .values({ courseId: course.id, userId: user.id, roles: memberRoles, status: 'active' })
          .onConflictDoUpdate({
            target: [courseMembers.courseId, courseMembers.userId],
            set: { roles: memberRoles, status: 'active', updatedAt: sql`now()` },
          });
      }
      const services = {
        clientId: token.clientId,
        deploymentId: token.deploymentId,
        membershipsUrl: pc.namesRoles?.context_memberships_url ?? null,
        lineitemsUrl: pc.endpoint?.lineitems ?? null,
        ...(pc.endpoint?.lineitem ? { lineitemUrl: pc.endpoint.lineitem } : {}),
      };
      await tx
        .insert(ltiCourseServices)
        .values({ courseId: course.id, ...services })
        .onConflictDoUpdate({ target: ltiCourseServices.courseId, set: { ...services, updatedAt: sql`now()` } });
    }
    return { platform, user, course, refused: false as const };
  });
}

export interface LtiRouterOptions {
  /** The report APIs of a session (`/lti/api/reports`), built by the API and mounted here by the app. */
  reportRoutes?: express.RequestHandler;
}

/**
 * ltijs mounted under /lti behind Socle's launch checks (launch-checks.ts), with Socle's launch routing, pages,
 * APIs and dynamic registration.
 */
export function ltiRouter(ctx: AppContext, runtime: LtiRuntime, options: LtiRouterOptions = {}): express.Router {
  const lti = runtime.provider;
  const base = `${ctx.config.publicUrl}${LTI_BASE}`;
  lti.onInvalidToken(ltiError('invalid_launch'));
  lti.onSessionTimeout(ltiError('session_expired'));
  lti.onUnregisteredPlatform(ltiError('unregistered_platform'));
  lti.onInactivePlatform(ltiError('platform_inactive'));

  lti.onConnect(async (token, req, res) => {
    const locale = localeOf(token);
    const roles = socleRoles(token.platformContext?.roles);
    const landing = landingRole(roles);
    res.locals.locale = locale;
    const recorded = await recordLaunch(ctx, token, roles);
    if (recorded.refused) {
      launches.inc({ outcome: 'refused', role: landing ?? 'none' });
      req.log?.warn({ iss: token.iss, deploymentId: token.deploymentId }, 'launch from an unregistered deployment');
      // ltijs stored the session before calling us: take it back, so a refused launch leaves nothing.
      await lti.Database.Delete('contexttoken', { contextId: token.platformContext.contextId, user: token.user });
      await lti.Database.Delete('idtoken', { iss: token.iss, clientId: token.clientId, deploymentId: token.deploymentId, user: token.user });
      sendError(req, res, new SocleError('invalid_launch', `Deployment ${token.deploymentId} of ${token.iss} is not registered in Socle.`));
      return;
    }
    launches.inc({ outcome: landing ? 'ok' : 'no_role', role: landing ?? 'none' });
    if (!landing) {
      const received = (token.platformContext?.roles ?? []).join(', ') || '—';
      sendError(req, res, forbidden(`Your role in this course gives no access to Socle. Roles received: ${received}.`, [{ path: 'roles', message: received }]));
      return;
    }
    if (landing === 'instructor' && recorded.course) {
      try {
        await syncRoster(ctx, lti, recorded.course.id);
      } catch (error) {
        req.log?.warn({ err: error, courseId: recorded.course.id }, 'roster not refreshed at launch');
      }
    }
    const target = landing === 'administrator' ? '/admin' : landing === 'instructor' ? '/course' : '/me';
    await lti.redirect(res, `${LTI_BASE}${target}`);
  });

  lti.onDeepLinking(async (token, req, res) => {
    const locale = localeOf(token);
    const t = translator(locale);
    if (!socleRoles(token.platformContext?.roles).includes('instructor') && !socleRoles(token.platformContext?.roles).includes('administrator')) {
      res.locals.locale = locale;
      sendError(req, res, forbidden('Only a teacher or an administrator adds Socle to a course.'));
      return;
    }
    await recordLaunch(ctx, token, socleRoles(token.platformContext?.roles));
    const ltik = String((res.locals as { ltik?: string }).ltik);
    render(res, 'deeplink', { title: t('deeplink.title'), ltik, action: `${LTI_BASE}/deeplink`, label: LINE_ITEM_LABEL }, locale);
  });

  lti.onDynamicRegistration(async (req, res) => {
    // The platform's administration frames this page, whatever the administrator's browser says: it is in the
    // institution's language (French), in English only when asked (?lang=en). Its error page follows.
    const locale: Locale = typeof req.query.lang === 'string' ? pickLocale(req.query.lang) : 'fr';
    res.locals.locale = locale;
    const t = translator(locale);
    const conf = req.query.openid_configuration;
    const token = req.query.registration_token;
    if (typeof conf !== 'string' || (token !== undefined && typeof token !== 'string')) {
      sendError(req, res, invalid('Missing query parameter openid_configuration.', [{ path: 'query.openid_configuration', message: 'required' }]));
      return;
    }
    try {
      const result = await dynamicRegistration(ctx, lti, conf, token);
      // the platform registering Socle shows this page (in a frame or a window) before an administrator activates it
      allowFraming(res, [originOf(result.issuer), originOf(conf)].filter((o): o is string => o !== undefined), { opener: true });
      render(
        res,
        'register',
        {
          title: t('register.title'),
          done: t('register.done', { issuer: result.issuer, clientId: result.clientId, deploymentId: result.deploymentId ?? '—' }),
          state: result.active ? t('register.active') : t('register.pending'),
          active: result.active,
        },
        locale,
      );
    } catch (error) {
      if (!SocleError.is(error, 'registration_failed')) throw error;
      req.log?.warn({ err: error }, 'dynamic registration failed');
      sendError(req, res, error);
    }
  });

  const app = lti.app;
  const page = (req: Request) => {
    const s = req.lti;
    if (!s) throw new Error('no session');
    return { s, t: translator(s.locale), newWindowUrl: `${base}${req.path}?ltik=${encodeURIComponent(s.ltik)}` };
  };

  async function roster(courseId: number) {
    return ctx.store.db
      .select({ id: users.id, sub: users.sub, name: users.name, roles: courseMembers.roles, status: courseMembers.status })
      .from(courseMembers)
      .innerJoin(users, eq(users.id, courseMembers.userId))
      .where(eq(courseMembers.courseId, courseId))
      .orderBy(users.name, users.sub);
  }

  /** What the course page shows beside the mapping (title, roster, reports), for each of its tabs. */
  async function coursePage(req: Request) {
    const { s, t, newWindowUrl } = page(req);
    if (!s.course) throw notFound('No course in this launch.');
    const [services] = await ctx.store.db.select().from(ltiCourseServices).where(eq(ltiCourseServices.courseId, s.course.id));
    return {
      title: t('course.title', { title: s.course.title ?? s.course.contextId }),
      ltik: s.ltik,
      newWindowUrl,
      course: s.course,
      members: await roster(s.course.id),
      syncedAt: services?.rosterSyncedAt ? formatDate(services.rosterSyncedAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }) : undefined,
      syncUrl: `${LTI_BASE}/api/courses/${s.course.id}/roster/sync`,
      reports: await reportsPanel(ctx, { ...reportPrincipalOf(s), courses: [s.course.contextId] }, s.ltik, s.timeZone),
      cohortUrl: `${LTI_BASE}/course/cohort?ltik=${encodeURIComponent(s.ltik)}`,
    };
  }

  app.get(
    '/course',
    requireRole(ctx, 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const { s } = page(req);
      const data = await coursePage(req);
      // The course's instructors get the mapping screen (in tabs, roster and reports among them); others the roster.
      if (s.roles.includes('instructor')) await renderMappingPage(ctx, req, res, data);
      else render(res, 'course', data, s.locale);
    }),
  );

  app.get(
    '/me',
    requireRole(ctx, 'learner', 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const { s, t, newWindowUrl } = page(req);
      const tab = req.query.tab === 'badges' ? 'badges' : 'hours';
      const here = `${LTI_BASE}/me?ltik=${encodeURIComponent(s.ltik)}`;
      render(
        res,
        'me',
        {
          title: t('me.title'),
          ltik: s.ltik,
          newWindowUrl: tab === 'badges' ? `${newWindowUrl}&tab=badges` : newWindowUrl,
          who: t('me.who', { name: s.user.name ?? s.user.sub, course: s.course?.title ?? s.course?.contextId ?? '—' }),
          tab,
          hoursUrl: here,
          badgesUrl: `${here}&tab=badges`,
          walletCodeUrl: WALLET_CODE_PATH,
          walletDisconnectUrl: WALLET_DISCONNECT_PATH,
          wallets: tab === 'badges' ? await connectedWallets(ctx.store.db, s.user.id) : [],
          sections: await learnerProgress(ctx, s),
          ...(await learnerForecast(ctx, s)),
          reminderUrl: `${LTI_BASE}/alerts/preference?ltik=${encodeURIComponent(s.ltik)}`,
          reminderSaved: req.query.alerts === 'saved',
          hoursText,
          formatMinutes,
          formatDate: (iso: string) => formatDate(iso, { locale: s.locale, timeZone: s.timeZone }),
        },
        s.locale,
      );
    }),
  );

  app.get(
    '/admin',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => {
      const { s, t, newWindowUrl } = page(req);
      render(
        res,
        'admin',
        {
          title: t('admin.title'),
          ltik: s.ltik,
          newWindowUrl,
          // each section of the page: its own partial (views/admin-*.eta) and routes (lti/admin-*.ts)
          ...(await platformsPanel(ctx, lti, s)),
          ...(await webServicePanel(ctx, s)),
          ...(await xapiKeysPanel(ctx, s)),
          ...(await learnersPanel(ctx, s, req.query)),
          ...(await programmesPanel(ctx, s)),
          ...(await transitionsPanel(ctx, s)),
          config: toolConfig(ctx.config),
          course: s.course,
          outbox: await outboxStatus(ctx.store.db),
          reports: await reportsPanel(ctx, reportPrincipalOf(s), s.ltik, s.timeZone),
          institution: await institutionPanel(ctx, s),
          ...(await alertsPanel(ctx, s, 'programmes', req.query.alerts === 'saved')),
          saved: req.query.saved,
        },
        s.locale,
      );
    }),
  );

  app.get(
    '/api/courses/:courseId/roster',
    requireRole(ctx, 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti;
      if (!s) throw new Error('no session');
      const course = assertSameCourse(s, Number(req.params.courseId));
      res.json({ course: { id: course.id, contextId: course.contextId, title: course.title }, members: await roster(course.id) });
    }),
  );

  app.post(
    '/api/courses/:courseId/roster/sync',
    requireRole(ctx, 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti;
      if (!s) throw new Error('no session');
      const course = assertSameCourse(s, Number(req.params.courseId));
      try {
        const result = await syncRoster(ctx, lti, course.id);
        if (req.get('HX-Request')) {
          res.set('HX-Refresh', 'true').status(204).end();
          return;
        }
        res.json(result);
      } catch (error) {
        throw platformError(`Names and Roles: ${(error as Error).message}`);
      }
    }),
  );

  app.post(
    '/deeplink',
    requireRole(ctx, 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti;
      if (!s) throw new Error('no session');
      if (!s.token.platformContext?.deepLinkingSettings) {
        throw invalid('This session is not a deep-linking request.');
      }
      // Socle's own form (ltijs' has an inline script and style, which the Content-Security-Policy refuses)
      const message = await lti.DeepLinking.createDeepLinkingMessage(
        s.token,
        [
          {
            type: 'ltiResourceLink',
            title: 'Socle',
            text: 'Formation socle au numérique en santé : mes heures validées',
            url: `${base}/launch`,
            lineItem: { scoreMaximum: await scoreMaximumOf(ctx.referentials(ctx.store.db), s.course), label: LINE_ITEM_LABEL, resourceId: LINE_ITEM_TAG, tag: LINE_ITEM_TAG },
          },
        ],
        { message: 'Socle ajouté' },
      );
      const t = translator(s.locale);
      const action = String(s.token.platformContext.deepLinkingSettings.deep_link_return_url);
      allowFormTarget(res, action);
      render(res, 'deeplink-return', { title: t('deeplink.title'), action, jwt: message }, s.locale);
    }),
  );

  if (options.reportRoutes) app.use('/api/reports', requireRole(ctx, 'administrator', 'instructor'), options.reportRoutes);
  mappingRoutes(ctx, app, coursePage);
  cohortRoutes(ctx, runtime, app);
  learnerRoutes(ctx, app);
  adminPlatformRoutes(ctx, lti, app);
  adminWebServiceRoutes(ctx, app);
  adminXapiKeyRoutes(ctx, app);
  adminLearnerRoutes(ctx, app);
  adminProgrammeRoutes(ctx, app);
  adminTransitionRoutes(ctx, app);
  institutionRoutes(ctx, app);
  walletRoutes(ctx, app);
  alertsRoutes(ctx, app);

  const router = express.Router();
  const limits = { tokenMaxAgeSeconds: TOKEN_MAX_AGE, clockSkewSeconds: CLOCK_SKEW };
  router.use(launchChecks(ctx, runtime.plugin, limits, (req, res, reason) => refuseLti('invalid_launch', req, res, reason)));
  router.use(app);
  return router;
}

