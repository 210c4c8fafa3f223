import { completionOf } from './completion';
import { generic } from './generic';
import { moodleLogstore } from './moodle-logstore';
import type { ActivityFact, ActivityObject, CompletionFact, CourseFact, ReceivedStatement, SourcePlatform, StatementSource } from './source';

export type { ActivityFact, CompletionFact, CourseFact, StatementSource } from './source';
export { durationSeconds } from './completion';

/** The statement sources, asked in this order; the generic source accepts every statement and stays last. */
export const SOURCES: readonly StatementSource[] = [moodleLogstore, generic];

/** The source that reads a statement: the first that accepts it. */
export function sourceFor(statement: ReceivedStatement, platform: SourcePlatform): StatementSource {
  return SOURCES.find((s) => s.accepts(statement, platform)) ?? generic;
}

/** What Socle reads from a (non-voiding) statement, and the source that read it. */
export interface StatementFacts {
  source: string;
  activity?: ActivityFact;
  course?: CourseFact;
  completion?: CompletionFact;
}

/**
 * The facts of a statement: the mappable activity its object is, the completion its verb carries (both only
 * when the object is an Activity) and, when either is there, its course.
 */
export function statementFacts(statement: ReceivedStatement, platform: SourcePlatform): StatementFacts {
  const source = sourceFor(statement, platform);
  const facts: StatementFacts = { source: source.name };
  const object = statement.object as ActivityObject | undefined;
  if (typeof object?.id !== 'string' || (object.objectType !== undefined && object.objectType !== 'Activity')) return facts;
  const verb = (statement.verb as { id?: unknown } | undefined)?.id;
  const activity = source.activity(object, platform);
  const completion = typeof verb === 'string' ? completionOf(statement, verb) : undefined;
  if (activity) facts.activity = activity;
  if (completion) facts.completion = completion;
  if (activity || completion) {
    const course = source.course(statement, platform);
    if (course) facts.course = course;
  }
  return facts;
}
