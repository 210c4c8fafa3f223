/**
 * The rules on the completion sequence student1 really produced in Moodle 4.3 (test/fixtures/moodle-4.3,
 * logstore_xapi batches 01–34 in order). The statement → event reading here is the minimum the test needs
 * (verb, object, course parent, timestamp, position in batch); the xAPI bridge owns the real one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileRules, computeCoverage, type CompletionEvent } from '../../src/domain/coverage';
import { applyChange, emptyLearnerState } from '../../src/domain/coverage-incremental';
import { socle28 } from './coverage-fixtures';

const dir = path.join(__dirname, '..', 'fixtures', 'moodle-4.3');
const WWW = 'http://127.0.0.1:8181';
const UNCOMPLETED = 'https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted';
const COMPLETED = 'http://adlnet.gov/expapi/verbs/completed';

interface Statement {
  actor: { account?: { name: string } };
  verb: { id: string };
  object: { id: string };
  timestamp: string;
  result?: { success?: boolean; duration?: string };
  context?: { contextActivities?: { parent?: { id: string }[] } };
}

function student1Events(): { batch: string; events: CompletionEvent[] }[] {
  const files = fs.readdirSync(dir).filter((f) => /^logstore-xapi-batch-\d+-.*\.json$/.test(f)).sort();
  return files.map((file) => {
    const statements = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Statement[];
    const events = statements.flatMap((s, sequence): CompletionEvent[] => {
      const kind = s.verb.id === COMPLETED ? 'completed' : s.verb.id === UNCOMPLETED ? 'uncompleted' : null;
      const course = s.context?.contextActivities?.parent?.map((p) => /\/course\/view\.php\?id=(\d+)$/.exec(p.id)).find(Boolean);
      if (kind === null || !course || !s.object.id.includes('/mod/') || !s.object.id.includes('view.php')) return [];
      if (s.actor.account?.name !== '4') return []; // student1 (Moodle user id 4)
      return [{ activityId: s.object.id, courseId: Number(course[1]), kind, success: s.result?.success ?? null, durationSeconds: null, timestamp: Date.parse(s.timestamp), sequence, voided: false }];
    });
    return { batch: file, events };
  });
}

describe('coverage rules on the captured Moodle 4.3 completions', () => {
  const batches = student1Events();
  const all = batches.flatMap((b) => b.events);
  const mappings = [
    { courseId: 2, activityId: `${WWW}/mod/page/view.php?id=4`, competencyKey: '1.1', minutes: 60 },
    { courseId: 2, activityId: `${WWW}/mod/book/view.php?id=12`, competencyKey: '2.1', minutes: 90 },
    { courseId: 2, activityId: `${WWW}/mod/quiz/view.php?id=9`, competencyKey: '4.4', minutes: 45 },
  ];
  const rules = compileRules(socle28, mappings);

  test('the fixtures hold view completions (uncompleted then completed in one batch) and the book un-completed', () => {
    expect(all.length).toBeGreaterThan(5);
    const page = batches.find((b) => b.batch.includes('batch-05'))?.events ?? [];
    expect(page.map((e) => [e.kind, e.sequence])).toEqual([['uncompleted', 1], ['completed', 2]]);
    expect(page[0]?.timestamp).toBe(page[1]?.timestamp);
    const book = all.filter((e) => e.activityId === `${WWW}/mod/book/view.php?id=12`);
    expect(book.map((e) => e.kind)).toEqual(['completed', 'uncompleted']);
  });

  test('the page and the quiz credit; the book, completed then un-completed, does not', () => {
    const c = computeCoverage(rules, all);
    const byKey = new Map(c.domains.flatMap((d) => d.competencies.map((k) => [k.key, k.creditedMinutes] as const)));
    expect(byKey.get('1.1')).toBe(60);
    expect(byKey.get('4.4')).toBe(45);
    expect(byKey.get('2.1')).toBe(0);
    expect(c.validatedMinutes).toBe(105);
  });

  test('batch by batch, incrementally, the book credits until its un-completion; any batch order gives the same end', () => {
    let state = emptyLearnerState;
    const history: number[] = [];
    for (const { events } of batches) {
      for (const event of events) state = applyChange(rules, state, { type: 'event', event }).state;
      history.push(computeCoverage(rules, Object.values(state.activities).map((a) => a.latest)).validatedMinutes);
    }
    expect(Math.max(...history)).toBe(195);
    expect(history[history.length - 1]).toBe(105);
    let reversed = emptyLearnerState;
    for (const { events } of [...batches].reverse()) for (const event of events) reversed = applyChange(rules, reversed, { type: 'event', event }).state;
    expect(computeCoverage(rules, Object.values(reversed.activities).map((a) => a.latest))).toEqual(computeCoverage(rules, all));
  });
});
