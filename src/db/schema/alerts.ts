import { sql } from 'drizzle-orm';
import { boolean, check, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { platforms, users } from './identity';

/**
 * Who wants the weekly alerts, and who does not. A teacher or an administrator gets a row at each launch, with the
 * e-mail address of the launch's `email` claim (the only people whose address is kept for alerts); `manager` when
 * they launched as an administrator of the platform (they receive the digest of every programme of the platform).
 * A learner gets a row only when they turn their reminder off (no address). `opted_out_at` set: no digest, no
 * reminder. Gone with the user (erasure).
 */
export const alertPreferences = pgTable(
  'alert_preferences',
  {
    userId: integer('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    email: text('email'),
    manager: boolean('manager').notNull().default(false),
    optedOutAt: timestamp('opted_out_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('alert_preferences_platform_idx').on(t.platformId)],
);

/**
 * One weekly digest of one recipient: the week (the Monday of the week in the institution's time zone) is part of
 * the key, so a recipient gets at most one a week whatever the number of Socle processes. A process claims the row
 * (`sending`, with a lease); once sent it is `sent` (or `empty`: nothing to say, nothing sent) with the learners it
 * found at risk (`at_risk`: scope key → user ids), which the next digest compares with ("newly at risk"). After
 * `attempts` failures the row stays `failed` for that week.
 */
export const alertDigests = pgTable(
  'alert_digests',
  {
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    week: date('week').notNull(),
    status: text('status', { enum: ['sending', 'sent', 'empty', 'failed'] }).notNull(),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(1),
    atRisk: jsonb('at_risk').$type<Record<string, number[]>>(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.week] }),
    check('alert_digests_lease_check', sql`${t.status} <> 'sending' OR ${t.leaseUntil} IS NOT NULL`),
  ],
);
