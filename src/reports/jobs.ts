import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AppContext } from '../context';
import { auditEvents, exportFileChunks, exportJobs } from '../db/schema';
import type { Executor } from '../db/store';
import { canonicalFormat, type ExportRegistry, reportFile } from './kinds/kind';
import { type ComplianceQuery, reportFilters } from './source';
import { institutionTimeZone } from '../identity/institution';

/** An export job; its `kind` and `format` are those of the registry it was queued with. */
export type ExportJob = typeof exportJobs.$inferSelect;

/** A request for an export of one of the registry's kinds, in one of its formats. */
export const exportRequest = (kinds: ExportRegistry) =>
  z
    .object({
      kind: z.enum(kinds.names),
      format: z.enum(kinds.formats),
      platformId: z.number().int().positive().nullable().default(null),
      /** What the row source needs to select the rows (courses, référentiel version, cohort, dates…). */
      filters: z.record(z.string(), z.unknown()).default({}),
      requestedBy: z.string().min(1),
    })
    .refine((r) => kinds.formatsOf(r.kind).includes(r.format), {
      message: 'this format is not available for this kind of export',
      path: ['format'],
    });
export type ExportRequest = z.input<ReturnType<typeof exportRequest>>;

/**
 * Queues an export of one of `kinds` and records who asked for it (the export contains personal data). Validates
 * the request first: a rejected request writes nothing. Pass a transaction to compose it with other writes.
 */
export async function createExportJob(ex: Executor, kinds: ExportRegistry, input: ExportRequest): Promise<ExportJob> {
  const request = exportRequest(kinds).parse(input);
  return ex.transaction(async (tx) => {
    const [job] = await tx
      .insert(exportJobs)
      .values({
        kind: request.kind,
        format: request.format,
        platformId: request.platformId,
        filters: request.filters,
        requestedBy: request.requestedBy,
      })
      .returning();
    if (!job) throw new Error('cannot queue the export');
    await tx.insert(auditEvents).values({
      actor: request.requestedBy,
      action: 'export.requested',
      subject: `export:${job.id}`,
      after: { kind: job.kind, format: job.format, platformId: job.platformId, filters: job.filters },
    });
    return job;
  });
}

const isUuid = (id: string) => z.uuid().safeParse(id).success;

export async function getJob(ex: Executor, id: string): Promise<ExportJob | undefined> {
  if (!isUuid(id)) return undefined;
  const [job] = await ex.select().from(exportJobs).where(eq(exportJobs.id, id));
  return job;
}

/** Recent exports of a platform (or all), newest first: the admin page's "recent exports" list. */
export async function listJobs(ex: Executor, options: { platformId?: number; limit?: number } = {}): Promise<ExportJob[]> {
  return ex
    .select()
    .from(exportJobs)
    .where(options.platformId === undefined ? undefined : eq(exportJobs.platformId, options.platformId))
    .orderBy(sql`${exportJobs.createdAt} DESC`)
    .limit(options.limit ?? 20);
}

/**
 * Takes the oldest queued job — or a running one whose worker stopped sending heartbeats for `staleAfterMs` —
 * for `workerId`. `FOR UPDATE SKIP LOCKED`: concurrent claimers on one PostgreSQL never get the same job.
 */
export async function claimNextJob(
  ex: Executor,
  workerId: string,
  options: { staleAfterMs?: number; maxAttempts?: number } = {},
): Promise<ExportJob | undefined> {
  const stale = options.staleAfterMs ?? 120_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const [job] = await ex
    .update(exportJobs)
    .set({
      status: 'running',
      workerId,
      attempts: sql`${exportJobs.attempts} + 1`,
      startedAt: sql`now()`,
      heartbeatAt: sql`now()`,
      rowsDone: 0,
      error: null,
    })
    .where(
      eq(
        exportJobs.id,
        sql`(SELECT id FROM export_jobs
              WHERE attempts < ${maxAttempts}
                AND (status = 'queued'
                     OR (status = 'running' AND heartbeat_at < now() - ${stale} * interval '1 millisecond'))
              ORDER BY created_at, id
              LIMIT 1
              FOR UPDATE SKIP LOCKED)`,
      ),
    )
    .returning();
  return job;
}

/** What a job asks to report on: its platform and its (stored, so parsed again) filters. */
function jobQuery(job: ExportJob): ComplianceQuery {
  if (job.platformId === null) throw new Error('an export needs a platform');
  return { platformId: job.platformId, filters: reportFilters.parse(job.filters) };
}

export interface RunOptions {
  workerId?: string;
  /** How long the file stays downloadable (default 24 h). */
  retainMs?: number;
  chunkBytes?: number;
  progressIntervalMs?: number;
  staleAfterMs?: number;
}

export class LostJobError extends Error {
  override name = 'LostJobError';
}

export const defaultWorkerId = () => `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/**
 * Claims the next job, runs the producer of its kind (one of the context's `reports`) into chunks stored in PostgreSQL, and marks
 * it done (or failed, with the error, its partial file removed). Returns the job's final state, or undefined
 * when none was waiting. Progress is stored at most every `progressIntervalMs`.
 */
export async function runNextJob(ctx: AppContext, options: RunOptions = {}): Promise<ExportJob | undefined> {
  const db = ctx.store.db;
  const workerId = options.workerId ?? defaultWorkerId();
  const job = await claimNextJob(db, workerId, { staleAfterMs: options.staleAfterMs });
  if (!job) return undefined;
  const mine = and(eq(exportJobs.id, job.id), eq(exportJobs.workerId, workerId));
  const log = ctx.logger.child({ exportJob: job.id, kind: job.kind, format: job.format });
  log.info('export started');

  let progressWrite: Promise<unknown> = Promise.resolve();
  let lastWrite = 0;
  let lost = false;
  let latest: { rowsDone: number; rowsTotal?: number } = { rowsDone: 0 };
  const interval = options.progressIntervalMs ?? 500;
  const progress = (rowsDone: number, rowsTotal?: number) => {
    latest = { rowsDone, rowsTotal: rowsTotal ?? latest.rowsTotal };
    const now = Date.now();
    if (now - lastWrite < interval) return;
    lastWrite = now;
    progressWrite = progressWrite.then(async () => {
      const updated = await db
        .update(exportJobs)
        .set({ rowsDone, ...(rowsTotal === undefined ? {} : { rowsTotal }), heartbeatAt: sql`now()` })
        .where(mine)
        .returning({ id: exportJobs.id });
      if (!updated.length) lost = true;
    });
  };

  // Heartbeats also while a producer reports no progress (a PDF lays out before writing), so that the job is
  // not taken for abandoned.
  const stale = options.staleAfterMs ?? 120_000;
  const heartbeat = setInterval(() => {
    progressWrite = progressWrite.then(async () => {
      const updated = await db.update(exportJobs).set({ heartbeatAt: sql`now()` }).where(mine).returning({ id: exportJobs.id });
      if (!updated.length) lost = true;
    });
  }, Math.max(1_000, stale / 4));
  heartbeat.unref();

  let sink: ChunkSink | undefined;
  try {
    const kind = ctx.reports.find(job.kind);
    if (!kind) throw new Error(`No producer for exports of kind ${job.kind}`);
    // a job stored under an older name of its format (`csv`) runs as the format it named
    const named = canonicalFormat(job.format, 'api');
    const format = kind.formats.find((f) => f === named);
    if (!format) throw new Error(`Exports of kind ${job.kind} are not produced as ${job.format}`);
    // the file is named after the day it was asked, in the institution's time zone
    const timeZone = job.platformId === null ? undefined : await institutionTimeZone(db, job.platformId);
    await db.delete(exportFileChunks).where(eq(exportFileChunks.jobId, job.id));
    sink = new ChunkSink(db, job.id, workerId, options.chunkBytes ?? 1024 * 1024, () => lost);
    await kind.produce({ ctx, query: jobQuery(job), format, out: sink, progress, jobId: job.id });
    const file = reportFile(kind, format, job.createdAt, timeZone);
    await finished(sink);
    await progressWrite;
    if (lost) throw new LostJobError('another worker took the job over');
    const [done] = await db
      .update(exportJobs)
      .set({
        status: 'done',
        rowsDone: latest.rowsDone,
        ...(latest.rowsTotal === undefined ? {} : { rowsTotal: latest.rowsTotal }),
        fileName: file.fileName,
        contentType: file.contentType,
        byteSize: sink.bytes,
        sha256: sink.digest(),
        finishedAt: sql`now()`,
        heartbeatAt: sql`now()`,
        expiresAt: sql`now() + ${options.retainMs ?? 86_400_000} * interval '1 millisecond'`,
      })
      .where(mine)
      .returning();
    if (!done) throw new LostJobError('another worker took the job over');
    log.info({ bytes: done.byteSize }, 'export done');
    return done;
  } catch (error) {
    await progressWrite.catch(() => undefined);
    // A chunk insert may still be in flight when the producer fails: stop the sink and let it land before cleaning up.
    sink?.destroy();
    await sink?.settled();
    const message = (error as Error).message;
    if (error instanceof LostJobError) {
      log.warn(message);
      return getJob(db, job.id);
    }
    log.error({ err: error }, 'export failed');
    const [failed] = await db
      .update(exportJobs)
      .set({ status: 'failed', error: message.slice(0, 2000), finishedAt: sql`now()` })
      .where(mine)
      .returning();
    await db.delete(exportFileChunks).where(eq(exportFileChunks.jobId, job.id));
    return failed ?? getJob(db, job.id);
  } finally {
    clearInterval(heartbeat);
  }
}

/** A Writable that stores what it is given as numbered chunks of one job, waiting for each insert. */
class ChunkSink extends Writable {
  bytes = 0;
  private seq = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly hash = createHash('sha256');
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Executor,
    private readonly jobId: string,
    private readonly workerId: string,
    private readonly chunkBytes: number,
    private readonly isLost: () => boolean,
  ) {
    super();
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  /** Resolves once no chunk insert is in flight (whether it succeeded or not). */
  settled(): Promise<void> {
    return this.inFlight.catch(() => undefined);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.chunkBytes) return callback();
    this.track(this.flush(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.track(this.flush(), callback);
  }

  private track(flush: Promise<void>, callback: (error?: Error | null) => void): void {
    this.inFlight = flush;
    flush.then(() => callback(), callback);
  }

  private async flush(): Promise<void> {
    if (this.isLost()) throw new LostJobError('another worker took the job over');
    if (!this.pendingBytes) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const seq = this.seq++;
    // Only while this worker owns the job: the shared row lock holds off a takeover until the chunk is in.
    await this.db.transaction(async (tx) => {
      const [owned] = await tx
        .select({ id: exportJobs.id })
        .from(exportJobs)
        .where(and(eq(exportJobs.id, this.jobId), eq(exportJobs.workerId, this.workerId)))
        .for('share');
      if (!owned) throw new LostJobError('another worker took the job over');
      await tx.insert(exportFileChunks).values({ jobId: this.jobId, seq, data });
    });
  }
}

/**
 * The file of a finished, unexpired job, streamed chunk by chunk from PostgreSQL (any instance can serve it).
 * Records the download in the audit log under `actor`. Undefined when there is no such file (any more).
 */
export async function readJobFile(
  ex: Executor,
  id: string,
  actor: string,
): Promise<{ job: ExportJob; stream: Readable } | undefined> {
  const job = await getJob(ex, id);
  if (!job || job.status !== 'done' || !job.expiresAt || job.expiresAt.getTime() <= Date.now()) return undefined;
  await ex.insert(auditEvents).values({
    actor,
    action: 'export.downloaded',
    subject: `export:${job.id}`,
    after: { fileName: job.fileName, byteSize: job.byteSize },
  });
  const seqs = await ex
    .select({ seq: exportFileChunks.seq })
    .from(exportFileChunks)
    .where(eq(exportFileChunks.jobId, job.id))
    .orderBy(asc(exportFileChunks.seq));
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const { seq } of seqs) {
      const [row] = await ex
        .select({ data: exportFileChunks.data })
        .from(exportFileChunks)
        .where(and(eq(exportFileChunks.jobId, id), eq(exportFileChunks.seq, seq)));
      if (!row) throw new Error(`export ${id} lost its chunk ${seq} (purged meanwhile?)`);
      yield row.data;
    }
  }
  return { job, stream: Readable.from(chunks()) };
}

/** Deletes the files of expired exports and marks them `expired`; the job rows stay as the audit trail. */
export async function purgeExpiredExports(ex: Executor, now: Date = new Date()): Promise<number> {
  return ex.transaction(async (tx) => {
    const expired = await tx
      .update(exportJobs)
      .set({ status: 'expired' })
      .where(and(eq(exportJobs.status, 'done'), lte(exportJobs.expiresAt, now)))
      .returning({ id: exportJobs.id });
    if (expired.length) {
      await tx.delete(exportFileChunks).where(
        inArray(
          exportFileChunks.jobId,
          expired.map((e) => e.id),
        ),
      );
    }
    return expired.length;
  });
}
