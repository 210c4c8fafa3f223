import { PassThrough } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import { auditEvents, exportFileChunks, exportJobs } from '../../src/db/schema';
import { openStore, type Store } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { writeComplianceCsv } from '../../src/reports/csv';
import {
  claimNextJob,
  createExportJob,
  getJob,
  listJobs,
  purgeExpiredExports,
  readJobFile,
  runNextJob,
} from '../../src/reports/jobs';
import { jobView } from '../../src/reports/access';
import { type ExportRegistry, exportRegistry, reportKinds } from '../../src/reports/kinds';
import { attestationsKind } from '../../src/reports/kinds/attestations';
import { compliance, complianceKind } from '../../src/reports/kinds/compliance';
import type { ComplianceRow } from '../../src/reports/rows';
import { testContext } from '../support/app';
import { attestationOf, fromArray, generatedRows, streamRows, testMeta, must } from '../support/compliance-rows';
import { drivers, openTestStore, type TestStore } from '../support/db';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

describe.each(drivers)('export jobs on %s', (driver) => {
  let t: TestStore;
  let platformId: number;
  beforeAll(async () => {
    t = await openTestStore(driver);
    platformId = (await ensurePlatform(t.store.db, 'https://moodle.univ-test.fr', 'Moodle Santé')).id;
  });
  afterAll(() => t.destroy());
  beforeEach(async () => {
    await t.store.db.delete(exportJobs);
    await t.store.db.delete(auditEvents);
  });

  /** A context whose runner produces the kinds of `reports`. */
  const runner = (reports: ExportRegistry) => testContext(t.store, { reports });
  const rows = generatedRows(1_500);
  // The compliance kind over injected rows (its formats and writers as registered; only the source differs).
  const kinds = exportRegistry([complianceKind(async () => ({ meta: testMeta(), rows: fromArray(rows), total: rows.length }))]);

  it('queues a job, audits who asked, and rejects a bad request without writing anything', async () => {
    const job = await createExportJob(t.store.db, reportKinds, {
      kind: 'compliance',
      format: 'csv-excel',
      platformId,
      filters: { courses: ['2'] },
      requestedBy: 'lti:https://moodle.univ-test.fr#2',
    });
    expect(job).toMatchObject({ status: 'queued', rowsDone: 0, attempts: 0, platformId });
    const audit = await t.store.db.select().from(auditEvents);
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'lti:https://moodle.univ-test.fr#2',
        action: 'export.requested',
        subject: `export:${job.id}`,
        after: { kind: 'compliance', format: 'csv-excel', platformId, filters: { courses: ['2'] } },
      }),
    ]);
    await expect(
      createExportJob(t.store.db, reportKinds, { kind: 'attestations', format: 'csv-rfc4180', requestedBy: 'cli' }),
    ).rejects.toThrow(/format/);
    await expect(createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', requestedBy: '' })).rejects.toThrow();
    expect(await t.store.db.select().from(exportJobs)).toHaveLength(1);
    expect(await t.store.db.select().from(auditEvents)).toHaveLength(1);
    expect(await getJob(t.store.db, 'not-a-uuid')).toBeUndefined();
    expect((await listJobs(t.store.db, { platformId })).map((j) => j.id)).toEqual([job.id]);
  });

  it('runs a job into chunks in the database and serves the same bytes to any instance, audited', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-excel', platformId, requestedBy: 'cli' });
    expect(await runNextJob(runner(exportRegistry([])), { workerId: 'w0' })).toMatchObject({ id: job.id, status: 'failed', error: 'No producer for exports of kind compliance' });
    await t.store.db.update(exportJobs).set({ status: 'queued' }).where(eq(exportJobs.id, job.id));

    const done = await runNextJob(runner(kinds), { workerId: 'w1', chunkBytes: 64 * 1024 });
    expect(done).toMatchObject({
      id: job.id,
      status: 'done',
      rowsDone: 1_500,
      rowsTotal: 1_500,
      workerId: 'w1',
      contentType: 'text/csv; charset=utf-8',
      fileName: expect.stringMatching(/^conformite-\d{4}-\d{2}-\d{2}-excel\.csv$/),
    });
    expect(must(must(done).expiresAt).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(await runNextJob(runner(kinds))).toBeUndefined();

    const expected = new PassThrough();
    const parts: Buffer[] = [];
    expected.on('data', (c: Buffer) => parts.push(c));
    await writeComplianceCsv(testMeta(), fromArray(rows), expected, { variant: 'excel-fr' });
    const chunks = await t.store.db.select({ seq: exportFileChunks.seq }).from(exportFileChunks).where(eq(exportFileChunks.jobId, job.id));
    expect(chunks.length).toBeGreaterThan(2);

    // Another instance on the same database serves the download.
    const other: Store = 'databaseUrl' in t.options ? await openStore(t.options) : t.store;
    try {
      const file = await readJobFile(other.db, job.id, 'api-token:admin');
      const bytes = await readAll(must(file).stream);
      expect(bytes.equals(Buffer.concat(parts))).toBe(true);
      expect(bytes.length).toBe(must(done).byteSize);
    } finally {
      if (other !== t.store) await other.close();
    }
    const downloads = await t.store.db.select().from(auditEvents).where(eq(auditEvents.action, 'export.downloaded'));
    expect(downloads).toEqual([expect.objectContaining({ actor: 'api-token:admin', subject: `export:${job.id}` })]);
  });

  it('runs a job stored under the older name of its format (`csv`, RFC 4180) as that format, and shows its name of today', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    await t.store.db.update(exportJobs).set({ format: 'csv' }).where(eq(exportJobs.id, job.id));
    const done = must(await runNextJob(runner(kinds), { workerId: 'w1' }));
    expect(done).toMatchObject({ status: 'done', fileName: expect.stringMatching(/^conformite-\d{4}-\d{2}-\d{2}\.csv$/) });
    expect(jobView(done, '/api/v1/reports').format).toBe('csv-rfc4180');
    const bytes = await readAll(must(await readJobFile(t.store.db, job.id, 'cli')).stream);
    expect(bytes.toString('utf8').split('\r\n')[0]).toMatch(/^learner_sub,learner_name,/);
  });

  it('makes progress visible while the job runs', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    let pause: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => (pause = resolve));
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    async function* slow(): AsyncGenerator<ComplianceRow> {
      let i = 0;
      for await (const r of streamRows(3_000)) {
        if (i++ === 2_100) {
          pause();
          await resumed;
        }
        yield r;
      }
    }
    const running = runNextJob(
      runner(exportRegistry([complianceKind(async () => ({ meta: testMeta(), rows: slow(), total: 3_000 }))])),
      { workerId: 'w1', progressIntervalMs: 0 },
    );
    await paused;
    // The source is held at row 2,100: the progress of row 2,000 must reach the database meanwhile.
    let midway = await getJob(t.store.db, job.id);
    for (const deadline = Date.now() + 5_000; (midway?.rowsDone ?? 0) < 2_000 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 20));
      midway = await getJob(t.store.db, job.id);
    }
    expect(midway).toMatchObject({ status: 'running', rowsDone: 2_000, rowsTotal: 3_000, workerId: 'w1' });
    resume();
    expect(await running).toMatchObject({ status: 'done', rowsDone: 3_000 });
  });

  it('marks a failing job failed with its error and keeps no partial file', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    async function* broken(): AsyncGenerator<ComplianceRow> {
      yield* fromArray(rows.slice(0, 1_000));
      throw new Error('coverage source unavailable');
    }
    const failed = await runNextJob(
      runner(exportRegistry([complianceKind(async () => ({ meta: testMeta(), rows: broken() }))])),
      { chunkBytes: 16 * 1024 },
    );
    expect(failed).toMatchObject({ id: job.id, status: 'failed', error: 'coverage source unavailable' });
    expect(await t.store.db.select().from(exportFileChunks).where(eq(exportFileChunks.jobId, job.id))).toEqual([]);
    expect(await readJobFile(t.store.db, job.id, 'cli')).toBeUndefined();
  });

  it('produces attestation ZIPs through the same runner', async () => {
    await createExportJob(t.store.db, reportKinds, { kind: 'attestations', format: 'zip', platformId, requestedBy: 'cli' });
    const done = await runNextJob(
      runner(exportRegistry([attestationsKind(async () => ({ attestations: fromArray(rows.slice(0, 3).map((r) => attestationOf(r))), total: 3 }))])),
    );
    expect(done).toMatchObject({
      status: 'done',
      rowsDone: 3,
      contentType: 'application/zip',
      fileName: expect.stringMatching(/^attestations-\d{4}-\d{2}-\d{2}\.zip$/),
    });
    const file = await readJobFile(t.store.db, must(done).id, 'cli');
    const zip = await readAll(must(file).stream);
    expect(zip.subarray(0, 4).toString('hex')).toBe('504b0304');
  });

  it('purges expired files but keeps the job as the audit trail', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    await runNextJob(runner(kinds), { retainMs: 1_000 });
    expect(await purgeExpiredExports(t.store.db, new Date())).toBe(0);
    expect(await purgeExpiredExports(t.store.db, new Date(Date.now() + 2_000))).toBe(1);
    expect(await getJob(t.store.db, job.id)).toMatchObject({ status: 'expired', requestedBy: 'cli' });
    expect(await t.store.db.select().from(exportFileChunks).where(eq(exportFileChunks.jobId, job.id))).toEqual([]);
    expect(await readJobFile(t.store.db, job.id, 'cli')).toBeUndefined();
  });

  it('takes over a job whose worker stopped sending heartbeats', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    expect(await claimNextJob(t.store.db, 'dead')).toMatchObject({ id: job.id, workerId: 'dead', attempts: 1 });
    expect(await claimNextJob(t.store.db, 'w2')).toBeUndefined();
    await t.store.db.update(exportJobs).set({ heartbeatAt: sql`now() - interval '10 minutes'` }).where(eq(exportJobs.id, job.id));
    expect(await runNextJob(runner(kinds), { workerId: 'w2' })).toMatchObject({ id: job.id, status: 'done', workerId: 'w2', attempts: 2 });
  });

  it('a runner whose job was taken over does not mark it done', async () => {
    const job = await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    const result = await runNextJob(
      runner(exportRegistry([
        {
          ...compliance,
          async produce({ out, progress }) {
            out.write('a;b\r\n');
            // Meanwhile another instance took the job over (this one looked dead).
            await t.store.db.update(exportJobs).set({ workerId: 'thief' }).where(eq(exportJobs.id, job.id));
            progress(1);
            out.end('c;d\r\n');
            return { count: 1 };
          },
        },
      ])),
      { workerId: 'slow', progressIntervalMs: 0 },
    );
    expect(result).toMatchObject({ id: job.id, status: 'running', workerId: 'thief', fileName: null });
    // Its last chunk was refused: the new owner's file is not mixed with it.
    expect(await t.store.db.select().from(exportFileChunks).where(eq(exportFileChunks.jobId, job.id))).toEqual([]);
  });

  it('never gives one job to two runners', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await createExportJob(t.store.db, reportKinds, { kind: 'compliance', format: 'csv-rfc4180', requestedBy: 'cli' })).id);
    // Separate connections on PostgreSQL (PGlite has one connection: its claims are serialised).
    const stores: Store[] = 'databaseUrl' in t.options ? await Promise.all([1, 2, 3].map(() => openStore(t.options))) : [t.store];
    try {
      const claims = await Promise.all(
        Array.from({ length: 16 }, (_, i) => claimNextJob(must(stores[i % stores.length]).db, `w${i}`)),
      );
      const taken = claims.filter((c) => c !== undefined).map((c) => c.id);
      expect(taken).toHaveLength(12);
      expect(new Set(taken)).toEqual(ids);
      const running = await t.store.db.select().from(exportJobs).where(eq(exportJobs.status, 'running'));
      expect(running.every((j) => j.attempts === 1)).toBe(true);
    } finally {
      for (const s of stores) if (s !== t.store) await s.close();
    }
  });
});
