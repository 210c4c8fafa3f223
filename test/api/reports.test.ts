import { and, eq, sql } from 'drizzle-orm';
import { formatMinutes } from '../../src/domain/format';
import nock from 'nock';
import { createApiToken } from '../../src/identity/api-tokens';
import { attestationRecords, auditEvents, exportJobs } from '../../src/db/schema';
import { ensureCourse, ensurePlatform, findPlatform } from '../../src/identity/records';
import type { Indicators } from '../../src/reports/indicators';
import { startTestServer, type TestServer } from '../support/app';
import { generatedRows, must } from '../support/compliance-rows';
import { arraySource } from '../support/compliance-source';
import { drivers } from '../support/db';
import { type Client, SimulatedMoodle } from '../support/moodle';

interface JobJson {
  id: string;
  status: string;
  kind: string;
  format: string;
  percent: number;
  rowsDone: number;
  downloadUrl: string | null;
  url: string;
}

const rows = generatedRows(36);
const source = arraySource(rows);

describe.each(drivers)('reports over HTTP on %s', (driver) => {
  let server: TestServer;
  let moodle: SimulatedMoodle;
  let admin: Client;
  let teacher: Client;
  let learner: Client;
  let platformId: number;
  let adminToken: string;
  let otherToken: string;

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { compliance: source });
    moodle = await SimulatedMoodle.create();
    await moodle.register(server);
    admin = (await moodle.launch(server, 'administrator', { sub: '90', locale: 'fr-FR' })).client;
    teacher = (await moodle.launch(server, 'instructor', { context: '2', contextTitle: 'Socle numérique — groupe 1', locale: 'fr-FR' })).client;
    learner = (await moodle.launch(server, 'learner', { context: '2' })).client;
    const db = server.ctx.store.db;
    platformId = must(await findPlatform(db, moodle.issuer)).id;
    await ensureCourse(db, platformId, '3', 'Socle numérique — groupe 2');
    await ensureCourse(db, platformId, '4', 'Socle numérique — groupe 3');
    const other = await ensurePlatform(db, 'https://moodle.other.example');
    adminToken = (await createApiToken(db, { name: 'ministry', role: 'admin', platformId })).token;
    otherToken = (await createApiToken(db, { name: 'other', role: 'admin', platformId: other.id })).token;
  }, 60_000);
  afterAll(async () => {
    nock.cleanAll();
    await server?.destroy();
  });

  async function waitDone(client: Client, url: string): Promise<JobJson> {
    for (let i = 0; i < 150; i++) {
      const res = await client.get(url);
      const job = (await res.json()) as JobJson;
      if (job.status === 'done' || job.status === 'failed') return job;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`export ${url} did not finish`);
  }

  it('shows administrators the dashboard, export buttons, recent exports and the outbox', async () => {
    const res = await admin.get('/lti/admin');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<svg role="img"');
    expect(html).toContain('Taux de conformité par domaine');
    for (const format of ['csv-excel', 'csv', 'xlsx', 'pdf']) expect(html).toContain(`value="${format}"`);
    expect(html).toContain('Attestations (ZIP)');
    expect(html).toMatch(/data-testid="outbox">0 en attente/);
    // The rate of D1 equals the rows' own (the learners of the 28 h référentiel and the 12 h one both have a D1).
    const d1 = rows.filter((r) => (r.domains[0]?.validatedMinutes ?? 0) >= (r.domains[0]?.requiredMinutes ?? 1)).length;
    expect(html).toContain(`<td>${d1} / ${rows.length}</td>`);
  });

  it('runs a compliance export in the background, with progress, download and audit', async () => {
    const created = await admin.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv-excel' } });
    expect(created.status).toBe(202);
    const job = (await created.json()) as JobJson;
    expect(['queued', 'running', 'done']).toContain(job.status);
    const done = await waitDone(admin, job.url);
    expect(done).toMatchObject({ status: 'done', percent: 100, rowsDone: rows.length });
    const file = await admin.get(must(done.downloadUrl));
    expect(file.status).toBe(200);
    expect(file.headers.get('content-disposition')).toMatch(/conformite-.*\.csv/);
    const text = Buffer.from(await file.arrayBuffer()).toString('utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    expect(text.trim().split('\r\n')).toHaveLength(rows.length + 1);
    const audit = await server.ctx.store.db.select().from(auditEvents).where(eq(auditEvents.subject, `export:${job.id}`));
    expect(audit.map((a) => [a.action, a.actor])).toEqual(
      expect.arrayContaining([
        ['export.requested', `lti:${moodle.issuer}#90`],
        ['export.downloaded', `lti:${moodle.issuer}#90`],
      ]),
    );
    const page = await (await admin.get('/lti/admin')).text();
    expect(page).toContain(`/exports/${job.id}/file?ltik=`);
  });

  it('answers the admin form (htmx) with a progress fragment that polls the job', async () => {
    const res = await admin.post('/lti/api/reports/exports', {
      form: { kind: 'compliance', format: 'xlsx', courses: '3', referential: '', from: '', to: '' },
      headers: { 'HX-Request': 'true' },
    });
    expect(res.status).toBe(202);
    const html = await res.text();
    expect(html).toMatch(/class="job"/);
    expect(html).toMatch(/<progress|download/);
    const id = must(/job-([0-9a-f-]{36})/.exec(html)?.[1]);
    const job = must(await server.ctx.store.db.select().from(exportJobs).where(eq(exportJobs.id, id)).then((r) => r[0]));
    expect(job.filters).toEqual({ courses: ['3'] });
  });

  it('rejects an invalid request with details and queues nothing', async () => {
    const before = (await server.ctx.store.db.select().from(exportJobs)).length;
    const res = await admin.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'zip' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { path: string }[] } };
    expect(body.error.details[0]?.path).toBe('body.format');
    const unknownCourse = await admin.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv', filters: { courses: ['999'] } } });
    expect(unknownCourse.status).toBe(400);
    expect((await server.ctx.store.db.select().from(exportJobs)).length).toBe(before);
  });

  it('limits an instructor to their own course', async () => {
    const other = await teacher.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv', filters: { courses: ['3'] } } });
    expect(other.status).toBe(403);
    const mixed = await teacher.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv', filters: { courses: ['2', '3'] } } });
    expect(mixed.status).toBe(403);
    const own = await teacher.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv' } });
    expect(own.status).toBe(202);
    const done = await waitDone(teacher, ((await own.json()) as JobJson).url);
    const csv = await (await teacher.get(must(done.downloadUrl))).text();
    const expected = rows.filter((r) => r.courses.some((c) => c.contextId === '2'));
    expect(csv.trim().split('\r\n')).toHaveLength(expected.length + 1);
    // The administrator's platform-wide export is not theirs to see.
    const [adminJob] = await server.ctx.store.db.select().from(exportJobs).where(eq(exportJobs.requestedBy, `lti:${moodle.issuer}#90`));
    expect((await teacher.get(`/lti/api/reports/exports/${must(adminJob).id}`)).status).toBe(403);
    expect((await teacher.get(`/lti/api/reports/exports/${must(adminJob).id}/file`)).status).toBe(403);
    const page = await (await teacher.get('/lti/course')).text();
    expect(page).toContain('Rapport de conformité horaire de ce cours');
    expect(page).toContain(`${expected.length} apprenant(s)`);
  });

  it('refuses learners', async () => {
    expect((await learner.post('/lti/api/reports/exports', { json: { kind: 'compliance', format: 'csv' } })).status).toBe(403);
    expect((await learner.get('/lti/api/reports/indicators')).status).toBe(403);
  });

  it('serves API tokens of the platform, and refuses a token of another platform', async () => {
    const body = { platform: moodle.issuer, kind: 'indicators', format: 'json' };
    const anonymous = await fetch(`${server.url}/api/v1/reports/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(anonymous.status).toBe(401);
    const foreign = await fetch(`${server.url}/api/v1/reports/exports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${otherToken}` },
      body: JSON.stringify(body),
    });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${server.url}/api/v1/indicators?platform=${encodeURIComponent(moodle.issuer)}`, { headers: { Authorization: `Bearer ${otherToken}` } })).status).toBe(403);
    const [adminJob] = await server.ctx.store.db.select().from(exportJobs).limit(1);
    expect((await fetch(`${server.url}/api/v1/reports/exports/${must(adminJob).id}`, { headers: { Authorization: `Bearer ${otherToken}` } })).status).toBe(403);
    const mine = await fetch(`${server.url}/api/v1/reports/exports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
      body: JSON.stringify(body),
    });
    expect(mine.status).toBe(202);
  });

  it('computes the programme indicators from the learners’ figures', async () => {
    const res = await fetch(`${server.url}/api/v1/indicators?platform=${encodeURIComponent(moodle.issuer)}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const ind = (await res.json()) as Indicators;
    const compliant = rows.filter((r) => r.status === 'complete');
    expect(ind.learners).toMatchObject({
      total: rows.length,
      compliant: compliant.length,
      inProgress: rows.filter((r) => r.status === 'in_progress').length,
      notStarted: rows.filter((r) => r.status === 'not_started').length,
      withManualCredits: rows.filter((r) => r.hasManualCredits).length,
    });
    for (const course of ['2', '3', '4']) {
      const of = rows.filter((r) => r.courses[0]?.contextId === course);
      expect(ind.byCourse.find((c) => c.key === course)).toMatchObject({ learners: of.length, compliant: of.filter((r) => r.status === 'complete').length });
    }
    const d1 = rows.reduce((s, r) => s + (r.domains.find((d) => d.code === 'D1')?.validatedMinutes ?? 0), 0);
    expect(ind.hoursByDomain.find((h) => h.code === 'D1')?.validatedMinutes).toBe(d1);
    expect(ind.byReferential.reduce((s, r) => s + r.learners, 0)).toBe(rows.length);
    // Completions of January/February 2026 belong to the academic year 2025-2026.
    expect(ind.byAcademicYear.find((y) => y.key === '2025-2026')?.compliant).toBe(compliant.length);
    // The instructor's indicators are those of their course.
    const own = (await (await teacher.get('/lti/api/reports/indicators')).json()) as Indicators;
    expect(own.learners.total).toBe(rows.filter((r) => r.courses[0]?.contextId === '2').length);
    const bad = await fetch(`${server.url}/api/v1/indicators?platform=${encodeURIComponent(moodle.issuer)}&from=yesterday`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(bad.status).toBe(400);
    // Year 0000 is an ISO date PostgreSQL's date cannot hold: refused before any query.
    const year0 = await fetch(`${server.url}/api/v1/indicators?platform=${encodeURIComponent(moodle.issuer)}&from=0000-01-01`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect([year0.status, ((await year0.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path]).toEqual([400, 'query.from']);
  });

  it('issues attestations whose verification URL confirms the printed figures', async () => {
    const created = await fetch(`${server.url}/api/v1/reports/exports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ platform: moodle.issuer, kind: 'attestations', format: 'zip', filters: { courses: ['4'] } }),
    });
    expect(created.status).toBe(202);
    const job = (await created.json()) as JobJson;
    let done: JobJson | undefined;
    for (let i = 0; i < 300 && done?.status !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      done = (await (await fetch(`${server.url}${job.url}`, { headers: { Authorization: `Bearer ${adminToken}` } })).json()) as JobJson;
      if (done.status === 'failed') throw new Error(JSON.stringify(done));
    }
    const zip = await fetch(`${server.url}${must(done?.downloadUrl)}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(zip.headers.get('content-type')).toBe('application/zip');
    expect((await zip.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const expected = rows.filter((r) => r.courses[0]?.contextId === '4');
    const records = await server.ctx.store.db.select().from(attestationRecords).where(and(eq(attestationRecords.exportJobId, job.id)));
    expect(records).toHaveLength(expected.length);
    const row = must(expected.find((r) => r.status === 'complete') ?? expected[0]);
    const record = must(records.find((r) => r.learnerSub === row.learner.sub));
    const verified = (await (await fetch(`${server.url}/attestations/${record.id}`, { headers: { Accept: 'application/json' } })).json()) as Record<string, unknown>;
    expect(verified).toMatchObject({
      intact: true,
      learner: row.learner,
      validatedMinutes: row.validatedMinutes,
      requiredMinutes: row.requiredMinutes,
      status: row.status,
      domains: row.domains.map((d) => ({ code: d.code, title: d.title, validatedMinutes: d.validatedMinutes, requiredMinutes: d.requiredMinutes })),
    });
    const page = await fetch(`${server.url}/attestations/${record.id}`, { headers: { Accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Attestation authentique');
    // hours as the PDF writes them ("15 h 30")
    expect(html).toContain(`<dd data-testid="hours">${formatMinutes(row.validatedMinutes)} / ${formatMinutes(row.requiredMinutes)}</dd>`);
    // A record altered in the database no longer matches its digest.
    await server.ctx.store.db.execute(sql`UPDATE attestation_records SET validated_minutes = validated_minutes + 60 WHERE id = ${record.id}`);
    const altered = (await (await fetch(`${server.url}/attestations/${record.id}?format=json`)).json()) as { intact: boolean };
    expect(altered.intact).toBe(false);
    expect((await fetch(`${server.url}/attestations/00000000-0000-4000-8000-000000000000?format=json`)).status).toBe(404);
    expect((await fetch(`${server.url}/attestations/not-an-id`)).status).toBe(404);
  });
});
