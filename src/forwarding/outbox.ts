import { createHmac } from 'node:crypto';
import XAPI from '@xapi/xapi';
import { sql } from 'drizzle-orm';
import type { AppContext } from '../context';
import { xapiOutbox } from '../db/schema';
import { type Executor, inList, queryRows } from '../db/store';
import { normalizeIssuer } from '../identity/records';
import { applyMappings, type ObjectMapping, statementMappingsJson } from './enrich';
import { statementsDeadLettered, statementsForwarded } from '../metrics';
import { backoffDelay, startWorker, type Worker } from '../worker';

import type { XapiStatement } from '../domain/xapi';

export type { XapiStatement };

/**
 * Queues statements for the institution's LRS. Call it with the transaction of the change that causes them, so
 * they are sent if and only if that change is committed. Every statement must carry its final `id`; a statement
 * already queued (same id) is not queued twice.
 */
export async function enqueueStatements(ex: Executor, statements: readonly XapiStatement[]): Promise<void> {
  if (statements.length === 0) return;
  await outboxInsert(ex, statements);
}

/** The INSERT behind `enqueueStatements`, for callers that combine it with other writes in one statement. */
export function outboxInsert(ex: Executor, statements: readonly XapiStatement[]) {
  return ex
    .insert(xapiOutbox)
    .values(statements.map((s) => ({ statementId: s.id, statement: s })))
    .onConflictDoNothing({ target: xapiOutbox.statementId });
}


/** The actor the external LRS sees when pseudonymisation is on: HMAC(key, issuer + sub), stable per institution. */
export function pseudonymousAccount(key: string, homePage: string, name: string): { homePage: string; name: string } {
  const issuer = normalizeIssuer(homePage);
  const digest = createHmac('sha256', key).update(`${issuer}\n${name}`).digest('base64url');
  return { homePage: issuer, name: digest };
}

/** Replaces account actors (and their display names) by their pseudonyms; other properties are kept as they are. */
export function pseudonymise(statement: XapiStatement, key: string): XapiStatement {
  const actor = statement.actor as { account?: { homePage?: unknown; name?: unknown } } | undefined;
  const account = actor?.account;
  if (!account || typeof account.homePage !== 'string' || typeof account.name !== 'string') return statement;
  const out: XapiStatement = { ...statement, actor: { objectType: 'Agent', account: pseudonymousAccount(key, account.homePage, account.name) } };
  const context = statement.context as Record<string, unknown> | undefined;
  if (context && 'instructor' in context) {
    const { instructor: _dropped, ...rest } = context;
    out.context = rest;
  }
  return out;
}

export interface OutboxCounts {
  pending: number;
  delivered: number;
  dead: number;
}

export async function outboxStatus(ex: Executor): Promise<OutboxCounts & { oldestPending: string | null }> {
  const rows = await queryRows<{ status: keyof OutboxCounts; n: number; oldest: string | Date | null }>(
    ex,
    sql`SELECT status, count(*)::int AS n, min(created_at) AS oldest FROM xapi_outbox GROUP BY status`,
  );
  const counts: OutboxCounts = { pending: 0, delivered: 0, dead: 0 };
  let oldestPending: string | null = null;
  for (const row of rows) {
    counts[row.status] = row.n;
    if (row.status === 'pending' && row.oldest) oldestPending = new Date(row.oldest).toISOString();
  }
  return { ...counts, oldestPending };
}

/** Puts dead letters back in the queue; returns how many. */
export async function retryDead(ex: Executor): Promise<number> {
  const rows = await queryRows<{ id: number }>(
    ex,
    sql`UPDATE xapi_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
        WHERE status = 'dead' RETURNING id`,
  );
  return rows.length;
}

export interface WorkerOptions {
  batchSize?: number;
  /** First retry delay; each further attempt doubles it up to `maxDelayMs`; jitter draws the actual delay between 50 and 100 % of that. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a claimed row is reserved for this worker before another may take it (a crash in between). */
  leaseMs?: number;
  pollMs?: number;
  /** A send without an answer after this long counts as a network error (its rows stay leased until `leaseMs`). */
  requestTimeoutMs?: number;
  /** Used for the actor pseudonym when set. */
  pseudonymKey?: string;
}

interface ClaimedRow {
  id: number;
  statement_id: string;
  statement: XapiStatement | string | null;
  attempts: number;
}

type Outcome = { kind: 'ok' } | { kind: 'retry'; error: string } | { kind: 'reject'; status: number; error: string };

function classify(error: unknown): Outcome {
  const e = error as { response?: { status?: number; data?: unknown }; message?: string; code?: string };
  const status = e.response?.status;
  const detail = e.response?.data === undefined ? '' : ` ${JSON.stringify(e.response.data).slice(0, 500)}`;
  if (status === undefined) return { kind: 'retry', error: `network: ${e.code ?? ''} ${e.message ?? String(error)}`.trim() };
  if (status === 429 || status >= 500) return { kind: 'retry', error: `HTTP ${status}${detail}` };
  return { kind: 'reject', status, error: `HTTP ${status}${detail}` };
}

export interface OutboxWorker {
  /** Claims and delivers one batch; returns how many rows it settled (delivered, dead or rescheduled). */
  runOnce(): Promise<number>;
  /** Starts the background loop: deliver while there is work, then poll every `pollMs`. */
  start(): Worker;
}

/**
 * Delivers queued statements with @xapi/xapi. Rows are claimed with `FOR UPDATE SKIP LOCKED` and leased (their
 * `next_attempt_at` moved forward) so that several Socle processes never send the same row at the same time; the
 * HTTP call happens outside any transaction. 429, 5xx and network errors retry with exponential backoff and jitter;
 * a 4xx on a batch is retried statement by statement, and a statement the LRS rejects is set aside (dead letter)
 * without blocking the others. 409 on a single statement means the LRS already has that id: delivered.
 * Delivery is recorded right after each accepted send (one UPDATE, no transaction held across the send); a resend
 * carries the same statement (same id, same content, the same pseudonym), which an LRS keeps once.
 */
export function createOutboxWorker(ctx: AppContext, options: WorkerOptions = {}): OutboxWorker {
  const lrs = ctx.config.lrs;
  if (!lrs) throw new Error('LRS_ENDPOINT is not configured');
  const batchSize = options.batchSize ?? 50;
  const base = options.baseDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 5 * 60_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1_000;
  const requestTimeoutMs = Math.min(options.requestTimeoutMs ?? 30_000, leaseMs);
  const pseudonymKey = options.pseudonymKey ?? ctx.config.xapiPseudonymKey;
  const endpoint = lrs.endpoint.endsWith('/') ? lrs.endpoint : `${lrs.endpoint}/`;
  const client = new XAPI({ endpoint, auth: XAPI.toBasicAuth(lrs.key, lrs.secret), version: '1.0.3' });
  const db = ctx.store.db;
  /**
   * Rows the LRS accepted whose delivery could not be recorded (the database was lost in between): kept here and
   * recorded first by the next tick, well within their lease, so that an outage does not send them again. Only a
   * crash of the process in that window resends them (at most one batch).
   */
  const unrecorded = new Set<number>();

  /** Records `rows` (and any left from an earlier failure) as delivered, in one statement. */
  async function recordDelivered(rows: ClaimedRow[]): Promise<void> {
    for (const row of rows) unrecorded.add(row.id);
    if (unrecorded.size === 0) return;
    const ids = [...unrecorded];
    await db.execute(sql`UPDATE xapi_outbox SET status = 'delivered', delivered_at = now(), last_error = NULL WHERE id IN (${inList(ids)})`);
    for (const id of ids) unrecorded.delete(id);
    statementsForwarded.inc(ids.length);
  }

  /**
   * Claims a batch. A row of a statement Socle received names the stored statement: the claim reads it, with the
   * mappings of its activity (as they are at delivery), in the same statement, and adds them (`applyMappings`). One no
   * longer stored (erased, purged) has nothing to send and is set aside.
   */
  async function claim(): Promise<ClaimedRow[]> {
    const rows = await queryRows<ClaimedRow & { mappings: ObjectMapping[] | null }>(
      db,
      sql`WITH c AS (
            UPDATE xapi_outbox SET next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
            WHERE id IN (SELECT id FROM xapi_outbox WHERE status = 'pending' AND next_attempt_at <= now()
                         ORDER BY next_attempt_at, id LIMIT ${batchSize} FOR UPDATE SKIP LOCKED)
            RETURNING id, statement_id, statement, attempts)
          SELECT c.id, c.statement_id, coalesce(c.statement, s.statement) AS statement, c.attempts,
                 CASE WHEN s.id IS NULL THEN NULL ELSE ${statementMappingsJson('s')} END AS mappings
          FROM c LEFT JOIN xapi_statements s ON c.statement IS NULL AND s.id = c.statement_id ORDER BY c.id`,
    );
    const gone = rows.filter((r) => r.statement === null);
    if (gone.length) {
      await db.execute(sql`UPDATE xapi_outbox SET status = 'dead', last_error = 'the statement is no longer stored' WHERE id IN (${inList(gone.map((r) => r.id))})`);
      statementsDeadLettered.inc(gone.length);
    }
    return rows.flatMap(({ mappings, ...row }) => {
      if (row.statement === null) return [];
      const statement = (typeof row.statement === 'string' ? JSON.parse(row.statement) : row.statement) as XapiStatement;
      return [{ ...row, statement: mappings?.length ? (applyMappings([statement], mappings)[0] as XapiStatement) : statement }];
    });
  }

  async function send(rows: ClaimedRow[]): Promise<Outcome> {
    const statements = rows.map((r) => {
      const s = (typeof r.statement === 'string' ? JSON.parse(r.statement) : r.statement) as XapiStatement;
      return pseudonymKey ? pseudonymise(s, pseudonymKey) : s;
    });
    try {
      // The library's Statement type is stricter than stored JSON; the statements were validated on the way in.
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_resolve, reject) => {
        timeout = setTimeout(() => reject(new Error(`no answer from the LRS within ${requestTimeoutMs} ms`)), requestTimeoutMs);
      });
      try {
        await Promise.race([client.sendStatements({ statements: statements as never }), timedOut]);
      } finally {
        clearTimeout(timeout);
      }
      return { kind: 'ok' };
    } catch (error) {
      return classify(error);
    }
  }

  async function settle(rows: ClaimedRow[], outcome: Outcome): Promise<void> {
    const idList = inList(rows.map((r) => r.id));
    if (outcome.kind === 'ok') {
      await recordDelivered(rows);
    } else if (outcome.kind === 'retry') {
      for (const row of rows) {
        const delay = backoffDelay(row.attempts, base, max);
        await db.execute(
          sql`UPDATE xapi_outbox SET next_attempt_at = now() + make_interval(secs => ${delay / 1000}), last_error = ${outcome.error} WHERE id = ${row.id} AND status = 'pending'`,
        );
      }
    } else {
      await db.execute(sql`UPDATE xapi_outbox SET status = 'dead', last_error = ${outcome.error} WHERE id IN (${idList}) AND status = 'pending'`);
      statementsDeadLettered.inc(rows.length);
    }
  }

  async function runOnce(): Promise<number> {
    await recordDelivered([]);
    const rows = await claim();
    if (rows.length === 0) return 0;
    const outcome = await send(rows);
    if (outcome.kind !== 'reject' || rows.length === 1) {
      const single = rows.length === 1 && outcome.kind === 'reject' && outcome.status === 409 ? ({ kind: 'ok' } as const) : outcome;
      await settle(rows, single);
      return rows.length;
    }
    // The LRS refused the batch: find the statement(s) at fault one by one, deliver the rest.
    for (const row of rows) {
      const one = await send([row]);
      await settle([row], one.kind === 'reject' && one.status === 409 ? { kind: 'ok' } : one);
    }
    return rows.length;
  }

  return {
    runOnce,
    start: () => startWorker({ name: 'outbox', logger: ctx.logger, intervalMs: pollMs, tick: async () => (await runOnce()) > 0 }),
  };
}

/** Starts the delivery loop in the background (what `socle serve` does when LRS_ENDPOINT is set). */
export function startOutboxWorker(ctx: AppContext, options: WorkerOptions = {}): Worker {
  return createOutboxWorker(ctx, options).start();
}
