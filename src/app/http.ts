import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { sessionPrincipal } from '../../lti/principal';
import { reportPrincipalOf } from '../../lti/reports';
import { ltiRouter } from '../../lti/router';
import { createLtiProvider } from '../../lti/runtime';
import { startScoreWorker } from '../gradebook/worker';
import { badgesRouter } from '../api/badges';
import type { AppContext } from '../context';
import { assetsRouter } from '../web/render';
import { errorHandler, notFoundHandler } from '../web/http';
import { registerDatabaseGauges, measureHttp } from '../metrics';
import { coverageRouter } from '../api/coverage';
import { credentialsRouter } from '../api/credentials';
import { healthRouter } from '../api/health';
import { referentialsRouter } from '../api/referentials';
import { reportsRouter, sessionReportRoutes } from '../api/reports';
import type { SessionResolver } from '../api/principal';
import { unauthorized } from '../web/http';
import { reportKinds } from '../reports/kinds';
import { startExportRunner } from '../reports/service';
import { xapiRouter } from '../api/xapi';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Registers a task that `startServer`'s close runs (after HTTP stops, before the store closes): timers, clients. */
export function onShutdown(app: Express, task: () => Promise<void>): void {
  const tasks = (app.locals.shutdown ??= []) as (() => Promise<void>)[];
  tasks.push(task);
}

/** The express application: request ids and logs, routes of every module, then JSON errors. */
export async function createApp(ctx: AppContext): Promise<Express> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/ready' || req.url === '/metrics' },
    }),
  );
  registerDatabaseGauges(ctx);
  app.use(measureHttp);
  app.use(healthRouter(ctx));
  app.use(assetsRouter());
  const lti = createLtiProvider(ctx, { purge: true });
  app.locals.lti = lti;
  // Scores queued by coverage changes are published to the gradebooks in the background.
  const scoreWorker = startScoreWorker(ctx, lti.provider);
  app.locals.scoreWorker = scoreWorker;
  onShutdown(app, scoreWorker.stop);
  onShutdown(app, lti.close);
  // Background exports: started with the app, stopped at shutdown (before the store closes).
  const exportRunner = startExportRunner(ctx, reportKinds);
  app.locals.exportRunner = exportRunner;
  onShutdown(app, exportRunner.stop);
  const wakeExports = () => exportRunner.wake();
  const reportRoutes = sessionReportRoutes(ctx, wakeExports, async (req) => {
    if (!req.lti) throw unauthorized('No LTI session: launch Socle from the platform.');
    return reportPrincipalOf(req.lti);
  });
  app.use('/lti', ltiRouter(ctx, lti, { reportRoutes }));
  // The JSON API accepts an LTI session's ltik as well as API tokens.
  const sessions: SessionResolver = (req, ltik) => sessionPrincipal(ctx, req, ltik);
  app.use(badgesRouter(ctx));
  app.use(referentialsRouter(ctx));
  app.use(xapiRouter(ctx));
  app.use(coverageRouter(ctx, sessions));
  app.use(reportsRouter(ctx, wakeExports));
  app.use(credentialsRouter(ctx, sessions));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
