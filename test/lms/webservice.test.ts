import nock from 'nock';
import contents from '../fixtures/moodle-4.3/ws-core_course_get_contents.json';
import { fetchCourseActivities } from '../../src/lms/webservice';

const wwwroot = 'http://127.0.0.1:8181';

describe('Moodle web service client', () => {
  afterEach(() => nock.cleanAll());

  it('lists the 11 activities of the captured course with section, type and completion', async () => {
    const scope = nock(wwwroot)
      .post('/webservice/rest/server.php', (body) => body.wsfunction === 'core_course_get_contents' && body.courseid === '2' && body.wstoken === 't0k')
      .reply(200, contents);
    const activities = await fetchCourseActivities({ wwwroot: `${wwwroot}/`, token: 't0k' }, '2');
    scope.done();
    expect(activities).toHaveLength(11);
    expect(activities.map((a) => a.cmid)).toEqual([1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13]);
    expect(activities.find((a) => a.cmid === 9)).toEqual({
      iri: `${wwwroot}/mod/quiz/view.php?id=9`,
      cmid: 9,
      name: expect.stringContaining('Quiz 1'),
      modname: 'quiz',
      sectionNumber: 2,
      sectionName: 'Week 2: Practice',
      completion: 'automatic',
      visible: true,
    });
    expect(activities.find((a) => a.cmid === 11)?.completion).toBe('manual');
    expect(activities.find((a) => a.cmid === 1)?.completion).toBe('none');
  });

  it('reports Moodle exceptions, HTTP errors, outages and unexpected shapes as platform errors', async () => {
    nock(wwwroot)
      .post('/webservice/rest/server.php')
      .reply(200, { exception: 'moodle_exception', errorcode: 'invalidtoken', message: 'Invalid token - token not found' });
    await expect(fetchCourseActivities({ wwwroot, token: 'bad' }, '2')).rejects.toThrow('Moodle refused core_course_get_contents: Invalid token');
    nock(wwwroot).post('/webservice/rest/server.php').reply(503, 'down');
    await expect(fetchCourseActivities({ wwwroot, token: 't' }, '2')).rejects.toThrow('HTTP 503');
    nock(wwwroot).post('/webservice/rest/server.php').reply(200, [{ id: 1, name: 'x', section: 0, modules: [{ id: 'one' }] }]);
    await expect(fetchCourseActivities({ wwwroot, token: 't' }, '2')).rejects.toThrow(/unexpected core_course_get_contents answer at 0\.modules\.0/);
    nock(wwwroot).post('/webservice/rest/server.php').replyWithError('ECONNREFUSED');
    await expect(fetchCourseActivities({ wwwroot, token: 't' }, '2')).rejects.toMatchObject({ code: 'platform_error' });
    await expect(fetchCourseActivities({ wwwroot, token: 't' }, 'abc')).rejects.toThrow('not a Moodle course id');
  });
});
