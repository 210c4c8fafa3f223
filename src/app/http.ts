import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { sessionPrincipal } from '../../lti/principal';
import { reportPrincipalOf } from '../../lti/reports';
import { ltiRouter } from '../../lti/router';
import type { LtiRuntime } from '../../lti/runtime';
import { badgesRouter } from '../api/badges';
import type { AppContext } from '../context';
import { assetsRouter } from '../web/render';
import { rateLimitByAddress } from '../web/rate-limit';
import { cachedOrigins, framedPages, securityHeaders } from '../web/security';
import { framingOrigins } from '../../lti/registration';
import { errorHandler, notFoundHandler } from '../web/http';
import { loggableError, redactUrl } from '../logger';
import { registerDatabaseGauges, measureHttp } from '../metrics';
import { coverageRouter } from '../api/coverage';
import { credentialsRouter } from '../api/credentials';
import { recordsRouter } from '../api/records';
import { healthRouter } from '../api/health';
import { homeRouter } from '../api/home';
import { openApiRouter } from '../api/openapi';
import { referentialsRouter } from '../api/referentials';
import { reportsRouter, sessionReportRoutes } from '../api/reports';
import type { SessionResolver } from '../api/principal';
import { unauthorized } from '../domain/errors';
import { xapiRouter } from '../api/xapi';
import { obApiRouter } from '../api/ob-api';
import { alertsRouter, OPT_OUT_PATH } from '../api/alerts';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The public verification routes: anyone may open them, inside a platform's frame too, and embed their images. */
const PUBLIC_PAGES = ['/badges', '/achievements', '/attestations', '/records'];

/** How long the registered platforms' origins (`frame-ancestors`) are reused before being read again. */
const FRAMING_TTL_MS = 30_000;

/** Wakes a background worker of `startServer` when work for it is written: the export runner, the coverage worker. */
export interface Wake {
  exports: () => void;
  coverage: () => void;
}

/**
 * The express application: request ids and logs, routes of every module, then JSON errors. It opens nothing and
 * starts no worker: `startServer` owns the LTI runtime `lti` (and closes it) and the workers; `wake` tells them
 * that a job was queued (an export) or learners were marked dirty (a batch of statements).
 */
export function createApp(ctx: AppContext, lti: LtiRuntime, wake: Wake): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  // Socle's security headers are the final ones on every response, ltijs' helmet included (src/web/security.ts)
  app.use(securityHeaders({ https: ctx.config.publicUrl.startsWith('https:'), publicPrefixes: PUBLIC_PAGES }));
  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // 503: the database is unavailable for now (the error handler says why, once per request), not a fault of Socle
      customLogLevel: (_req, res, err) => (res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/ready' || req.url === '/metrics' },
      // the ltik travels in page URLs and redirects: logged requests show neither its value
      serializers: {
        // pino-http applies its own error serializer first: the result is then reduced like every logged error.
        err: (err: unknown) => loggableError(err),
        req: (req: { url?: string }) => (req.url ? Object.assign(req, { url: redactUrl(req.url) }) : req),
        res: (res: { headers?: Record<string, unknown> }) => {
          const location = res.headers?.location;
          if (typeof location === 'string' && res.headers) res.headers = { ...res.headers, location: redactUrl(location) };
          return res;
        },
      },
    }),
  );
  // pages a platform may frame: the registered platforms' origins, read again at most every FRAMING_TTL_MS
  app.use(['/lti', ...PUBLIC_PAGES], framedPages(cachedOrigins(() => framingOrigins(ctx.store.db), FRAMING_TTL_MS)));
  registerDatabaseGauges(ctx);
  app.use(measureHttp);
  app.use(healthRouter(ctx));
  app.use(homeRouter(ctx));
  app.use(assetsRouter());
  const reportRoutes = sessionReportRoutes(ctx, wake.exports, async (req) => {
    if (!req.lti) throw unauthorized('No LTI session: launch Socle from the platform.');
    return reportPrincipalOf(req.lti);
  });
  // per address: the LTI login (each launch starts there) and the public verification pages; the xAPI keys and
  // API tokens are counted where they are authenticated
  app.use('/lti/login', rateLimitByAddress(ctx, 'login'));
  app.use([...PUBLIC_PAGES, OPT_OUT_PATH], rateLimitByAddress(ctx, 'public'));
  app.use('/lti', ltiRouter(ctx, lti, { reportRoutes }));
  // The JSON API accepts an LTI session's ltik as well as API tokens.
  const sessions: SessionResolver = (req, ltik) => sessionPrincipal(ctx, req, ltik);
  app.use(badgesRouter(ctx));
  app.use(obApiRouter(ctx));
  app.use(referentialsRouter(ctx));
  app.use(xapiRouter(ctx, wake.coverage));
  app.use(openApiRouter());
  app.use(coverageRouter(ctx, sessions));
  app.use(reportsRouter(ctx, wake.exports));
  app.use(credentialsRouter(ctx, sessions));
  app.use(recordsRouter(ctx, sessions));
  app.use(alertsRouter(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
