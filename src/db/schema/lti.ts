import { bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { courses, platforms } from './identity';

/**
 * The rows of ltijs' database plugin (lti/plugin.ts): one table for its collections (platform, platformStatus,
 * publickey, privatekey, accesstoken, idtoken, contexttoken, nonce, state). `natural_key` is the collection's
 * identity (e.g. issuer + client id for a platform), unique, so upserts are one atomic statement.
 * Keys and access tokens are stored encrypted in `doc` ({...index, iv, data}).
 */
export const ltiRecords = pgTable(
  'lti_records',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    collection: text('collection').notNull(),
    naturalKey: text('natural_key').notNull(),
    doc: jsonb('doc').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Null = kept until deleted; otherwise the row is invisible after this instant and purged by the LTI purge worker. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('lti_records_collection_key_idx').on(t.collection, t.naturalKey),
    index('lti_records_expires_idx').on(t.expiresAt),
  ],
);

/** Deployment ids accepted for a platform's client id (Moodle: one per tool type). A launch from another is refused. */
export const ltiDeployments = pgTable(
  'lti_deployments',
  {
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    clientId: text('client_id').notNull(),
    deploymentId: text('deployment_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.platformId, t.clientId, t.deploymentId] })],
);

/**
 * The service endpoints a course's last launch announced (NRPS memberships, AGS line items), so rosters can be
 * refreshed and scores published outside a launch.
 */
export const ltiCourseServices = pgTable('lti_course_services', {
  courseId: integer('course_id')
    .primaryKey()
    .references(() => courses.id, { onDelete: 'cascade' }),
  clientId: text('client_id').notNull(),
  deploymentId: text('deployment_id').notNull(),
  membershipsUrl: text('memberships_url'),
  lineitemsUrl: text('lineitems_url'),
  /** The line item of Socle's resource link ("Socle — heures validées"), when the launch named one. */
  lineitemUrl: text('lineitem_url'),
  rosterSyncedAt: timestamp('roster_synced_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
