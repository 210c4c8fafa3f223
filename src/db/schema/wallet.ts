import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, serial, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './identity';

/**
 * Wallets (Open Badges API clients) registered by OAuth 2.0 Dynamic Client Registration (RFC 7591). The client
 * secret is kept as its SHA-256 digest only (it is random, 256 bits): it is shown once, in the registration answer.
 */
export const walletClients = pgTable('wallet_clients', {
  id: serial('id').primaryKey(),
  clientId: text('client_id').notNull().unique(),
  secretHash: text('secret_hash').notNull(),
  clientName: text('client_name').notNull(),
  redirectUris: jsonb('redirect_uris').$type<string[]>().notNull(),
  scope: text('scope').notNull(),
  /** Everything the client registered (client_uri, logo_uri, tos_uri, policy_uri, software_id…), answered back. */
  metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

/**
 * One authorization request of a wallet, from the authorize URL to the code it delivers once. The learner is
 * unknown until they approve it in their LTI session (by the short code the request page shows); the browser that
 * opened the request holds a cookie whose digest is `browserHash`, and only that browser receives the
 * authorization code. Codes and the learner's short code are kept as digests.
 */
export const walletAuthorizations = pgTable(
  'wallet_authorizations',
  {
    id: uuid('id').primaryKey(),
    clientId: integer('client_id')
      .notNull()
      .references(() => walletClients.id, { onDelete: 'cascade' }),
    redirectUri: text('redirect_uri').notNull(),
    scope: text('scope').notNull(),
    state: text('state').notNull(),
    codeChallenge: text('code_challenge').notNull(),
    userCodeHash: text('user_code_hash').notNull().unique(),
    browserHash: text('browser_hash').notNull(),
    decision: text('decision', { enum: ['pending', 'approved', 'denied'] })
      .notNull()
      .default('pending'),
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').unique(),
    codeExpiresAt: timestamp('code_expires_at', { withTimezone: true }),
    codeUsedAt: timestamp('code_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('wallet_authorizations_expires_idx').on(t.expiresAt)],
);

/**
 * Access and refresh tokens given to a wallet for one learner: opaque random strings kept as SHA-256 digests. A
 * refresh rotates the pair (the old row is revoked); a reused authorization code revokes the tokens it gave.
 */
export const walletTokens = pgTable(
  'wallet_tokens',
  {
    id: serial('id').primaryKey(),
    clientId: integer('client_id')
      .notNull()
      .references(() => walletClients.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    authorizationId: uuid('authorization_id').references(() => walletAuthorizations.id, { onDelete: 'set null' }),
    scope: text('scope').notNull(),
    accessHash: text('access_hash').notNull().unique(),
    refreshHash: text('refresh_hash').notNull().unique(),
    accessExpiresAt: timestamp('access_expires_at', { withTimezone: true }).notNull(),
    refreshExpiresAt: timestamp('refresh_expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('wallet_tokens_user_idx').on(t.userId), index('wallet_tokens_live_idx').on(t.clientId).where(sql`revoked_at IS NULL`)],
);
