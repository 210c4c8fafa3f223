import nock from 'nock';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { courseActivities, platformSettings } from '../../src/db/schema';
import { SocleError } from '../../src/domain/errors';
import { ensureCourse, ensurePlatform, type Course } from '../../src/identity/records';
import type { MappableReferential } from '../../src/domain/mapping';
import {
  addManualActivity,
  getMapping,
  listActivities,
  mappingHistory,
  refreshActivities,
  saveMapping,
  translateMapping,
} from '../../src/mapping/service';
import { sealSecret } from '../../src/secrets';
import { testContext } from '../support/app';
import { drivers, openTestStore, type TestStore } from '../support/db';

const wwwroot = 'http://127.0.0.1:8181';
const ltiKey = 'k'.repeat(40);
const referential: MappableReferential = {
  id: 'socle-test',
  version: 'V1',
  domains: [
    { code: '1', title: 'Données', requiredMinutes: 360, competencies: [{ key: '1.1', code: '1.1', title: 'A', requiredMinutes: null }] },
    { code: '2', title: 'Cybersécurité', requiredMinutes: 300, competencies: [{ key: '2.1', code: '2.1', title: 'B', requiredMinutes: null }] },
  ],
};
const quiz = `${wwwroot}/mod/quiz/view.php?id=9`;
const book = `${wwwroot}/mod/book/view.php?id=12`;

describe.each(drivers)('course mapping on %s', (driver) => {
  let t: TestStore;
  let course: Course;
  let platformId: number;
  beforeAll(async () => {
    t = await openTestStore(driver);
    const platform = await ensurePlatform(t.store.db, wwwroot);
    platformId = platform.id;
    course = await ensureCourse(t.store.db, platform.id, '2', 'LTI Test Course');
  });
  afterAll(() => t.destroy());
  afterEach(() => nock.cleanAll());

  it('has nothing to refresh without a web-service token', async () => {
    expect(await refreshActivities(t.store.db, { course, issuer: wwwroot, ltiKey })).toEqual({ refreshed: false });
    expect(await listActivities(t.store.db, course.id)).toEqual([]);
  });

  it('lists the course activities from the web service, merged with statements and manual ones', async () => {
    await t.store.db.insert(platformSettings).values({ platformId, webserviceToken: sealSecret(ltiKey, 'webservice-token', 'ws-token') });
    const scope = nock(wwwroot)
      .post('/webservice/rest/server.php', (b) => b.wstoken === 'ws-token' && b.courseid === '2')
      .reply(200, contents);
    expect(await refreshActivities(t.store.db, { course, issuer: wwwroot, ltiKey })).toEqual({ refreshed: true });
    scope.done();
    const manual = await addManualActivity(t.store.db, { courseId: course.id, name: 'Séance présentielle', publicUrl: 'https://socle.test', actor: 'lti:teacher' });
    const listed = await listActivities(t.store.db, course.id, [
      { iri: quiz, name: 'Quiz 1', modname: 'quiz' },
      { iri: 'https://h5p.example/content/7', name: 'H5P external', modname: null },
    ]);
    expect(listed).toHaveLength(13);
    expect(listed[0]).toMatchObject({ iri: `${wwwroot}/mod/forum/view.php?id=1`, sources: ['webservice'], sectionNumber: 0 });
    expect(listed.find((a) => a.iri === quiz)?.sources).toEqual(['webservice', 'statement']);
    expect(listed[11]).toMatchObject({ iri: 'https://h5p.example/content/7', sources: ['statement'] });
    expect(listed[12]).toMatchObject({ iri: manual.iri, name: 'Séance présentielle', sources: ['manual'] });
    expect(manual.iri).toMatch(/^https:\/\/socle\.test\/activities\/[0-9a-f-]{36}$/);
  });

  it('keeps known activities and reports a warning when the web service fails', async () => {
    nock(wwwroot).post('/webservice/rest/server.php').reply(200, { exception: 'x', errorcode: 'invalidtoken', message: 'Invalid token' });
    const result = await refreshActivities(t.store.db, { course, issuer: wwwroot, ltiKey });
    expect(result).toEqual({ refreshed: false, warning: 'Moodle refused core_course_get_contents: Invalid token' });
    expect((await listActivities(t.store.db, course.id)).length).toBe(12);
  });

  it('marks activities Moodle no longer lists as gone, keeping them', async () => {
    const fewer = contents.map((s) => ({ ...s, modules: s.modules.filter((m) => m.id !== 12) }));
    nock(wwwroot).post('/webservice/rest/server.php').reply(200, fewer);
    await refreshActivities(t.store.db, { course, issuer: wwwroot, ltiKey });
    const listed = await listActivities(t.store.db, course.id);
    expect(listed.find((a) => a.iri === book)?.gone).toBe(true);
    expect(listed.find((a) => a.iri === quiz)?.gone).toBe(false);
  });

  it('saves a valid mapping, refuses an invalid one whole, and keeps the history', async () => {
    const activities = new Set((await listActivities(t.store.db, course.id)).map((a) => a.iri));
    const saved = await saveMapping(t.store.db, testContext(t.store), {
      courseId: course.id,
      referential,
      activityIris: activities,
      entries: [
        { activityIri: quiz, competencyKey: '1.1', minutes: 60 },
        { activityIri: quiz, competencyKey: '2.1', minutes: 30 },
        { activityIri: book, competencyKey: '2.1', minutes: 90 },
      ],
      actor: 'lti:teacher',
    });
    expect(saved.summary).toEqual([
      { code: '1', title: 'Données', mappedMinutes: 60, requiredMinutes: 360 },
      { code: '2', title: 'Cybersécurité', mappedMinutes: 120, requiredMinutes: 300 },
    ]);
    expect(saved.changedActivities.sort()).toEqual([book, quiz].sort());

    const attempt = saveMapping(t.store.db, testContext(t.store), {
      courseId: course.id,
      referential,
      activityIris: activities,
      entries: [
        { activityIri: quiz, competencyKey: '1.1', minutes: -60 },
        { activityIri: 'http://other/mod/page/view.php?id=3', competencyKey: '9.9', minutes: 60 },
      ],
      actor: 'lti:teacher',
    });
    await expect(attempt).rejects.toBeInstanceOf(SocleError);
    await expect(attempt).rejects.toMatchObject({
      code: 'invalid_request',
      details: [
        { path: 'entries[0].hours', message: 'hours must be greater than 0' },
        { path: 'entries[1].activityIri', message: expect.stringContaining('not an activity of this course') },
        { path: 'entries[1].competencyKey', message: 'no competency 9.9 in socle-test V1' },
      ],
    });
    expect(await getMapping(t.store.db, course.id, referential)).toHaveLength(3);

    const second = await saveMapping(t.store.db, testContext(t.store), {
      courseId: course.id,
      referential,
      activityIris: activities,
      entries: [
        { activityIri: quiz, competencyKey: '1.1', minutes: 60 },
        { activityIri: quiz, competencyKey: '2.1', minutes: 30 },
      ],
      actor: 'lti:teacher2',
    });
    expect(second.changedActivities).toEqual([book]);
    const history = await mappingHistory(t.store.db, course.id);
    expect(history[0]).toMatchObject({ actor: 'lti:teacher2', action: 'mapping.save' });
    expect((history[0]?.before as { entries: unknown[] }).entries).toHaveLength(3);
    expect((history[0]?.after as { entries: unknown[] }).entries).toHaveLength(2);
  });

  it('translates another course mapping by activity type and name, never guessing', async () => {
    const rows = await t.store.db.select().from(courseActivities);
    expect(rows.length).toBeGreaterThan(0);
    const source = await listActivities(t.store.db, course.id);
    const target = source.map((a) => ({ ...a, iri: a.iri.replace('id=', 'id=10') }));
    target.push({ ...target.find((a) => a.modname === 'book')!, iri: 'dup' }); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    const result = translateMapping(
      { entries: [{ activityIri: quiz, competencyKey: '1.1', minutes: 60 }, { activityIri: book, competencyKey: '2.1', minutes: 30 }], activities: source },
      target,
    );
    expect(result.entries).toEqual([{ activityIri: `${wwwroot}/mod/quiz/view.php?id=109`, competencyKey: '1.1', minutes: 60 }]);
    expect(result.unmatched).toEqual([{ activityIri: book, name: 'Handbook' }]);
  });
});
