import { sql } from 'drizzle-orm';
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { platforms } from './identity';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * Background exports (compliance reports, attestation ZIPs, indicators). Any Socle instance may run a queued
 * job (claimed with `FOR UPDATE SKIP LOCKED`) and any may serve its file, which is kept in `export_file_chunks`
 * until `expires_at`. The row stays after the file is purged: who asked for which personal data, and when.
 */
export const exportJobs = pgTable(
  'export_jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    platformId: integer('platform_id').references(() => platforms.id, { onDelete: 'cascade' }),
    /** A report kind and one of its formats: those of src/reports/kinds, which validate them when a job is queued. */
    kind: text('kind').notNull(),
    format: text('format').notNull(),
    filters: jsonb('filters').notNull().default(sql`'{}'::jsonb`),
    /** A Socle identity string (`lti:<issuer>#<sub>`, `cli`, `api-token:<name>`), as in audit_events. */
    requestedBy: text('requested_by').notNull(),
    status: text('status', { enum: ['queued', 'running', 'done', 'failed', 'expired'] })
      .notNull()
      .default('queued'),
    rowsDone: integer('rows_done').notNull().default(0),
    rowsTotal: integer('rows_total'),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    workerId: text('worker_id'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    fileName: text('file_name'),
    contentType: text('content_type'),
    byteSize: bigint('byte_size', { mode: 'number' }),
    sha256: text('sha256'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [
    index('export_jobs_queue_idx').on(t.status, t.createdAt),
    index('export_jobs_platform_idx').on(t.platformId, t.createdAt),
  ],
);

/** The produced file, in chunks of at most 1 MiB, read back in `seq` order. */
export const exportFileChunks = pgTable(
  'export_file_chunks',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => exportJobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.seq] })],
);

/**
 * An issued attestation: the figures it prints and their digest, so that its verification URL
 * (`/attestations/:id`) can confirm them. Minutes are integers; `domains` holds integer minutes too.
 */
export const attestationRecords = pgTable(
  'attestation_records',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    /** The learner's platform user id (LTI `sub`) and name as printed. */
    learnerSub: text('learner_sub').notNull(),
    learnerName: text('learner_name'),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    referentialTitle: text('referential_title').notNull(),
    validatedMinutes: integer('validated_minutes').notNull(),
    requiredMinutes: integer('required_minutes').notNull(),
    /** [{ code, title, validatedMinutes, requiredMinutes }] as printed. */
    domains: jsonb('domains').notNull(),
    status: text('status', { enum: ['not_started', 'in_progress', 'complete'] }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    institution: text('institution').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    /** SHA-256 of the canonical figures (see `attestationDigest`). */
    digest: text('digest').notNull(),
    exportJobId: uuid('export_job_id').references(() => exportJobs.id, { onDelete: 'set null' }),
  },
  (t) => [index('attestation_records_platform_idx').on(t.platformId, t.issuedAt)],
);
