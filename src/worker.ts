/**
 * The loop every background worker runs (outbox delivery, coverage freshness, score publication, exports,
 * retention, the LTI purge): a named worker calls its `tick` — one unit of work: claim rows with a lease, do,
 * record — again at once while there is work, every `intervalMs` when idle, and after a failure with a growing,
 * jittered delay.
 * The claims themselves (leases, `FOR UPDATE SKIP LOCKED`) stay with each feature: they are its data.
 *
 * Why not a PostgreSQL job-queue library: graphile-worker needs a node-postgres Pool and LISTEN/NOTIFY, which the
 * embedded PGlite (one in-process WASM connection) does not offer across processes; pg-boss could be driven
 * through its `db.executeSql` adapter, but it keeps jobs in its own schema and tables, while Socle's queues are
 * feature tables with their own meaning (the outbox deduplicated by statement id, score publications coalesced
 * per learner, export jobs with their stored files and heartbeats, dirty learners). Moving them would change the
 * stored data; the loop around them is what the workers had in common, so that is what lives here.
 */
import { databaseFault } from './db/faults';
import { type Logger, loggableError } from './logger';
import { workerFailures, workerTickDuration, workerTicks } from './metrics';

/** Exponential back-off: `base` doubled per attempt after the first, capped at `max`, drawn between 50 and 100 %. */
export function backoffDelay(attempts: number, base: number, max: number, random = Math.random): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp * (0.5 + random() * 0.5));
}

/** The longest wait between ticks while the database is unavailable. */
const OUTAGE_MAX_BACKOFF_MS = 30_000;

export interface WorkerLoopOptions {
  /** Names the worker in logs and metrics (a short, fixed word: bounded label values). */
  name: string;
  logger: Logger;
  /** One unit of work. Resolves `true` when more work may be waiting (the next tick runs at once). */
  tick: () => Promise<boolean | void>;
  /** Wait between ticks when idle. */
  intervalMs: number;
  /** Wait before the first tick (default 0: at once). */
  firstDelayMs?: number;
  /** After failures the wait grows from `intervalMs` up to this (default the larger of `intervalMs` and 5 min). */
  maxBackoffMs?: number;
  /** The jitter's source (tests). */
  random?: () => number;
  /**
   * A wake runs the next tick this long after it (default 0: at once), unless one is due sooner: the wakes of a
   * burst (every batch of statements wakes the coverage worker) then make one tick, not one each.
   */
  wakeDelayMs?: number;
}

export interface Worker {
  readonly name: string;
  /** Runs a tick now (or `wakeDelayMs` from now), or right after the one in flight. Does nothing once stopped. */
  wake(): void;
  /** Runs `unit` between ticks (after the one in flight, before the next): for work that must not overlap them. */
  exclusive<T>(unit: () => Promise<T>): Promise<T>;
  /** Stops scheduling ticks and waits for the one in flight. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Starts a worker loop. Its timers are unref'd: they never keep the process alive on their own. */
export function startWorker(options: WorkerLoopOptions): Worker {
  const { name, logger, tick, intervalMs } = options;
  const maxBackoffMs = options.maxBackoffMs ?? Math.max(intervalMs, 300_000);
  const random = options.random ?? Math.random;
  const labels = { worker: name };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** When the scheduled tick runs (ms since the epoch); Infinity when none is scheduled. */
  let dueAt = Number.POSITIVE_INFINITY;
  const wakeDelayMs = options.wakeDelayMs ?? 0;
  /** Ticks and exclusive units, one after the other. */
  let chain: Promise<unknown> = Promise.resolve();
  let queued = false;
  let again = false;
  let failures = 0;
  /** The database was lost in a tick: warned once, quiet until a tick succeeds again. */
  let outage = false;

  /** One tick, its metrics and its error; resolves the wait before the next one. */
  const once = async (): Promise<number> => {
    if (stopped) return intervalMs;
    const end = workerTickDuration.startTimer(labels);
    try {
      const busy = await tick();
      if (outage) logger.info({ worker: name, failures }, 'worker resumed: the database answers again');
      failures = 0;
      outage = false;
      return busy ? 0 : intervalMs;
    } catch (error) {
      failures += 1;
      workerFailures.inc(labels);
      const fault = databaseFault(error);
      // a lost database is back within seconds, or soon: its retries stay short
      const cap = fault ? Math.min(maxBackoffMs, Math.max(intervalMs, OUTAGE_MAX_BACKOFF_MS)) : maxBackoffMs;
      const retryInMs = Math.max(intervalMs, backoffDelay(failures, intervalMs, cap, random));
      if (!fault) logger.error({ worker: name, failures, retryInMs, error: loggableError(error) }, 'worker failed; retrying later');
      else if (!outage) logger.warn({ worker: name, failures, retryInMs, reason: fault.message }, 'worker paused: the database is unavailable; retrying');
      else logger.debug({ worker: name, failures, retryInMs }, 'worker still waiting for the database');
      outage ||= fault !== undefined;
      return retryInMs;
    } finally {
      end();
      workerTicks.inc(labels);
    }
  };

  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = undefined;
    dueAt = Number.POSITIVE_INFINITY;
    if (stopped) return;
    dueAt = Date.now() + ms;
    timer = setTimeout(run, ms);
    timer.unref();
  };

  function run() {
    timer = undefined;
    dueAt = Number.POSITIVE_INFINITY;
    if (stopped || queued) return;
    queued = true;
    chain = chain.then(once).then((wait) => {
      queued = false;
      const next = again ? Math.min(wait, wakeDelayMs) : wait;
      again = false;
      schedule(next);
    });
  }

  schedule(options.firstDelayMs ?? 0);
  return {
    name,
    wake() {
      if (stopped) return;
      if (queued) again = true;
      else if (Date.now() + wakeDelayMs < dueAt) schedule(wakeDelayMs);
    },
    exclusive<T>(unit: () => Promise<T>): Promise<T> {
      const result = chain.then(unit);
      chain = result.catch(() => undefined);
      return result;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
