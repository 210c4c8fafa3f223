import fs from 'node:fs';
import path from 'node:path';
import type { Platform } from '../../src/identity/records';
import { prepareStatements } from '../../src/xapi/ingest';
import { durationSeconds, sourceFor, statementFacts } from '../../src/xapi/sources';
import { MOODLE, moodleBatches, type Statement } from './support';

/**
 * Golden files: the facts Socle reads from every captured logstore_xapi statement, one file per batch under
 * test/fixtures/golden/xapi-sources/. `UPDATE_GOLDEN=1 npm run jest -- test/xapi/sources.test.ts` rewrites them;
 * read the diff before committing it.
 */
const GOLDEN = path.join(__dirname, '..', 'fixtures', 'golden', 'xapi-sources');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const platform: Platform = { id: 1, issuer: MOODLE, name: 'Moodle LTI Test', createdAt: new Date(0) };
const authority = { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } };
const now = new Date('2026-11-22T17:00:00.000Z');

const eventName = (s: Statement) =>
  (((s.context as Statement | undefined)?.extensions as Statement | undefined)?.['http://lrs.learninglocker.net/define/extensions/info'] as Statement | undefined)
    ?.event_name ?? null;

/** What the prepare step read from each statement of a batch, with the source the registry chose. */
function readBatch(body: Statement[]) {
  return prepareStatements(body, platform, authority, now).map((p) => {
    const statement = body[p.index] as Statement;
    return {
      event: eventName(statement),
      verb: p.verb,
      object: p.objectId,
      source: sourceFor(statement, platform).name,
      activity: p.activity ?? null,
      course: p.course ?? null,
      completion: p.completion ?? null,
    };
  });
}

describe('statement sources on the captured Moodle 4.3 logstore_xapi batches (golden files)', () => {
  const batches = moodleBatches();
  const goldenName = (file: string) => file.replace(/^logstore-xapi-/, '');

  it.each(batches.map((b) => [b.file, b.body] as const))('%s', (file, body) => {
    const actual = { batch: file, statements: readBatch(body) };
    const target = path.join(GOLDEN, goldenName(file));
    if (UPDATE) {
      fs.mkdirSync(GOLDEN, { recursive: true });
      fs.writeFileSync(target, `${JSON.stringify(actual, null, 2)}\n`);
    }
    expect(actual).toEqual(JSON.parse(fs.readFileSync(target, 'utf8')));
  });

  it('the prepare step keeps the facts the registry reads, and every golden file has its batch', () => {
    for (const { body } of batches) {
      const prepared = prepareStatements(body, platform, authority, now);
      for (const p of prepared) {
        const { source: _source, ...facts } = statementFacts(body[p.index] as Statement, platform);
        expect({ activity: p.activity, course: p.course, completion: p.completion }).toEqual(facts);
      }
    }
    expect(fs.readdirSync(GOLDEN).sort()).toEqual(batches.map((b) => goldenName(b.file)).sort());
  });
});

describe('statement sources on other activity providers', () => {
  const actor = { objectType: 'Agent', account: { homePage: MOODLE, name: '4' } };
  const cmi5Course = {
    objectType: 'Activity',
    id: 'https://lms.example.org/cmi5/course/7',
    definition: { type: 'https://w3id.org/xapi/cmi5/activitytype/course', name: { 'en-US': 'Hygiène des mains' } },
  };
  const read = (statement: Statement) => {
    const [prepared] = prepareStatements([statement], platform, authority, now);
    return { source: sourceFor(statement, platform).name, activity: prepared?.activity, course: prepared?.course, completion: prepared?.completion };
  };

  it('an H5P-like content completed: mappable by its IRI, no module, success and duration kept, no course', () => {
    expect(
      read({
        actor,
        verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
        object: {
          objectType: 'Activity',
          id: 'https://h5p.example.org/h5p/embed/42',
          definition: { name: { 'en-US': 'Interactive video' }, extensions: { 'http://h5p.org/x-api/h5p-local-content-id': 42 } },
        },
        result: { completion: true, success: true, duration: 'PT1M30.4S', score: { scaled: 0.8 } },
        timestamp: '2026-11-22T10:00:00.000Z',
      }),
    ).toEqual({
      source: 'generic',
      activity: { iri: 'https://h5p.example.org/h5p/embed/42', name: 'Interactive video', moduleType: null },
      course: undefined,
      completion: { kind: 'completed', success: true, durationSeconds: 90 },
    });
  });

  it('a cmi5 AU passed: its activity type, the course of the grouping by its IRI, success true when not told', () => {
    expect(
      read({
        actor,
        verb: { id: 'http://adlnet.gov/expapi/verbs/passed' },
        object: {
          objectType: 'Activity',
          id: 'https://lms.example.org/cmi5/au/7-1',
          definition: { type: 'http://adlnet.gov/expapi/activities/lesson', name: { 'en-US': 'Module 1', fr: 'Module 1 : les gestes' } },
        },
        result: { score: { scaled: 0.9 }, duration: 'PT20M' },
        context: {
          registration: '6fbd4b5f-3f29-4a47-9fb8-0f5e0e6a4a21',
          contextActivities: {
            grouping: [cmi5Course],
            category: [{ id: 'https://w3id.org/xapi/cmi5/context/categories/moveon' }],
          },
        },
        timestamp: '2026-11-22T10:00:00.000Z',
      }),
    ).toEqual({
      source: 'generic',
      activity: { iri: 'https://lms.example.org/cmi5/au/7-1', name: 'Module 1 : les gestes', moduleType: 'http://adlnet.gov/expapi/activities/lesson' },
      course: { contextId: 'https://lms.example.org/cmi5/course/7', title: 'Hygiène des mains' },
      completion: { kind: 'completed', success: true, durationSeconds: 1200 },
    });
  });

  it('an attempt or a question is not mappable; the completion of an attempt is still a fact, a question answered is none', () => {
    const attempt = read({
      actor,
      verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
      object: { objectType: 'Activity', id: 'https://quiz.example.org/attempt/9', definition: { type: 'http://adlnet.gov/expapi/activities/attempt' } },
      result: { completion: false },
      context: { contextActivities: { parent: [cmi5Course] } },
      timestamp: '2026-11-22T10:00:00.000Z',
    });
    expect(attempt).toEqual({
      source: 'generic',
      activity: undefined,
      course: { contextId: 'https://lms.example.org/cmi5/course/7', title: 'Hygiène des mains' },
      completion: { kind: 'uncompleted', success: null, durationSeconds: null },
    });
    const question = read({
      actor,
      verb: { id: 'http://adlnet.gov/expapi/verbs/answered' },
      object: { objectType: 'Activity', id: 'https://quiz.example.org/question/3', definition: { type: 'http://adlnet.gov/expapi/activities/question' } },
      result: { success: true, response: 'true' },
      context: { contextActivities: { parent: [cmi5Course] } },
      timestamp: '2026-11-22T10:00:00.000Z',
    });
    expect(question).toEqual({ source: 'generic', activity: undefined, course: undefined, completion: undefined });
  });

  it('an outside activity in a Moodle course: read by the Moodle source, the activity as any xAPI one, the course as its Moodle id', () => {
    expect(
      read({
        actor,
        verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
        object: { objectType: 'Activity', id: 'https://h5p.example.org/h5p/embed/42', definition: { type: 'http://adlnet.gov/expapi/activities/module' } },
        context: {
          contextActivities: {
            parent: [{ id: `${MOODLE}/course/view.php?id=2`, definition: { type: 'http://adlnet.gov/expapi/activities/course', name: { en: 'LTI Test Course' } } }],
          },
        },
        timestamp: '2026-11-22T10:00:00.000Z',
      }),
    ).toEqual({
      source: 'moodle-logstore',
      activity: { iri: 'https://h5p.example.org/h5p/embed/42', name: null, moduleType: 'http://adlnet.gov/expapi/activities/module' },
      course: { contextId: '2', title: 'LTI Test Course' },
      completion: { kind: 'completed', success: null, durationSeconds: null },
    });
  });

  it('a statement about an Agent or another statement carries no fact', () => {
    const statement = {
      actor,
      verb: { id: 'http://adlnet.gov/expapi/verbs/completed' },
      object: { objectType: 'StatementRef', id: '6fbd4b5f-3f29-4a47-9fb8-0f5e0e6a4a21' },
      timestamp: '2026-11-22T10:00:00.000Z',
    };
    expect(read(statement)).toEqual({ source: 'generic', activity: undefined, course: undefined, completion: undefined });
  });
});

describe('durationSeconds', () => {
  it.each([
    ['PT1H2M3.5S', 3724],
    ['P1DT2H', 93600],
    ['PT0S', 0],
    ['P1W', 604800],
    ['1H', null],
    ['PT1.5', null],
    [90, null],
    [undefined, null],
  ])('%p → %p', (value, seconds) => {
    expect(durationSeconds(value)).toBe(seconds);
  });
});
