import { integer, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import { platforms } from './identity';

/**
 * API tokens for machine callers (reporting tools, a university's data warehouse). Only a SHA-256 digest of the
 * token is kept; the token itself is shown once at creation. A token scoped to a platform sees only that platform.
 */
export const apiTokens = pgTable('api_tokens', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  role: text('role', { enum: ['admin'] }).notNull(),
  platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});
