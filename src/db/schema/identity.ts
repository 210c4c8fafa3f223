import { sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * Who and where, shared by every module. A platform is one LMS (a Moodle site) identified by its LTI issuer,
 * which is also the `account.homePage` of its xAPI actors. Nothing here holds a secret.
 */
export const platforms = pgTable('platforms', {
  id: serial('id').primaryKey(),
  issuer: text('issuer').notNull().unique(),
  name: text('name'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A person of a platform, identified by (platform, LTI `sub` = xAPI `account.name`). Name, email and locale are
 * kept only when the platform sends them, for display (GDPR: minimal data).
 */
export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    sub: text('sub').notNull(),
    name: text('name'),
    email: text('email'),
    locale: text('locale'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('users_platform_sub_idx').on(t.platformId, t.sub)],
);

/** A course of a platform: LTI context id = Moodle course id. It contributes to one référentiel version. */
export const courses = pgTable(
  'courses',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    contextId: text('context_id').notNull(),
    title: text('title'),
    referentialId: text('referential_id'),
    referentialVersion: text('referential_version'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('courses_platform_context_idx').on(t.platformId, t.contextId)],
);

/** The course roster (from Names and Roles, launches and statements), so reports include learners who did nothing yet. */
export const courseMembers = pgTable(
  'course_members',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    status: text('status', { enum: ['active', 'inactive', 'deleted'] })
      .notNull()
      .default('active'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // a learner's courses (their next step in "Ma progression") by user, as the key reads a course's members
  (t) => [primaryKey({ columns: [t.courseId, t.userId] }), index('course_members_user_idx').on(t.userId)],
);
