import { foreignKey, integer, jsonb, pgTable, serial, text, timestamp, unique } from 'drizzle-orm/pg-core';
import type { Correspondence, TransitionReport } from '../../domain/referential-transition';
import { platforms } from './identity';
import { referentials } from './referentials';

/**
 * A platform's change of référentiel version (src/transitions/): the correspondence of competencies as proposed and
 * reviewed, then, once applied (mappings and credits moved, in one transaction), who applied it, when, and the
 * difference report (who lost or gained what). One per platform and pair of versions: applied once.
 */
export const referentialTransitions = pgTable(
  'referential_transitions',
  {
    id: serial('id').primaryKey(),
    platformId: integer('platform_id')
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    fromId: text('from_id').notNull(),
    fromVersion: text('from_version').notNull(),
    toId: text('to_id').notNull(),
    toVersion: text('to_version').notNull(),
    correspondence: jsonb('correspondence').$type<Correspondence>().notNull(),
    status: text('status', { enum: ['draft', 'applied'] }).notNull().default('draft'),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    appliedBy: text('applied_by'),
    appliedAt: timestamp('applied_at', { withTimezone: true }),
    /** The learners' differences as applied (user ids only: names are read with the report). */
    report: jsonb('report').$type<TransitionReport>(),
  },
  (t) => [
    unique('referential_transitions_versions_key').on(t.platformId, t.fromId, t.fromVersion, t.toId, t.toVersion),
    foreignKey({ name: 'referential_transitions_from_fk', columns: [t.fromId, t.fromVersion], foreignColumns: [referentials.id, referentials.version] }),
    foreignKey({ name: 'referential_transitions_to_fk', columns: [t.toId, t.toVersion], foreignColumns: [referentials.id, referentials.version] }),
  ],
);
