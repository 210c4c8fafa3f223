import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { createLtiProvider, ltiRouter } from '../../lti/provider';
import { startScoreWorker } from '../gradebook/worker';
import { badgesRouter } from '../badges/routes';
import type { AppContext } from '../context';
import { assetsRouter } from '../web/render';
import { errorHandler, notFoundHandler } from './errors';
import { registerDatabaseGauges, measureHttp } from '../metrics';
import { coverageRouter } from './coverage';
import { credentialsRouter } from './credentials';
import { healthRouter } from './health';
import { referentialsRouter } from './referentials';
import { reportsRouter } from './reports';
import { startExportRunner } from '../reports/service';
import { xapiRouter } from './xapi';

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
  const exportRunner = startExportRunner(ctx);
  app.locals.exportRunner = exportRunner;
  onShutdown(app, exportRunner.stop);
  const wakeExports = () => exportRunner.wake();
  app.use('/lti', ltiRouter(ctx, lti, { wakeExports }));
  app.use(badgesRouter(ctx));
  app.use(referentialsRouter(ctx));
  app.use(xapiRouter(ctx));
  app.use(coverageRouter(ctx));
  app.use(reportsRouter(ctx, wakeExports));
  app.use(credentialsRouter(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
