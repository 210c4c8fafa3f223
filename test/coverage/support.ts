import { sql } from 'drizzle-orm';
import { type Executor, queryRows } from '../../src/db/store';
import { memoised, type ReferentialSource } from '../../src/coverage/referentials';
import type { ReferentialVersion } from '../../src/domain/coverage';
import { arm18, socle28 } from '../domain/coverage-fixtures';
import { MOODLE } from '../xapi/support';

/**
 * The fixture catalogue, for a context's `referentials`: the 28 h référentiel (6/5/5/6/6 h) and the ARM 18 h one;
 * no version = the only one.
 */
export function fixtureReferentials(list: ReferentialVersion[] = [socle28, arm18]): ReferentialSource {
  return () => memoised(async (id, version) => list.find((r) => r.id === id && (version === undefined || r.version === version)));
}

export const pageIri = (cmid: number) => `${MOODLE}/mod/page/view.php?id=${cmid}`;

/** A logstore_xapi-shaped completion (or un-completion) of page `cmid` in Moodle course `course` by learner `sub`. */
export function completionStatement(input: {
  id: string;
  sub: string;
  cmid: number;
  course: number;
  kind: 'completed' | 'uncompleted';
  success?: boolean | null;
  durationSeconds?: number;
  at: Date;
}): Record<string, unknown> {
  const result: Record<string, unknown> = { completion: input.kind === 'completed' };
  if (input.success !== undefined && input.success !== null) result.success = input.success;
  if (input.durationSeconds !== undefined) result.duration = `PT${input.durationSeconds}S`;
  return {
    id: input.id,
    actor: { objectType: 'Agent', account: { homePage: MOODLE, name: input.sub } },
    verb: { id: input.kind === 'completed' ? 'http://adlnet.gov/expapi/verbs/completed' : 'https://xapi.edlm/profiles/edlm-lms/concepts/verbs/uncompleted' },
    object: {
      objectType: 'Activity',
      id: pageIri(input.cmid),
      definition: { type: 'https://w3id.org/xapi/acrossx/activities/page', name: { en: `Page ${input.cmid}` } },
    },
    ...(input.kind === 'completed' ? { result } : {}),
    context: {
      contextActivities: {
        parent: [{ objectType: 'Activity', id: `${MOODLE}/course/view.php?id=${input.course}`, definition: { type: 'https://w3id.org/xapi/cmi5/activitytype/course', name: { en: `Course ${input.course}` } } }],
      },
    },
    timestamp: input.at.toISOString(),
  };
}

export function voidingStatement(id: string, sub: string, target: string): Record<string, unknown> {
  return {
    id,
    actor: { objectType: 'Agent', account: { homePage: MOODLE, name: sub } },
    verb: { id: 'http://adlnet.gov/expapi/verbs/voided' },
    object: { objectType: 'StatementRef', id: target },
  };
}

/** The stored coverage, comparable (without computed_at). */
export async function storedCoverage(ex: Executor) {
  return queryRows<Record<string, unknown>>(
    ex,
    sql`SELECT u.sub, lc.referential_id, lc.referential_version, lc.required_minutes, lc.credited_minutes, lc.validated_minutes,
               lc.covered_competencies, lc.total_competencies, lc.status, lc.domains
        FROM learner_coverage lc JOIN users u ON u.id = lc.user_id ORDER BY u.sub, lc.referential_id, lc.referential_version`,
  );
}

/** A deterministic UUID (v4 layout) from a number, for statement ids. */
export function uuidOf(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}
