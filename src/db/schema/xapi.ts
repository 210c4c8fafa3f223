import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  smallint,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { courses, platforms, users } from './identity';

/** The xAPI authorization scopes an LRS client may be given (xAPI 1.0.3 Communication 4.1.3, kept in 2.0). */
export const XAPI_SCOPES = ['statements/write', 'statements/read', 'statements/read/mine', 'state', 'define', 'profile', 'all/read', 'all'] as const;

/**
 * Basic credentials of the xAPI endpoint; the secret is kept as a SHA-256 hash. A `platform` key is what a
 * platform's emitter (Moodle's logstore_xapi) sends statements with: it acts for its platform with every scope. A
 * `client` is an LRS client (a content package, a reporting tool) named by the administrator, with the xAPI scopes
 * it was given, restricted to one platform or not (then its documents are its own).
 */
export const xapiKeys = pgTable(
  'xapi_keys',
  {
    id: serial('id').primaryKey(),
    kind: text('kind', { enum: ['platform', 'client'] })
      .notNull()
      .default('platform'),
    platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
    /** A client's name, as given to `socle xapi-keys create --client`. */
    name: text('name'),
    /** A client's scopes (a platform key has them all). */
    scopes: text('scopes', { enum: XAPI_SCOPES }).array().notNull().default(sql`'{}'::text[]`),
    key: text('key').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    check('xapi_keys_kind_check', sql`(${t.kind} = 'platform' AND ${t.platformId} IS NOT NULL) OR (${t.kind} = 'client' AND ${t.name} IS NOT NULL)`),
  ],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * The documents of the xAPI document resources (State, Activity Profile, Agent Profile), kept as sent (bytes and
 * Content-Type). Each belongs to a platform (written with its key or a client restricted to it) or to one
 * unrestricted client. `scope_hash` is the SHA-256 of what names the set of documents (resource, activity, agent)
 * and `document_hash` of the document's id: the unique key stays small whatever the ids' length.
 */
export const xapiDocuments = pgTable(
  'xapi_documents',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
    clientId: integer('client_id').references(() => xapiKeys.id, { onDelete: 'cascade' }),
    resource: text('resource', { enum: ['state', 'activity-profile', 'agent-profile'] }).notNull(),
    scopeHash: text('scope_hash').notNull(),
    /** SHA-256 of the agent's identity (`agentIdentity`) for states and agent profiles: what a learner's erasure deletes by. */
    agentHash: text('agent_hash'),
    /** A state's registration (null: none); always null for profiles. */
    registration: uuid('registration'),
    documentHash: text('document_hash').notNull(),
    documentId: text('document_id').notNull(),
    contentType: text('content_type').notNull(),
    content: bytea('content').notNull(),
    /** SHA-1 hex of `content` (the ETag, unquoted). */
    etag: text('etag').notNull(),
    updated: timestamp('updated', { withTimezone: true }).notNull(),
  },
  (t) => [
    unique('xapi_documents_key_unique').on(t.platformId, t.clientId, t.scopeHash, t.registration, t.documentHash).nullsNotDistinct(),
    check('xapi_documents_owner_check', sql`num_nonnulls(${t.platformId}, ${t.clientId}) = 1`),
    index('xapi_documents_agent_idx').on(t.platformId, t.agentHash),
  ],
);

/**
 * The bytes of statement attachments sent in `multipart/mixed` (xAPI "raw" attachments, signatures included), one
 * row per content (its SHA-2 as the statement's `sha2`: 64, 96 or 128 hex digits) and owner: the platform of the
 * statements that reference it, or the unrestricted LRS client that sent them (as `xapi_statements`). At most
 * `XAPI_LIMITS.maxMultipartBytes` (16 MiB: the size of the whole request that brought them).
 */
export const xapiAttachments = pgTable(
  'xapi_attachments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
    clientId: integer('client_id').references(() => xapiKeys.id, { onDelete: 'cascade' }),
    sha2: text('sha2').notNull(),
    contentType: text('content_type').notNull(),
    content: bytea('content').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('xapi_attachments_key_unique').on(t.platformId, t.clientId, t.sha2).nullsNotDistinct(),
    check('xapi_attachments_owner_check', sql`num_nonnulls(${t.platformId}, ${t.clientId}) = 1`),
  ],
);

/**
 * One row: from when this store derives time-ordered ids (`derivedStatementId`) for the statements sent without one.
 * A store that held statements already begins a day after it was migrated: their version-5 ids stay theirs when
 * Moodle sends them again, and the processes of the previous version that still run during an upgrade (they derive
 * version-5 ids) agree with the new ones for that day. A new store begins at the start (1970).
 */
export const statementIdScheme = pgTable(
  'statement_id_scheme',
  {
    one: boolean('one').primaryKey().default(true),
    timeOrderedSince: timestamp('time_ordered_since', { withTimezone: true }).notNull(),
  },
  (t) => [check('statement_id_scheme_one_check', sql`${t.one}`)],
);

/**
 * Every statement accepted by the inbound endpoint, as stored (id assigned, `stored`, `authority`).
 * `seq` is the arrival order (paging cursor); `content_hash` compares a re-sent statement with the stored one.
 */
export const xapiStatements = pgTable(
  'xapi_statements',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    id: uuid('id').notNull().unique(),
    /** The platform the statement belongs to; null for a statement of an unrestricted LRS client about no platform's learner. */
    platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
    /** The learner credited (an account actor of the platform); null for a statement stored only (any other actor). */
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    /**
     * The LRS client that sent it (its authority): what `statements/read/mine` and an unrestricted client read by;
     * null for a platform key's (its platform reads them; no index entry, no key lookup on Moodle's ingest).
     */
    keyId: integer('key_id').references(() => xapiKeys.id, { onDelete: 'set null' }),
    verb: text('verb').notNull(),
    objectId: text('object_id').notNull(),
    stored: timestamp('stored', { withTimezone: true }).notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
    voided: boolean('voided').notNull().default(false),
    contentHash: text('content_hash').notNull(),
    statement: jsonb('statement').notNull(),
  },
  (t) => [
    index('xapi_statements_platform_seq_idx').on(t.platformId, t.seq),
    index('xapi_statements_key_seq_idx').on(t.keyId, t.seq).where(sql`${t.keyId} IS NOT NULL`),
    index('xapi_statements_object_idx').on(t.objectId),
  ],
);

/**
 * Completion-relevant events, all of them (not only the latest): the coverage engine derives the state of a
 * (learner, activity) pair from the latest non-voided event by statement timestamp, then arrival id, then position.
 */
export const completionEvents = pgTable(
  'completion_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    statementId: uuid('statement_id').notNull().unique(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    courseId: integer('course_id').references(() => courses.id, { onDelete: 'set null' }),
    activityIri: text('activity_iri').notNull(),
    kind: text('kind', { enum: ['completed', 'uncompleted'] }).notNull(),
    success: boolean('success'),
    durationSeconds: integer('duration_seconds'),
    statementTimestamp: timestamp('statement_timestamp', { withTimezone: true }).notNull(),
    position: smallint('position').notNull(),
    voided: boolean('voided').notNull().default(false),
  },
  (t) => [
    index('completion_events_user_activity_idx').on(t.userId, t.activityIri),
    // a course's learners in user-id order (keyset pages of the course view) and its events by course
    index('completion_events_course_user_idx').on(t.courseId, t.userId),
  ],
);

/** Activities seen in statements (completion or not), per platform, so teachers can map them to competencies. */
export const xapiActivities = pgTable(
  'xapi_activities',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    courseId: integer('course_id').references(() => courses.id, { onDelete: 'set null' }),
    activityIri: text('activity_iri').notNull(),
    name: text('name'),
    /** Moodle module name (`page`, `quiz`…) when the IRI is `…/mod/<mod>/view.php`, else the xAPI activity type. */
    moduleType: text('module_type'),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true }).notNull().defaultNow(),
    /** When a statement last named it, to the day (the inbound batch writes the row again only once a day). */
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('xapi_activities_platform_iri_idx').on(t.platformId, t.activityIri),
    index('xapi_activities_course_idx').on(t.courseId),
  ],
);

/**
 * Statements waiting for (or done with) delivery to the institution's LRS. Written in the transaction of the change
 * that causes them; `statement.id` is fixed before the first attempt so a retry cannot duplicate.
 * `next_attempt_at` doubles as the lease of a worker that claimed the row.
 */
export const xapiOutbox = pgTable(
  'xapi_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    statementId: uuid('statement_id').notNull().unique(),
    /** What is sent; null for a statement Socle received: the one stored under `statement_id`, enriched at delivery. */
    statement: jsonb('statement'),
    status: text('status', { enum: ['pending', 'delivered', 'dead'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    index('xapi_outbox_pending_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`status = 'pending'`),
  ],
);
