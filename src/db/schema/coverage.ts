import { sql } from 'drizzle-orm';
import { bigserial, check, customType, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { courses, platforms, users } from './identity';

/**
 * Learner records (CLR 2.0) imported as prior learning (acquis antérieurs): a record issued by another Socle (or by
 * this one for another platform), verified (signature by the issuer's published key, still the learner's current
 * record, no embedded credential revoked) and imported for a learner of a platform; its hours become manual credits
 * (`manual_credits.import_id`). One active import per record and platform, and per learner, issuer and référentiel
 * version and source platform (a newer record of the same issuer and platform replaces the older import: `replaced`). Revoked, never deleted.
 * `missing`: what the record states on competencies this Socle does not know ({domainCode, key, code, minutes}).
 */
export const importedRecords = pgTable(
  'imported_records',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    issuer: text('issuer').notNull(),
    issuerName: text('issuer_name').notNull(),
    recordId: text('record_id').notNull(),
    /** The platform the record names its learner on (its subject's `ltiPlatformId`): with the issuer, the record's source. */
    sourcePlatform: text('source_platform').notNull(),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    recordIssuedAt: timestamp('record_issued_at', { withTimezone: true }).notNull(),
    jwtDigest: text('jwt_digest').notNull(),
    jwt: text('jwt').notNull(),
    creditedMinutes: integer('credited_minutes').notNull(),
    missing: jsonb('missing').notNull(),
    justification: text('justification').notNull(),
    status: text('status', { enum: ['active', 'revoked', 'replaced'] }).notNull().default('active'),
    verifiedAt: timestamp('verified_at', { withTimezone: true }).notNull(),
    importedBy: text('imported_by').notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedBy: text('revoked_by'),
    revocationReason: text('revocation_reason'),
  },
  (t) => [
    index('imported_records_user_idx').on(t.userId),
    uniqueIndex('imported_records_one_active_record_idx').on(t.platformId, t.recordId).where(sql`status = 'active'`),
    uniqueIndex('imported_records_one_active_source_idx').on(t.userId, t.issuer, t.sourcePlatform, t.referentialId, t.referentialVersion).where(sql`status = 'active'`),
  ],
);

/**
 * Manual credits (crédits manuels: recognition of prior learning, face-to-face attendance): minutes granted on one
 * competency of a référentiel version, with a mandatory justification. Revoked, never deleted (audited).
 */
export const manualCredits = pgTable(
  'manual_credits',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    competencyKey: text('competency_key').notNull(),
    minutes: integer('minutes').notNull(),
    justification: text('justification').notNull(),
    grantedBy: text('granted_by').notNull(),
    grantedAt: timestamp('granted_at', { withTimezone: true }).notNull().defaultNow(),
    revokedBy: text('revoked_by'),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revocationReason: text('revocation_reason'),
    /** The imported record this credit comes from (prior learning), or null for a credit granted by hand. */
    importId: integer('import_id').references(() => importedRecords.id, { onDelete: 'cascade' }),
  },
  (t) => [
    index('manual_credits_user_idx').on(t.userId),
    check('manual_credits_justification_check', sql`length(trim(${t.justification})) > 0`),
    check('manual_credits_minutes_check', sql`${t.minutes} > 0`),
  ],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * The evidence of a manual credit (an attendance sheet, a certificate): one PDF or image per credit, checked by its
 * first bytes and size-limited (src/coverage/evidence.ts), kept in the database with the credit.
 */
export const manualCreditEvidence = pgTable(
  'manual_credit_evidence',
  {
    creditId: integer('credit_id')
      .primaryKey()
      .references(() => manualCredits.id, { onDelete: 'cascade' }),
    fileName: text('file_name').notNull(),
    contentType: text('content_type', { enum: ['application/pdf', 'image/png', 'image/jpeg', 'image/webp'] }).notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('manual_credit_evidence_size_check', sql`${t.size} > 0 AND ${t.size} = octet_length(${t.data})`)],
);

/**
 * The stored coverage of a learner for one référentiel version, kept fresh by the ingestion, mapping, policy and
 * manual-credit hooks (src/coverage/freshness.ts) and rebuilt by `socle coverage recompute`. Minutes only.
 * `domains` is a JSON array of integers per domain: {code, requiredMinutes, creditedMinutes, validatedMinutes}.
 * Derived by PostgreSQL from them, for the course views and the dashboard to sort and count on an index without
 * reading `domains`: `missing_minutes` (required − validated, at least 0) and `complete_domains` (the JSON array of
 * the codes of the domains whose validated minutes reach their required minutes).
 */
export const learnerCoverage = pgTable(
  'learner_coverage',
  {
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    referentialId: text('referential_id').notNull(),
    referentialVersion: text('referential_version').notNull(),
    requiredMinutes: integer('required_minutes'),
    creditedMinutes: integer('credited_minutes').notNull(),
    validatedMinutes: integer('validated_minutes').notNull(),
    coveredCompetencies: integer('covered_competencies').notNull(),
    totalCompetencies: integer('total_competencies').notNull(),
    status: text('status', { enum: ['not_started', 'in_progress', 'complete'] }).notNull(),
    domains: jsonb('domains').notNull(),
    computedAt: timestamp('computed_at', { withTimezone: true }).notNull().defaultNow(),
    missingMinutes: integer('missing_minutes').generatedAlwaysAs(sql`greatest(coalesce(required_minutes, 0) - validated_minutes, 0)`),
    completeDomains: jsonb('complete_domains').generatedAlwaysAs(
      sql`jsonb_path_query_array(domains, '$[*] ? (@.validatedMinutes >= @.requiredMinutes).code')`,
    ),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.referentialId, t.referentialVersion] }),
    index('learner_coverage_platform_idx').on(t.platformId, t.referentialId, t.referentialVersion),
    // the cohort pages sorted by missing or validated hours, walked in order (src/gradebook/cohort.ts)
    index('learner_coverage_missing_idx').on(t.platformId, t.referentialId, t.referentialVersion, t.missingMinutes, t.userId),
    index('learner_coverage_validated_idx').on(t.platformId, t.referentialId, t.referentialVersion, t.validatedMinutes, t.userId),
  ],
);

/**
 * Learners whose stored coverage may be stale (a large mapping or policy change): recomputed by the next read of
 * their coverage, by the background worker, or by `socle coverage recompute`.
 */
export const coverageDirty = pgTable('coverage_dirty', {
  userId: integer('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  platformId: integer('platform_id')
    .notNull()
    .references(() => platforms.id, { onDelete: 'cascade' }),
  markedAt: timestamp('marked_at', { withTimezone: true }).notNull().defaultNow(),
  /**
   * Drawn anew at each mark: a recompute clears only the marks it read, so a mark set by a batch committed while it
   * computed stays for the next one.
   */
  generation: bigserial('generation', { mode: 'number' }).notNull(),
});

/**
 * The learners with completion events in a course, once each: kept by triggers on `completion_events` (a row when
 * a statement-level insert brings the first event of a learner in a course, gone when the last one is deleted), so
 * that a course's cohort and the dashboard do not read every event to find who is in a course.
 */
export const courseLearners = pgTable(
  'course_learners',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.userId] })],
);
