import { sql } from 'drizzle-orm';
import type { JWK } from 'jose';
import { customType, index, integer, jsonb, pgSequence, pgTable, primaryKey, serial, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { Competency } from '../../domain/referential';
import { users } from './identity';

/** A competency an achievement aligns to (hours are not kept here: the achievement's own minutes are). */
export type AlignedCompetency = Pick<Competency, 'key' | 'code' | 'title'>;

/** A public key in JWK form, as published in the issuer's JWKS. */
export type PublicJwk = JWK & { kid: string; alg: string };

/**
 * The institution's badge signing keys. The private key (a JWK) is sealed with LTI_KEY (purpose `badge-key`);
 * one key is active at a time, retired keys stay published so that credentials they signed still verify. The
 * Ed25519 keys of Data Integrity proofs (`alg` EdDSA: `kid` is the public key as a multibase, the sealed secret the
 * Multikey's) have their own active one.
 */
export const badgeKeys = pgTable(
  'badge_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg', { enum: ['ES256', 'RS256', 'EdDSA'] }).notNull(),
    publicJwk: jsonb('public_jwk').$type<PublicJwk>().notNull(),
    sealedPrivateJwk: text('sealed_private_jwk').notNull(),
    status: text('status', { enum: ['active', 'retired'] })
      .notNull()
      .default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('badge_keys_one_active_idx').on(t.status, sql`(alg = 'EdDSA')`).where(sql`status = 'active'`)],
);

/**
 * An Open Badges achievement derived from a référentiel version: one per domain (`domainCode`) and one for the
 * whole référentiel (`domainCode` null). `path` is its stable place under `/achievements/`.
 */
export const badgeAchievements = pgTable(
  'badge_achievements',
  {
    id: serial('id').primaryKey(),
    path: text('path').notNull().unique(),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    referentialTitle: text('referential_title').notNull(),
    domainCode: text('domain_code'),
    /** The domain's (or the référentiel's) title, printed on the badge image. */
    title: text('title').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    criteria: text('criteria').notNull(),
    requiredMinutes: integer('required_minutes'),
    alignments: jsonb('alignments').$type<AlignedCompetency[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('badge_achievements_referential_idx').on(t.referentialId, t.referentialVersion)],
);

/**
 * The numbers that place issued credentials in the revocation status lists: number n is position n mod the list
 * size of list n div size (see src/badges/status-list.ts). A sequence, so concurrent issuers never wait on each other.
 */
export const badgeStatusAllocations = pgSequence('badge_status_allocation_seq', { startWith: 0, minValue: 0 });

/**
 * A W3C Bitstring Status List (purpose `revocation`) published as a signed BitstringStatusListCredential at
 * `/badges/status/<id>`. Its bits are the revoked credentials of the list; its revision is the number of its rows
 * in `badge_status_revocations`, and the published credential is signed again when `signedRevision` lags behind.
 * `permutationKey` spreads positions over the list's indexes (not an access secret: it only tells the order of issue).
 */
export const badgeStatusLists = pgTable('badge_status_lists', {
  id: integer('id').primaryKey(),
  purpose: text('purpose', { enum: ['revocation'] })
    .notNull()
    .default('revocation'),
  size: integer('size').notNull(),
  permutationKey: text('permutation_key').notNull(),
  jwt: text('jwt'),
  signedRevision: integer('signed_revision'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  signedAt: timestamp('signed_at', { withTimezone: true }),
});

/**
 * The bits set in the status lists: one row per revoked credential's entry, appended in the revoking transaction and
 * never removed, so revoking never waits on a list's row and a revoked badge stays revoked after its learner's data
 * is erased (the credential row goes, its bit stays). A list's revision is its number of rows.
 */
export const badgeStatusRevocations = pgTable(
  'badge_status_revocations',
  {
    listId: integer('list_id')
      .notNull()
      .references(() => badgeStatusLists.id),
    statusIndex: integer('status_index').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.listId, t.statusIndex] })],
);

/**
 * An issued OpenBadgeCredential (VC-JWT). At most one active credential per learner and achievement; a revoked
 * one stays (its verification page says revoked) and a new one may be issued when the achievement is earned again.
 */
export const badgeCredentials = pgTable(
  'badge_credentials',
  {
    id: uuid('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    achievementId: integer('achievement_id')
      .notNull()
      .references(() => badgeAchievements.id),
    status: text('status', { enum: ['active', 'revoked'] })
      .notNull()
      .default('active'),
    kid: text('kid')
      .notNull()
      .references(() => badgeKeys.kid),
    jwt: text('jwt').notNull(),
    creditsEarnedMinutes: integer('credits_earned_minutes').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revocationReason: text('revocation_reason'),
    /** Its entry in a revocation status list (null for a credential issued before status lists). */
    statusListId: integer('status_list_id').references(() => badgeStatusLists.id),
    statusListIndex: integer('status_list_index'),
  },
  (t) => [
    uniqueIndex('badge_credentials_one_active_idx').on(t.userId, t.achievementId).where(sql`status = 'active'`),
    index('badge_credentials_user_idx').on(t.userId),
    uniqueIndex('badge_credentials_status_entry_idx').on(t.statusListId, t.statusListIndex),
  ],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * Badge pictures rendered to PNG, kept once drawn: `key` is the width and the SHA-256 of the SVG they were rendered
 * from (`<width>:<hex>`), so a changed title or hours draws a new one. Rendering happens on the first download of
 * a picture, never at issue; each download then bakes its credential into the stored PNG (one chunk added).
 */
export const badgeImages = pgTable('badge_images', {
  key: text('key').primaryKey(),
  png: bytea('png').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
