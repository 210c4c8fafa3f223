import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { courses, platforms, users } from './identity';

/** Basic credentials a platform's xAPI emitter (Moodle's logstore_xapi) uses; the secret is kept as a SHA-256 hash. */
export const xapiKeys = pgTable('xapi_keys', {
  id: serial('id').primaryKey(),
  platformId: integer('platform_id')
    .notNull()
    .references(() => platforms.id, { onDelete: 'cascade' }),
  key: text('key').notNull().unique(),
  secretHash: text('secret_hash').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

/**
 * Every statement accepted by the inbound endpoint, as stored (id assigned, `stored`, `authority`).
 * `seq` is the arrival order (paging cursor); `content_hash` compares a re-sent statement with the stored one.
 */
export const xapiStatements = pgTable(
  'xapi_statements',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    id: uuid('id').notNull().unique(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    verb: text('verb').notNull(),
    objectId: text('object_id').notNull(),
    stored: timestamp('stored', { withTimezone: true }).notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
    voided: boolean('voided').notNull().default(false),
    contentHash: text('content_hash').notNull(),
    statement: jsonb('statement').notNull(),
  },
  (t) => [
    index('xapi_statements_platform_seq_idx').on(t.platformId, t.seq),
    index('xapi_statements_object_idx').on(t.objectId),
  ],
);

/**
 * Completion-relevant events, all of them (not only the latest): the coverage engine derives the state of a
 * (learner, activity) pair from the latest non-voided event by statement timestamp, then arrival id, then position.
 */
export const completionEvents = pgTable(
  'completion_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    statementId: uuid('statement_id').notNull().unique(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    courseId: integer('course_id').references(() => courses.id, { onDelete: 'set null' }),
    activityIri: text('activity_iri').notNull(),
    kind: text('kind', { enum: ['completed', 'uncompleted'] }).notNull(),
    success: boolean('success'),
    durationSeconds: integer('duration_seconds'),
    statementTimestamp: timestamp('statement_timestamp', { withTimezone: true }).notNull(),
    position: smallint('position').notNull(),
    voided: boolean('voided').notNull().default(false),
  },
  (t) => [
    index('completion_events_user_activity_idx').on(t.userId, t.activityIri),
    // a course's learners in user-id order (keyset pages of the course view) and its events by course
    index('completion_events_course_user_idx').on(t.courseId, t.userId),
  ],
);

/** Activities seen in statements (completion or not), per platform, so teachers can map them to competencies. */
export const xapiActivities = pgTable(
  'xapi_activities',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    courseId: integer('course_id').references(() => courses.id, { onDelete: 'set null' }),
    activityIri: text('activity_iri').notNull(),
    name: text('name'),
    /** Moodle module name (`page`, `quiz`…) when the IRI is `…/mod/<mod>/view.php`, else the xAPI activity type. */
    moduleType: text('module_type'),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('xapi_activities_platform_iri_idx').on(t.platformId, t.activityIri),
    index('xapi_activities_course_idx').on(t.courseId),
  ],
);

/**
 * Statements waiting for (or done with) delivery to the institution's LRS. Written in the transaction of the change
 * that causes them; `statement.id` is fixed before the first attempt so a retry cannot duplicate.
 * `next_attempt_at` doubles as the lease of a worker that claimed the row.
 */
export const xapiOutbox = pgTable(
  'xapi_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    statementId: uuid('statement_id').notNull().unique(),
    /** What is sent; null for a statement Socle received: the one stored under `statement_id`, enriched at delivery. */
    statement: jsonb('statement'),
    status: text('status', { enum: ['pending', 'delivered', 'dead'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    index('xapi_outbox_pending_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`status = 'pending'`),
  ],
);
