/**
 * GET /api/v1/coverage with programmes: a `forecast` object per learner of a programme of the référentiel version
 * (learner and course views), none for the others; the OpenAPI document describes it. Statements go through the real
 * xAPI endpoint, the référentiel is the bundled one from the catalogue, the day is a fixed clock.
 */
import { sql } from 'drizzle-orm';
import { courseCoverage, learnerCoverage } from '../../src/api/schemas';
import { createApiToken } from '../../src/identity/api-tokens';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import type { Referential } from '../../src/domain/referential';
import { createXapiKey } from '../../src/xapi/keys';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, MOODLE } from '../xapi/support';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';

const REF = 'socle-sante-niveaux-4-8';

describe.each(drivers)('the forecast in GET /api/v1/coverage on %s', (driver) => {
  let server: TestServer;
  let admin: string;
  let ref: Referential;
  const get = async (query: string) => {
    const res = await fetch(`${server.url}/api/v1/coverage?platform=${encodeURIComponent(MOODLE)}&${query}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    return res.json() as Promise<unknown>;
  };

  beforeAll(async () => {
    // half way through the intake 2025: 839 of the 1,680 minutes expected
    server = await startTestServer(driver, {}, { badges: undefined, clock: () => new Date('2027-03-02T10:00:00Z') });
    const db = server.ctx.store.db;
    ref = (await getReferential(db, REF)) as Referential;
    const platform = await ensurePlatform(db, MOODLE);
    admin = (await createApiToken(db, { name: 'warehouse', role: 'admin', platformId: null })).token;
    const key = await createXapiKey(db, MOODLE);
    const course = await ensureCourse(db, platform.id, '2', 'Année 1');
    await ensureCourse(db, platform.id, '3', 'Année 2');
    await ensureCourse(db, platform.id, '4', 'Autre');
    // page d credits all of domain d's hours
    const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(i + 1), competencyKey: d.competencies[0]?.key as string, minutes: d.requiredMinutes ?? 0 }));
    await saveMapping(db, server.ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'test' });
    await addProgramme(db, platform, { name: 'IFSI 2025', referential: REF, courses: ['2', '3'], intakeYear: 2025 }, 'test');
    const at = new Date(Date.UTC(2026, 10, 22, 10, 0, 0));
    const statements = [
      completionStatement({ id: uuidOf(1), sub: '4', cmid: 1, course: 2, kind: 'completed', at }),
      ...[1, 2, 3, 4, 5].map((cmid) => completionStatement({ id: uuidOf(10 + cmid), sub: '8', cmid, course: 2, kind: 'completed', at })),
      completionStatement({ id: uuidOf(30), sub: '7', cmid: 1, course: 4, kind: 'completed', at }),
    ];
    const res = await fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: basic(key.key, key.secret), 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(statements),
    });
    expect(res.status).toBe(200);
    const s9 = await ensureUser(db, platform.id, '9', { name: 'Nina Rien' });
    const c3 = await ensureCourse(db, platform.id, '3');
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${c3.id}, ${s9.id}, ARRAY['Learner'])`);
  });
  afterAll(() => server.destroy());

  it('gives each learner of the programme a forecast, and none to a learner outside it', async () => {
    const four = learnerCoverage.parse(await get(`user=4&referential=${REF}`));
    expect(four.validatedHours).toBe(6);
    expect(four.forecast).toEqual({
      status: 'behind',
      dueDate: '2028-08-31',
      daysLeft: 548,
      programme: { id: expect.any(Number), name: 'IFSI 2025' },
      expectedHours: 13.98,
      missingHours: 22,
      mappableHours: 22,
      shortDomains: [],
    });
    expect(learnerCoverage.parse(await get(`user=8&referential=${REF}`)).forecast).toMatchObject({ status: 'done', missingHours: 0 });
    // course 4 is not the programme's: no forecast
    expect(learnerCoverage.parse(await get(`user=7&referential=${REF}`)).forecast).toBeUndefined();

    const course = courseCoverage.parse(await get('context=2'));
    expect(course.learners.map((l) => [l.user.sub, l.forecast?.status])).toEqual([['4', 'behind'], ['8', 'done']]);
    // course 3 maps nothing itself, its roster's learner is still offered course 2's hours
    const other = courseCoverage.parse(await get(`context=3&referential=${REF}`));
    expect(other.learners.map((l) => [l.user.sub, l.forecast?.status, l.forecast?.mappableHours])).toEqual([['9', 'behind', 28]]);
  });

  it('documents the forecast in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> } };
    expect(doc.components.schemas.Forecast?.properties.status?.enum).toEqual(['on_track', 'behind', 'at_risk', 'done']);
    expect(Object.keys(doc.components.schemas.LearnerCoverage?.properties ?? {})).toContain('forecast');
  });
});
