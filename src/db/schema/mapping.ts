import { boolean, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { courses, platforms } from './identity';

/**
 * Activities of a course that Socle knows from Moodle's web services or that a teacher added by hand
 * (face-to-face session, external module). Activities seen only in statements are kept by the xAPI bridge;
 * the mapping screen merges both by IRI.
 */
export const courseActivities = pgTable(
  'course_activities',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    iri: text('iri').notNull(),
    name: text('name').notNull(),
    modname: text('modname'),
    sectionNumber: integer('section_number'),
    sectionName: text('section_name'),
    completion: text('completion', { enum: ['none', 'manual', 'automatic'] }),
    source: text('source', { enum: ['webservice', 'manual'] }).notNull(),
    position: integer('position').notNull().default(0),
    /** Set when a web-service refresh no longer lists it (kept: past completions may still credit). */
    goneAt: timestamp('gone_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.iri] })],
);

/** The course's mapping: each (activity, competency) pair with the minutes it credits, for one référentiel version. */
export const activityMappings = pgTable(
  'activity_mappings',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    activityIri: text('activity_iri').notNull(),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    competencyKey: text('competency_key').notNull(),
    minutes: integer('minutes').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.courseId, t.activityIri, t.competencyKey] }),
    index('activity_mappings_activity_idx').on(t.activityIri),
  ],
);

/** How completions credit hours: per platform (default) and per course (override; null = platform's). */
export const platformSettings = pgTable('platform_settings', {
  platformId: integer('platform_id')
    .primaryKey()
    .references(() => platforms.id, { onDelete: 'cascade' }),
  defaultReferentialId: text('default_referential_id'),
  defaultReferentialVersion: text('default_referential_version'),
  requireSuccess: boolean('require_success').notNull().default(false),
  capToMeasuredDuration: boolean('cap_to_measured_duration').notNull().default(false),
  /** Moodle web-service token, sealed with LTI_KEY (never stored in clear). */
  webserviceToken: text('webservice_token'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const courseSettings = pgTable('course_settings', {
  courseId: integer('course_id')
    .primaryKey()
    .references(() => courses.id, { onDelete: 'cascade' }),
  requireSuccess: boolean('require_success'),
  capToMeasuredDuration: boolean('cap_to_measured_duration'),
  activitiesRefreshedAt: timestamp('activities_refreshed_at', { withTimezone: true }),
  activitiesRefreshError: text('activities_refresh_error'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
