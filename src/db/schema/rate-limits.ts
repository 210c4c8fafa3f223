import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Request counters of the rate limits (src/rate-limit.ts), shared by every Socle process on the database: one row
 * per client (`xapi:<key>`, `api:<token>`, `login:<address>`, `public:<address>`) holding the current fixed
 * window and its count. Unlogged on PostgreSQL (see the migration): counters need no crash safety, and a request
 * then costs no WAL flush.
 */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
  hits: integer('hits').notNull(),
});
