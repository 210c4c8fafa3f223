import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { courses, platforms } from './identity';

/**
 * A programme (formation) of a platform: the référentiel version its learners must complete, the intake year and
 * the due date (by default the end of the third academic year, 31 August of intake + 3). Its courses are
 * `programme_courses`; a learner belongs to it through them (roster or events). `category` is the platform's
 * course category it stands for, when the administrator names one (informative).
 */
export const programmes = pgTable(
  'programmes',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    intakeYear: integer('intake_year').notNull(),
    /** YYYY-MM-DD. */
    dueDate: text('due_date').notNull(),
    category: text('category'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('programmes_platform_name_idx').on(t.platformId, t.name),
    index('programmes_platform_referential_idx').on(t.platformId, t.referentialId, t.referentialVersion),
    check('programmes_due_date_check', sql`${t.dueDate} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`),
  ],
);

/** The courses of a programme (of the programme's platform). */
export const programmeCourses = pgTable(
  'programme_courses',
  {
    programmeId: integer('programme_id')
      .notNull()
      .references(() => programmes.id, { onDelete: 'cascade' }),
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.programmeId, t.courseId] }), index('programme_courses_course_idx').on(t.courseId)],
);
