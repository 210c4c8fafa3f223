import { index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { courses, users } from './identity';

/**
 * Scores waiting to be (re)published to a course's gradebook line item (AGS), queued when a learner's stored
 * coverage changes in a course whose line item is known. Drained by the score worker (src/gradebook/worker.ts):
 * a row is claimed for a lease (`claimed_until`, rows taken with FOR UPDATE SKIP LOCKED so several processes share
 * the queue), deleted once published or skipped, pushed back with a delay after a failure.
 */
export const scorePublications = pgTable(
  'score_publications',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Bumped at each re-queue: a publication only deletes the row it claimed, not a newer request. */
    version: integer('version').notNull().default(1),
    queuedAt: timestamp('queued_at', { withTimezone: true }).notNull().defaultNow(),
    notBefore: timestamp('not_before', { withTimezone: true }).notNull().defaultNow(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.userId] }), index('score_publications_due_idx').on(t.notBefore)],
);
