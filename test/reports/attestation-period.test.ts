import { ensureCourse, ensurePlatform } from '../../src/identity/records';
import { setInstitution } from '../../src/identity/institution';
import { saveMapping } from '../../src/mapping/service';
import { getReferential } from '../../src/referentials/catalogue';
import { renderAttestationPdf, type Attestation } from '../../src/reports/attestation';
import { recordedAttestations, reportMetaOf } from '../../src/reports/service';
import { writeCompliancePdf } from '../../src/reports/compliance-pdf';
import { PassThrough } from 'node:stream';
import type { ComplianceQuery } from '../../src/reports/source';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { pdfText } from '../support/pdf';
import { basic, MOODLE } from '../xapi/support';
import { completionStatement, pageIri } from '../coverage/support';

jest.setTimeout(90_000);
const REF = 'socle-sante-niveaux-4-8';

describe.each(drivers)('attestations for a period, from the stored coverage, on %s', (driver) => {
  let server: TestServer;
  let platformId: number;
  const attestations = async (filters: ComplianceQuery['filters']): Promise<Attestation[]> => {
    const out: Attestation[] = [];
    for await (const a of recordedAttestations(server.ctx, { platformId, filters: { courses: ['2'], referential: { id: REF }, ...filters } })) out.push(a);
    return out;
  };

  beforeAll(async () => {
    server = await startTestServer(driver);
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    platformId = platform.id;
    // Nouméa is UTC+11: a completion on 30 September at 14:00 UTC is on 1 October there
    await setInstitution(db, platform, { fields: { legalName: 'Université de la Nouvelle-Calédonie', city: 'Nouméa', timeZone: 'Pacific/Noumea' } }, 'test');
    const key = await createXapiKey(db, MOODLE);
    const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    const referential = await getReferential(db, REF);
    if (!referential) throw new Error('bundled référentiel missing');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential,
      activityIris: new Set([1, 2, 3].map(pageIri)),
      entries: [
        { activityIri: pageIri(1), competencyKey: '2.1', minutes: 300 },
        { activityIri: pageIri(2), competencyKey: '1.1', minutes: 90 },
        { activityIri: pageIri(3), competencyKey: '3.1', minutes: 150 },
      ],
      actor: 'test',
    });
    const batch = [
      completionStatement({ id: '00000000-0000-4000-8000-000000000011', sub: '4', cmid: 1, course: 2, kind: 'completed', at: new Date('2026-09-15T09:00:00Z') }),
      completionStatement({ id: '00000000-0000-4000-8000-000000000012', sub: '4', cmid: 2, course: 2, kind: 'completed', at: new Date('2026-09-30T14:00:00Z') }),
      completionStatement({ id: '00000000-0000-4000-8000-000000000013', sub: '4', cmid: 3, course: 2, kind: 'completed', at: new Date('2026-11-20T09:00:00Z') }),
    ];
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => server.destroy());

  it('without a period: every credit, the figures of today', async () => {
    const [a] = await attestations({});
    expect(a).toMatchObject({ institution: 'Université de la Nouvelle-Calédonie', validatedMinutes: 540 });
    expect(a?.period).toBeUndefined();
    expect(a?.activities.map((x) => x.minutes).sort()).toEqual([150, 300, 90]);
    expect(a?.activities.find((x) => x.minutes === 90)?.competency).toMatchObject({ code: expect.any(String), title: expect.stringMatching(/\S{3,}/) });
  });

  it('for October (in the institution’s time zone): the hours of the period, those cumulated since the start, the figures as of 31 October', async () => {
    const [a] = await attestations({ from: '2026-10-01', to: '2026-10-31' });
    expect(a?.period).toEqual({ from: '2026-10-01', to: '2026-10-31', periodMinutes: 90, cumulatedMinutes: 390 });
    expect(a?.validatedMinutes).toBe(390);
    expect(a?.domains.find((d) => d.code === '3')?.validatedMinutes).toBe(0);
    expect(a?.activities.map((x) => x.minutes)).toEqual([90]);
    const text = (await pdfText(await renderAttestationPdf(a as Attestation))).join('\n');
    expect(text).toContain('a validé 1 h 30 entre le 1 octobre 2026 et le 31 octobre 2026, soit 6 h 30 cumulées depuis le début de la formation');
    expect(text).toContain('01/10/2026'); // the completion's date in Nouméa, not 30/09 (UTC)
    expect(text).toContain('Fait à Nouméa, le');
  });

  it('up to a day only: everything before it counts in the period and in the total', async () => {
    const [a] = await attestations({ to: '2026-09-20' });
    expect(a?.period).toEqual({ from: null, to: '2026-09-20', periodMinutes: 300, cumulatedMinutes: 300 });
  });

  it('report headers name the institution and carry its time zone (the compliance PDF’s "Établissement")', async () => {
    const query = { platformId, filters: { courses: ['2'], referential: { id: REF } } };
    const meta = await reportMetaOf(server.ctx.store.db, server.ctx.compliance, query, new Date('2026-12-01T08:00:00Z'));
    expect(meta).toMatchObject({ institution: 'Université de la Nouvelle-Calédonie', timeZone: 'Pacific/Noumea', platform: { issuer: MOODLE } });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeCompliancePdf(meta, server.ctx.compliance.rows(server.ctx.store.db, query), out);
    const text = (await pdfText(Buffer.concat(chunks))).join('\n');
    expect(text).toMatch(/Établissement\s+Université de la Nouvelle-Calédonie/);
  });
});
