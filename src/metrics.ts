import { sql } from 'drizzle-orm';
import type { RequestHandler } from 'express';
import type { AppContext } from './context';
import { queryRows } from './db/store';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of this process, served at `/metrics`. Counters are incremented where things happen;
 * gauges that read the database (outbox depth, export jobs) are registered by their modules with a `collect`.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'socle_' });

export const httpDuration = new Histogram({
  name: 'socle_http_request_duration_seconds',
  help: 'HTTP request latency by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const launches = new Counter({
  name: 'socle_lti_launches_total',
  help: 'LTI launches by outcome and role',
  labelNames: ['outcome', 'role'] as const,
  registers: [registry],
});

export const statementsReceived = new Counter({
  name: 'socle_xapi_statements_received_total',
  help: 'xAPI statements accepted by the Statements endpoint',
  registers: [registry],
});

export const statementsForwarded = new Counter({
  name: 'socle_xapi_statements_forwarded_total',
  help: 'xAPI statements delivered to the external LRS',
  registers: [registry],
});

export const statementsDeadLettered = new Counter({
  name: 'socle_xapi_statements_dead_lettered_total',
  help: 'xAPI statements the external LRS refused (set aside with their error)',
  registers: [registry],
});

export const workerTicks = new Counter({
  name: 'socle_worker_ticks_total',
  help: 'Background worker ticks (units of work tried), by worker',
  labelNames: ['worker'] as const,
  registers: [registry],
});

export const workerFailures = new Counter({
  name: 'socle_worker_failures_total',
  help: 'Background worker ticks that failed (retried after a back-off), by worker',
  labelNames: ['worker'] as const,
  registers: [registry],
});

export const workerTickDuration = new Histogram({
  name: 'socle_worker_tick_duration_seconds',
  help: 'Background worker tick duration, by worker',
  labelNames: ['worker'] as const,
  buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
  registers: [registry],
});

/** A gauge whose value is read (from the database) at each scrape. */
export function databaseGauge(name: string, help: string, read: () => Promise<number>): Gauge {
  const existing = registry.getSingleMetric(name);
  if (existing) registry.removeSingleMetric(name);
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      try {
        this.set(await read());
      } catch {
        // The database is unreachable: /health and /ready say so; the gauge keeps its last value.
      }
    },
  });
}

/** Observes every request's latency under its route pattern (never the raw URL: bounded label values). */
export const measureHttp: RequestHandler = (req, res, next) => {
  const end = httpDuration.startTimer();
  res.on('finish', () => {
    const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : req.baseUrl || 'unmatched';
    end({ method: req.method, route: String(route), status: String(res.statusCode) });
  });
  next();
};

/** Outbox depth and export jobs waiting, read from the database at each scrape (the same for every instance). */
export function registerDatabaseGauges({ store }: AppContext): void {
  const count = async (query: ReturnType<typeof sql>) => (await queryRows<{ n: number }>(store.db, query))[0]?.n ?? 0;
  databaseGauge('socle_xapi_outbox_pending', 'xAPI statements waiting for delivery to the LRS', () =>
    count(sql`SELECT count(*)::int AS n FROM xapi_outbox WHERE status = 'pending'`),
  );
  databaseGauge('socle_xapi_outbox_dead', 'xAPI statements the LRS refused, set aside', () =>
    count(sql`SELECT count(*)::int AS n FROM xapi_outbox WHERE status = 'dead'`),
  );
  databaseGauge('socle_export_jobs_waiting', 'export jobs queued or running', () =>
    count(sql`SELECT count(*)::int AS n FROM export_jobs WHERE status IN ('queued', 'running')`),
  );
}

export const rateLimited = new Counter({
  name: 'socle_rate_limited_total',
  help: 'Requests refused with 429 by the rate limits, by kind of client',
  labelNames: ['kind'] as const,
  registers: [registry],
});
