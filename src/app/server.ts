import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../config';
import type { AppContext, Services } from '../context';
import { openStore } from '../db/store';
import { createContext, storeOptions } from './context';
import { createApp } from './http';
import { createLogger, type Logger } from '../logger';
import { startRetention } from '../privacy/retention';
import { loadBundledReferentials } from '../referentials/catalogue';
import { startCoverageWorker } from '../coverage/freshness';
import { startOutboxWorker } from '../forwarding/outbox';
import { type ScoreWorker, startScoreWorker } from '../gradebook/worker';
import { startExportRunner } from '../reports/service';
import { startAlertsWorker } from '../alerts/send';
import { startWorker, type Worker } from '../worker';
import { purgeRateLimits } from '../rate-limit';

/** How often the counters of finished rate-limit windows are deleted. */
const RATE_LIMIT_PURGE_INTERVAL_MS = 5 * 60_000;
import { createLtiProvider, type LtiRuntime, startLtiPurge } from '../../lti/runtime';

/** How long an idle keep-alive connection stays open (nginx keeps upstream connections 60 s by default). */
const KEEP_ALIVE_MS = 65_000;

/** The background workers of a server, started once it listens and stopped before its store closes. */
export interface Workers {
  /** Statements wait in the outbox until an LRS is configured; then this process delivers them too. */
  outbox?: Worker;
  /** Learners marked stale by a large mapping or policy change are recomputed in the background. */
  coverage: Worker;
  /** Scores queued by coverage changes are published to the gradebooks. */
  scores: ScoreWorker;
  exports: Worker;
  /** With RETENTION_YEARS set: the daily purge. */
  retention?: Worker;
  /** Expired LTI rows (nonces, states, tokens) are deleted every minute. */
  ltiPurge: Worker;
  /** Counters of rate-limit windows long over are deleted every few minutes. */
  rateLimitPurge: Worker;
  /** With SMTP_URL set: the weekly digests, sent on ALERTS_DAY at ALERTS_HOUR. */
  alerts?: Worker;
}

export interface RunningServer {
  url: string;
  app: Express;
  ctx: AppContext;
  /** The ltijs runtime the LTI routes and the score worker share. */
  lti: LtiRuntime;
  workers: Workers;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to `graceMs`), stops the workers in the
   * reverse order of their start, then closes the LTI runtime and the store.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** Replace the context's default services (see createContext). */
  services?: Partial<Services>;
}

/**
 * Opens the store (migrations included) and the LTI runtime, builds the app, listens, then starts the workers.
 * Used by `socle serve` and by tests. When it fails before listening, it closes what it opened.
 */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await openStore(storeOptions(config));
  const ctx = createContext(config, store, logger, options.services);
  let lti: LtiRuntime | undefined;
  let server: Server;
  let app: Express;
  // the workers start once the server listens; the report routes and the xAPI resource wake theirs through this
  const running: { workers?: Workers } = {};
  try {
    lti = createLtiProvider(ctx);
    const started = performance.now();
    const loaded = await loadBundledReferentials(store.db, logger);
    logger.debug({ ...loaded, ms: Math.round(performance.now() - started) }, 'bundled référentiels checked');
    app = createApp(ctx, lti, { exports: () => running.workers?.exports.wake(), coverage: () => running.workers?.coverage.wake() });
    const listening = app;
    server = await new Promise<Server>((resolve, reject) => {
      const s = listening.listen(config.port, config.host);
      // Idle connections are kept longer than reverse proxies and HTTP clients keep theirs, so they close first:
      // with Node's 5 s a request sent on a connection the server is just closing fails (ECONNRESET, a proxy's 502).
      s.keepAliveTimeout = KEEP_ALIVE_MS;
      s.headersTimeout = KEEP_ALIVE_MS + 1_000;
      s.once('listening', () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    // what was opened, in reverse: the LTI runtime, then the store
    try {
      await lti?.close();
    } finally {
      await store.close();
    }
    throw error;
  }
  const workers: Workers = {
    outbox: config.lrs ? startOutboxWorker(ctx) : undefined,
    coverage: startCoverageWorker(ctx),
    scores: startScoreWorker(ctx, lti.provider),
    exports: startExportRunner(ctx),
    retention: startRetention(ctx),
    ltiPurge: startLtiPurge(lti.plugin, logger),
    rateLimitPurge: startWorker({
      name: 'rate-limit-purge',
      logger,
      intervalMs: RATE_LIMIT_PURGE_INTERVAL_MS,
      firstDelayMs: RATE_LIMIT_PURGE_INTERVAL_MS,
      tick: async () => {
        await purgeRateLimits(store.db, config.rateLimits.windowSeconds);
      },
    }),
    alerts: startAlertsWorker(ctx),
  };
  running.workers = workers;
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000) => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      // the workers in the reverse order of their start, each after its tick in flight; then the LTI runtime
      for (const worker of Object.values(workers).reverse()) await worker?.stop();
      await lti.close();
      ctx.mail?.close();
      await store.close();
    })();
    return closing;
  };
  return { url, app, ctx, lti, workers, close };
}
