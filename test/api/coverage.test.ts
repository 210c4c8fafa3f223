import { sql } from 'drizzle-orm';
import { courseCoverage, learnerCoverage } from '../../src/api/schemas';
import { createApiToken } from '../../src/identity/api-tokens';
import { grantManualCredit } from '../../src/coverage/credits';
import { coverageDeps } from '../../src/coverage/deps';
import { compileRules, computeCoverage } from '../../src/domain/coverage';
import { ensureCourse, ensurePlatform, ensureUser } from '../../src/identity/records';
import { saveMapping } from '../../src/mapping/service';
import { createXapiKey } from '../../src/xapi/keys';
import { socle28 } from '../domain/coverage-fixtures';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, MOODLE } from '../xapi/support';
import { completionStatement, fixtureReferentials, pageIri, uuidOf } from '../coverage/support';

describe.each(drivers)('GET /api/v1/coverage on %s', (driver) => {
  let server: TestServer;
  let admin: string;
  let scopedOther: string;
  let xapiAuth: string;
  const get = (query: string, token: string | null = admin) =>
    fetch(`${server.url}/api/v1/coverage?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const learner = (sub: string) => `platform=${encodeURIComponent(MOODLE)}&user=${sub}&referential=${socle28.id}`;
  const post = (body: unknown) =>
    fetch(`${server.url}/xapi/statements`, {
      method: 'POST',
      headers: { authorization: xapiAuth, 'x-experience-api-version': '1.0.3', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startTestServer(driver, {}, { referentials: fixtureReferentials() });
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const other = await ensurePlatform(db, 'https://other.example.org');
    admin = (await createApiToken(db, { name: 'warehouse', role: 'admin', platformId: null })).token;
    scopedOther = (await createApiToken(db, { name: 'other', role: 'admin', platformId: other.id })).token;
    const key = await createXapiKey(db, MOODLE);
    xapiAuth = basic(key.key, key.secret);
    const course = await ensureCourse(db, platform.id, '2', 'LTI Test Course');
    await saveMapping(db, server.ctx, {
      courseId: course.id,
      referential: socle28,
      activityIris: new Set([1, 2, 3].map(pageIri)),
      entries: [
        { activityIri: pageIri(1), competencyKey: '2.1', minutes: 240 },
        { activityIri: pageIri(2), competencyKey: '2.2', minutes: 180 },
        { activityIri: pageIri(3), competencyKey: '1.1', minutes: 90 },
      ],
      actor: 'test',
    });
    // the roster: s9 has done nothing yet
    const s9 = await ensureUser(db, platform.id, '9', { name: 'Nina Rien' });
    await db.execute(sql`INSERT INTO course_members (course_id, user_id, roles) VALUES (${course.id}, ${s9.id}, ARRAY['Learner'])`);
  });
  afterAll(() => server.destroy());

  it('answers 401, 400 naming the parameters, 404 for unknown platform or user, 403 for a token of another platform', async () => {
    expect((await get(learner('4'), null)).status).toBe(401);
    expect((await get(learner('4'), 'socle_nope')).status).toBe(401);
    const missing = await get('user=4');
    expect(missing.status).toBe(400);
    const body = (await missing.json()) as { error: { message: string; details: { path: string }[] } };
    expect(body.error.message).toContain('platform');
    expect(body.error.details.map((d) => d.path)).toEqual(['query.platform', 'query.referential']);
    const neither = (await (await get(`platform=${MOODLE}`)).json()) as { error: { message: string } };
    expect(neither.error.message).toContain('user or context');
    expect((await get(`${learner('4')}&limit=abc`)).status).toBe(400);
    expect((await get(`${learner('4')}&bogus=1`)).status).toBe(400);
    expect((await get(`platform=https://nowhere.example&user=4&referential=${socle28.id}`)).status).toBe(404);
    expect((await get(learner('404'))).status).toBe(404);
    expect((await get(`platform=${MOODLE}&context=99`)).status).toBe(404);
    expect((await get(`platform=${MOODLE}&user=9&referential=unknown`)).status).toBe(404);
    const forbidden = await get(learner('9'), scopedOther);
    expect(forbidden.status).toBe(403);
  });

  it("shows a statement's credit at the next read, with the figures of the rules, and the course with its roster", async () => {
    const at = new Date(Date.UTC(2026, 10, 22, 10, 0, 0));
    // Moodle's view completion: uncompleted then completed in one batch, same second
    const res = await post([
      completionStatement({ id: uuidOf(1), sub: '4', cmid: 1, course: 2, kind: 'uncompleted', at }),
      completionStatement({ id: uuidOf(2), sub: '4', cmid: 1, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(3), sub: '4', cmid: 2, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(4), sub: '4', cmid: 3, course: 2, kind: 'completed', at }),
      completionStatement({ id: uuidOf(5), sub: '5', cmid: 3, course: 2, kind: 'completed', at }),
    ]);
    expect(res.status).toBe(200);
    const db = server.ctx.store.db;
    const platform = await ensurePlatform(db, MOODLE);
    const user = await ensureUser(db, platform.id, '4');
    await grantManualCredit(db, coverageDeps(server.ctx, db), {
      platformId: platform.id,
      userId: user.id,
      referentialId: socle28.id,
      competencyKey: '5.1',
      minutes: 120,
      justification: 'Séance en présentiel du 12/11',
      actor: 'test',
    });

    const answer = await get(learner('4'));
    expect(answer.status).toBe(200);
    const body = learnerCoverage.parse(await answer.json());
    // the rules on the same facts: 4 h + 3 h on domain 2 (capped at 5 h), 1.5 h on domain 1, 2 h manual on domain 5
    const expected = computeCoverage(
      compileRules(socle28, [
        { courseId: 1, activityId: 'a1', competencyKey: '2.1', minutes: 240 },
        { courseId: 1, activityId: 'a2', competencyKey: '2.2', minutes: 180 },
        { courseId: 1, activityId: 'a3', competencyKey: '1.1', minutes: 90 },
      ]),
      ['a1', 'a2', 'a3'].map((activityId, i) => ({ activityId, courseId: 1, kind: 'completed' as const, success: null, durationSeconds: null, timestamp: 0, sequence: i, voided: false })),
      [{ id: 1, competencyKey: '5.1', minutes: 120, justification: 'x', revoked: false }],
    );
    expect(body.referential).toMatchObject({ id: socle28.id, version: socle28.version });
    expect(body.requiredHours).toBe(28);
    expect(body.validatedHours).toBe(expected.validatedMinutes / 60);
    expect(body.validatedHours).toBe(8.5);
    expect(body.creditedHours).toBe(10.5);
    expect(body.status).toBe('in_progress');
    expect(body.domains.map((d) => [d.code, d.requiredHours, d.creditedHours, d.validatedHours])).toEqual(
      expected.domains.map((d) => [d.code, (d.requiredMinutes ?? 0) / 60, d.creditedMinutes / 60, d.validatedMinutes / 60]),
    );
    const c21 = body.domains[1]?.competencies.find((c) => c.key === '2.1');
    expect(c21?.credits).toEqual([
      { source: 'activity', activity: { id: pageIri(1), name: 'Page 1', context: '2' }, completedAt: at.toISOString(), hours: 4 },
    ]);
    const c51 = body.domains[4]?.competencies.find((c) => c.key === '5.1');
    expect(c51?.credits).toEqual([{ source: 'manual', manualCreditId: expect.any(Number), hours: 2, justification: 'Séance en présentiel du 12/11' }]);
    expect(body.manualCredits).toEqual([expect.objectContaining({ competencyKey: '5.1', hours: 2, revoked: false })]);

    // the course: the two learners with events, and the roster's learner who did nothing yet, from the stored coverage
    const course = courseCoverage.parse(await (await get(`platform=${encodeURIComponent(MOODLE)}&context=2`)).json());
    expect(course.referential.id).toBe(socle28.id);
    expect(course.learners.map((l) => [l.user.sub, l.status, l.validatedHours])).toEqual(
      expect.arrayContaining([
        ['4', 'in_progress', 8.5],
        ['5', 'in_progress', 1.5],
        ['9', 'not_started', 0],
      ]),
    );
    expect(course.learners).toHaveLength(3);
    expect(course.next).toBeNull();
    const page1 = (await (await get(`platform=${encodeURIComponent(MOODLE)}&context=2&limit=2`)).json()) as { learners: unknown[]; next: string };
    expect(page1.learners).toHaveLength(2);
    const page2 = (await (await get(`platform=${encodeURIComponent(MOODLE)}&context=2&limit=2&after=${page1.next}`)).json()) as { learners: unknown[]; next: null };
    expect(page2.learners).toHaveLength(1);
    expect(page2.next).toBeNull();

    // a learner who has nothing for this référentiel yet: an empty coverage
    const nothing = learnerCoverage.parse(await (await get(learner('9'))).json());
    expect(nothing).toMatchObject({ status: 'not_started', validatedHours: 0 });
    expect(nothing.domains).toHaveLength(5);
  });

  it('serves its OpenAPI 3.1 document', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/coverage', '/api/v1/credentials']));
  });
});
