import { sql } from 'drizzle-orm';
import { type Executor, queryRows } from '../db/store';

/**
 * Coverage hook: these learners' stored coverage changed. Queues a score publication for each course of theirs
 * (membership or events) whose gradebook line item is known. In the caller's transaction; cheap (one statement).
 */
export async function queueScorePublications(ex: Executor, userIds: readonly number[]): Promise<number> {
  if (userIds.length === 0) return 0;
  const ids = sql`string_to_array(${userIds.join(',')}, ',')::int[]`;
  const rows = await queryRows<{ course_id: number }>(
    ex,
    sql`INSERT INTO score_publications (course_id, user_id)
        SELECT DISTINCT x.course_id, x.user_id FROM (
          SELECT course_id, user_id FROM course_members WHERE user_id = ANY(${ids}) AND status <> 'deleted'
          UNION SELECT course_id, user_id FROM completion_events WHERE user_id = ANY(${ids})
        ) x JOIN lti_course_services s ON s.course_id = x.course_id AND s.lineitem_url IS NOT NULL
        ON CONFLICT (course_id, user_id) DO UPDATE SET version = score_publications.version + 1, queued_at = now(),
          not_before = now(), attempts = 0, last_error = NULL
        RETURNING course_id`,
  );
  return rows.length;
}
