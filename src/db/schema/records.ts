import { bigserial, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { badgeKeys } from './badges';
import { users } from './identity';

/**
 * The learner records (CLR 2.0 `ClrCredential`, VC-JWT) Socle issued: one per learner and référentiel version each
 * time what it says changes (`digest`: the SHA-256 of its claims without ids, dates and salts); the newest is the
 * learner's current record, the older ones stay verifiable at `/records/<id>`.
 */
export const learnerRecords = pgTable(
  'learner_records',
  {
    id: uuid('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    kid: text('kid')
      .notNull()
      .references(() => badgeKeys.kid),
    jwt: text('jwt').notNull(),
    digest: text('digest').notNull(),
    /** Hours the record gives, for lists (the signed record holds them per domain). */
    creditsEarnedMinutes: integer('credits_earned_minutes').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    /** The order of issue: `issued_at` has whole seconds (as the credential's `validFrom`), two records may share one. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
  },
  (t) => [index('learner_records_user_idx').on(t.userId, t.referentialId, t.referentialVersion, t.issuedAt)],
);
