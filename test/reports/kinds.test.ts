import { PassThrough } from 'node:stream';
import { eq } from 'drizzle-orm';
import type { AppContext } from '../../src/context';
import { auditEvents, courses, exportJobs } from '../../src/db/schema';
import { SocleError } from '../../src/domain/errors';
import { DEFAULT_TIME_ZONE } from '../../src/domain/format';
import { ensureCourse, ensurePlatform } from '../../src/identity/records';
import { createExportJob, readJobFile, runNextJob } from '../../src/reports/jobs';
import { aliasesOf, canonicalFormat, defineKind, exportRegistry, reportFile, reportFormats, reportKinds } from '../../src/reports/kinds';
import { compliance } from '../../src/reports/kinds/compliance';
import type { ComplianceSource } from '../../src/reports/source';
import { testContext } from '../support/app';
import { must } from '../support/compliance-rows';
import { drivers, openTestStore, type TestStore } from '../support/db';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('the registry of report kinds', () => {
  it('gives every entry point the kinds and formats of its kinds, in order', () => {
    expect(reportKinds.names).toEqual(['compliance', 'attestations', 'indicators']);
    expect(reportKinds.formats).toEqual(['csv-excel', 'csv-rfc4180', 'xlsx', 'pdf', 'zip', 'json']);
    expect(reportKinds.formatsOf('compliance')).toEqual(['csv-excel', 'csv-rfc4180', 'xlsx', 'pdf']);
    expect(reportKinds.formatsOf('attestations')).toEqual(['zip']);
    expect(reportKinds.formatsOf('indicators')).toEqual(['csv-excel', 'csv-rfc4180', 'xlsx', 'json']);
    expect(reportKinds.formatsOf('roster')).toEqual([]);
    expect(reportKinds.label('indicators', 'fr')).toBe('Indicateurs');
    expect(reportKinds.label('roster', 'en')).toBe('roster');
  });

  it('names the file after the kind and the format', () => {
    const at = new Date('2026-03-02T10:00:00Z');
    const kind = (name: string) => must(reportKinds.find(name));
    expect(reportFile(kind('compliance'), 'csv-excel', at)).toEqual({ fileName: 'conformite-2026-03-02-excel.csv', contentType: 'text/csv; charset=utf-8' });
    expect(reportFile(kind('compliance'), 'csv-rfc4180', at)).toEqual({ fileName: 'conformite-2026-03-02.csv', contentType: 'text/csv; charset=utf-8' });
    expect(reportFile(kind('attestations'), 'zip', at)).toEqual({ fileName: 'attestations-2026-03-02.zip', contentType: 'application/zip' });
    expect(reportFile(kind('indicators'), 'xlsx', at)).toEqual({
      fileName: 'indicateurs-2026-03-02.xlsx',
      contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    });
    expect(reportFile(kind('indicators'), 'json', at)).toEqual({ fileName: 'indicateurs-2026-03-02.json', contentType: 'application/json' });
    // the day is the institution's: 22:30 UTC is still the 2nd in Paris, already the 3rd in La Réunion; 01:00 UTC is still the 2nd in Guyane
    const late = new Date('2026-03-02T22:30:00Z');
    expect(reportFile(kind('compliance'), 'csv-excel', late).fileName).toBe('conformite-2026-03-02-excel.csv');
    expect(reportFile(kind('compliance'), 'csv-excel', late, 'Indian/Reunion').fileName).toBe('conformite-2026-03-03-excel.csv');
    expect(reportFile(kind('compliance'), 'csv-excel', new Date('2026-03-03T01:00:00Z'), 'America/Cayenne').fileName).toBe('conformite-2026-03-02-excel.csv');
  });

  it('gives every format of a kind its own file name', () => {
    const at = new Date('2026-03-02T10:00:00Z');
    for (const kind of reportKinds.kinds) {
      const names = kind.formats.map((f) => reportFile(kind, f, at).fileName);
      expect(new Set(names).size).toBe(kind.formats.length);
      for (const [i, name] of names.entries()) expect(name.endsWith(`.${reportFormats[must(kind.formats[i])].extension}`)).toBe(true);
    }
  });

  it('has one name per format, and takes the older names of each entry point as aliases', () => {
    for (const f of reportKinds.formats) {
      expect(canonicalFormat(f, 'api')).toBe(f);
      expect(canonicalFormat(f, 'cli')).toBe(f);
    }
    // the API called RFC 4180 `csv`, the CLI called French Excel `csv`
    expect(canonicalFormat('csv', 'api')).toBe('csv-rfc4180');
    expect(canonicalFormat('csv', 'cli')).toBe('csv-excel');
    expect(canonicalFormat('excel', 'api')).toBeUndefined();
    expect(canonicalFormat('toString', 'cli')).toBeUndefined();
    expect(aliasesOf('cli', reportKinds.formatsOf('attestations'))).toEqual([]);
    expect(aliasesOf('api', reportKinds.formatsOf('indicators'))).toEqual([['csv', 'csv-rfc4180']]);
  });

  it('refuses two kinds of one name', () => {
    const compliance = must(reportKinds.find('compliance'));
    expect(() => exportRegistry([compliance, { ...compliance }])).toThrow(/same name/);
  });
});

/** A kind added the way docs/architecture.md says: one definition, one entry in a registry. */
const courseList = defineKind({
  name: 'courses',
  label: { fr: 'Cours', en: 'Courses' },
  fileName: 'cours',
  formats: ['csv-rfc4180', 'json'],
  async produce({ ctx, query, format, out, progress }) {
    const rows = await ctx.store.db
      .select({ contextId: courses.contextId, title: courses.title })
      .from(courses)
      .where(eq(courses.platformId, query.platformId))
      .orderBy(courses.contextId);
    progress(rows.length, rows.length);
    const text =
      format === 'json' ? `${JSON.stringify(rows)}\n` : ['contextId,title', ...rows.map((r) => `${r.contextId},${r.title ?? ''}`)].join('\r\n');
    await new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      out.end(text, () => resolve());
    });
    return { count: rows.length };
  },
  cli: { description: 'the courses of the platform', progress: 'courses', written: (count) => `${count} course(s)` },
});

describe.each(drivers)('a kind added to a registry, on %s', (driver) => {
  let t: TestStore;
  let ctx: AppContext;
  let platformId: number;
  beforeAll(async () => {
    t = await openTestStore(driver);
    ctx = testContext(t.store, { reports: exportRegistry([...reportKinds.kinds, courseList]) });
    platformId = (await ensurePlatform(t.store.db, 'https://moodle.univ-test.fr', 'Moodle Santé')).id;
    await ensureCourse(t.store.db, platformId, '2', 'Socle numérique — groupe 1');
    await ensureCourse(t.store.db, platformId, '3', 'Socle numérique — groupe 2');
  });
  afterAll(() => t.destroy());
  beforeEach(async () => {
    await t.store.db.delete(exportJobs);
    await t.store.db.delete(auditEvents);
  });

  it('is queued, produced by the job runner and downloaded like the others', async () => {
    expect(ctx.reports.names).toEqual(['compliance', 'attestations', 'indicators', 'courses']);
    expect(ctx.reports.formatsOf('courses')).toEqual(['csv-rfc4180', 'json']);
    const job = await createExportJob(t.store.db, ctx.reports, { kind: 'courses', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    const done = await runNextJob(ctx, { workerId: 'w1' });
    expect(done).toMatchObject({
      id: job.id,
      status: 'done',
      rowsDone: 2,
      rowsTotal: 2,
      contentType: 'text/csv; charset=utf-8',
      // named after the day of the request in the institution's time zone (Europe/Paris without a profile), not UTC's
      fileName: `cours-${job.createdAt.toLocaleDateString('sv-SE', { timeZone: DEFAULT_TIME_ZONE })}.csv`,
    });
    const file = must(await readJobFile(t.store.db, job.id, 'cli'));
    expect(await readAll(file.stream)).toBe('contextId,title\r\n2,Socle numérique — groupe 1\r\n3,Socle numérique — groupe 2');

    await createExportJob(t.store.db, ctx.reports, { kind: 'courses', format: 'json', platformId, requestedBy: 'cli' });
    const json = must(await runNextJob(ctx));
    expect(json).toMatchObject({ status: 'done', contentType: 'application/json', fileName: expect.stringMatching(/^cours-.*\.json$/) });
    expect(JSON.parse(await readAll(must(await readJobFile(t.store.db, json.id, 'cli')).stream))).toEqual([
      { contextId: '2', title: 'Socle numérique — groupe 1' },
      { contextId: '3', title: 'Socle numérique — groupe 2' },
    ]);
  });

  it('is only in the registry it was added to', async () => {
    await expect(createExportJob(t.store.db, ctx.reports, { kind: 'courses', format: 'pdf', platformId, requestedBy: 'cli' })).rejects.toThrow(/format/);
    await expect(createExportJob(t.store.db, reportKinds, { kind: 'courses', format: 'csv-rfc4180', platformId, requestedBy: 'cli' })).rejects.toThrow(/kind/);
    expect(await t.store.db.select().from(exportJobs)).toEqual([]);
    // A job of the kind, run by a runner of the default registry (without it), fails and says why.
    const job = await createExportJob(t.store.db, ctx.reports, { kind: 'courses', format: 'csv-rfc4180', platformId, requestedBy: 'cli' });
    expect(await runNextJob(testContext(t.store))).toMatchObject({ id: job.id, status: 'failed', error: 'No producer for exports of kind courses' });
  });

  it('refuses a compliance report on a référentiel its source lacks with a coded error, and lets other failures through', async () => {
    const produce = (source: ComplianceSource, referential?: { id: string }) =>
      compliance.produce({
        ctx: testContext(t.store, { compliance: source }),
        query: { platformId, filters: referential ? { referential } : {} },
        format: 'csv-rfc4180',
        out: new PassThrough(),
        progress: () => undefined,
      });
    const none: ComplianceSource = { ...ctx.compliance, referentials: async () => [] };
    await expect(produce(none, { id: 'nowhere' })).rejects.toMatchObject({ code: 'not_found', message: 'référentiel nowhere is not in the catalogue' });
    await expect(produce(none)).rejects.toMatchObject({ code: 'invalid_request', message: 'no référentiel to report on' });
    const lost = new Error('connection lost');
    const error = await produce({ ...ctx.compliance, referentials: () => Promise.reject(lost) }).catch((e: unknown) => e);
    expect(error).toBe(lost);
    expect(error).not.toBeInstanceOf(SocleError);
  });
});
