import { sql } from 'drizzle-orm';
import { parse } from 'csv-parse/sync';
import { PassThrough } from 'node:stream';
import { createApiToken } from '../../src/identity/api-tokens';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import { writeComplianceCsv } from '../../src/reports/csv';
import { coverageComplianceSource } from '../../src/reports/coverage-source';
import { complianceSummary } from '../../src/reports/source';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, MOODLE } from '../xapi/support';
import { completionStatement, pageIri } from '../coverage/support';

jest.setTimeout(90_000);
const REF = 'socle-sante-niveaux-4-8';

describe.each(drivers)('compliance reports read the stored coverage on %s', (driver) => {
  let server: TestServer;
  let admin: string;
  let platformId: number;
  beforeAll(async () => {
    server = await startTestServer(driver); // the real catalogue
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    platformId = platform.id;
    admin = (await createApiToken(db, { name: 'reports', role: 'admin', platformId: null })).token;
    const key = await createXapiKey(db, MOODLE);
    const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    const referential = await getReferential(db, REF);
    if (!referential) throw new Error('bundled référentiel missing');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential,
      activityIris: new Set([1, 2, 3, 4].map(pageIri)),
      entries: [
        { activityIri: pageIri(1), competencyKey: '2.1', minutes: 300 }, // the whole cybersecurity domain (5 h)
        { activityIri: pageIri(2), competencyKey: '1.1', minutes: 90 },
        { activityIri: pageIri(3), competencyKey: '3.1', minutes: 150 },
        { activityIri: pageIri(4), competencyKey: '4.1', minutes: 45 },
      ],
      actor: 'test',
    });
    const at = new Date(Date.UTC(2026, 10, 20, 9));
    const batch = [
      completionStatement({ id: '00000000-0000-4000-8000-000000000001', sub: '4', cmid: 1, course: 2, kind: 'completed', at }),
      completionStatement({ id: '00000000-0000-4000-8000-000000000002', sub: '4', cmid: 2, course: 2, kind: 'completed', at }),
      completionStatement({ id: '00000000-0000-4000-8000-000000000003', sub: '5', cmid: 3, course: 2, kind: 'completed', at }),
      completionStatement({ id: '00000000-0000-4000-8000-000000000004', sub: '5', cmid: 4, course: 2, kind: 'completed', at }),
    ];
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(200);
    const idle = await ensureUser(db, platform.id, '9', { name: '=HYPERLINK("http://x")' });
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${idle.id}, ARRAY['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'])`);
  });
  afterAll(() => server.destroy());

  it('gives every learner (those with nothing too) the figures of the coverage API, in CSV as well', async () => {
    const query = { platformId, filters: { courses: ['2'], referential: { id: REF } } };
    const rows = [];
    for await (const row of coverageComplianceSource(server.ctx).rows(server.ctx.store.db, query)) rows.push(row);
    expect(rows.map((r) => r.learner.sub).sort()).toEqual(['4', '5', '9']);
    expect(await coverageComplianceSource(server.ctx).count(server.ctx.store.db, query)).toBe(3);
    for (const row of rows) {
      const api = (await (
        await fetch(`${server.url}/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&user=${row.learner.sub}&referential=${REF}`, {
          headers: { authorization: `Bearer ${admin}` },
        })
      ).json()) as { validatedHours: number; status: string; domains: { code: string; validatedHours: number }[] };
      expect(row.validatedMinutes / 60).toBeCloseTo(api.validatedHours, 5);
      expect(row.status).toBe(api.status);
      for (const d of row.domains) expect(d.validatedMinutes / 60).toBeCloseTo(api.domains.find((x) => x.code === d.code)?.validatedHours ?? -1, 5);
    }
    const four = rows.find((r) => r.learner.sub === '4');
    expect(four?.validatedMinutes).toBe(390);
    expect(four?.domains.find((d) => d.code === '2')?.validatedMinutes).toBe(300);

    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const meta = {
      institution: 'Université test',
      platform: { issuer: MOODLE, name: null },
      filters: [],
      generatedAt: new Date(),
      referentials: await coverageComplianceSource(server.ctx).referentials(server.ctx.store.db, query),
    };
    await writeComplianceCsv(meta, coverageComplianceSource(server.ctx).rows(server.ctx.store.db, query), out, { variant: 'excel-fr' });
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(text).toContain("'=HYPERLINK");
    const records = parse(text.slice(1), { delimiter: ';' }) as string[][];
    expect(records.some((r) => r.includes('6,5'))).toBe(true); // learner 4: 6.5 h validated
  });

  it('computes the dashboard in SQL as counting the rows would, for the platform, a course and a date window', async () => {
    const db = server.ctx.store.db;
    const source = coverageComplianceSource(server.ctx);
    const queries = [
      { platformId, filters: {} },
      { platformId, filters: { courses: ['2'] } },
      { platformId, filters: { courses: ['404'] } },
      { platformId, filters: { from: '2026-11-20' } },
      { platformId, filters: { to: '2026-01-01' } },
    ];
    let compliantDomains = 0;
    for (const query of queries) {
      const { summary: _own, ...counting } = source;
      const counted = await complianceSummary(db, counting, query);
      const aggregated = await complianceSummary(db, source, query);
      expect(aggregated).toEqual(counted);
      compliantDomains += aggregated.domains.reduce((n, d) => n + d.compliant, 0);
    }
    // learner 4 validated the whole cybersecurity domain: the comparison was not between zeros
    expect(compliantDomains).toBeGreaterThan(0);
    expect((await complianceSummary(db, source, queries[0] as (typeof queries)[0])).learners).toBe(3);
  });

  it('gives each learner of a programme of the version its forecast and due date, in the CSV too', async () => {
    const db = server.ctx.store.db;
    const query = { platformId, filters: { courses: ['2'], referential: { id: REF } } };
    const source = coverageComplianceSource(server.ctx);
    const before = [];
    for await (const row of source.rows(db, query)) before.push(row.forecast);
    expect(before).toEqual([null, null, null]);
    // a programme whose due date has passed: nobody is done, everyone is at risk
    const platform = await ensurePlatform(db, MOODLE);
    const programme = await addProgramme(db, platform, { name: 'Promotion 2020', referential: REF, courses: ['2'], intakeYear: 2020 }, 'test');
    const rows = [];
    for await (const row of source.rows(db, query)) rows.push(row);
    expect(rows.map((r) => [r.learner.sub, r.forecast])).toEqual(
      expect.arrayContaining(['4', '5', '9'].map((sub) => [sub, { status: 'at_risk', dueDate: '2023-08-31' }])),
    );
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const meta = { institution: 'Université test', platform: { issuer: MOODLE, name: null }, filters: [], generatedAt: new Date(), referentials: await source.referentials(db, query) };
    await writeComplianceCsv(meta, source.rows(db, query), out, { variant: 'rfc4180' });
    const [header, ...data] = parse(Buffer.concat(chunks).toString('utf8'), { delimiter: ',' }) as string[][];
    const status = header?.indexOf('forecast_status') ?? -1;
    const due = header?.indexOf('due_date') ?? -1;
    expect(data.map((r) => [r[status], r[due]])).toEqual(data.map(() => ['at_risk', '2023-08-31']));
    await db.execute(sql`DELETE FROM programmes WHERE id = ${programme.id}`);
  });

  it("takes the report's référentiel from the context's référentiel source, as the rows", async () => {
    const db = server.ctx.store.db;
    const bundled = await getReferential(db, REF);
    if (!bundled) throw new Error('bundled référentiel missing');
    const fixture = { ...bundled, id: 'fixture-only', title: 'Référentiel de test' };
    const referentials = () => async (id: string) => (id === fixture.id ? fixture : undefined);
    const source = coverageComplianceSource({ ...server.ctx, referentials });
    const [ref] = await source.referentials(db, { platformId, filters: { referential: { id: fixture.id } } });
    expect(ref).toMatchObject({ id: 'fixture-only', version: bundled.version, title: 'Référentiel de test' });
    expect(ref?.domains.map((d) => d.code)).toEqual(bundled.domains.map((d) => d.code));
    expect(await getReferential(db, fixture.id)).toBeUndefined();
  });
});

