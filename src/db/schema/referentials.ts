import { bigserial, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { Referential } from '../../domain/referential';

/**
 * One row per référentiel version. Versions are never overwritten: learners' credits refer to a version, so a new
 * version is a new row beside the old one. `content` is the whole validated model (hours as integer minutes);
 * `checksum` (SHA-256 of its canonical JSON) tells whether a bundled or imported file is the stored version.
 * `seq` orders versions of one id by arrival: the latest version is the one added last.
 */
export const referentials = pgTable(
  'referentials',
  {
    id: text('id').notNull(),
    version: text('version').notNull(),
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    title: text('title').notNull(),
    kind: text('kind').notNull(),
    requiredMinutes: integer('required_minutes'),
    content: jsonb('content').$type<Referential>().notNull(),
    checksum: text('checksum').notNull(),
    /** `bundled` (data files shipped with Socle) or `import` (CLI import of a CASE package or Moodle CSV). */
    origin: text('origin').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/**
 * The competencies of every stored version, one row each, so mappings and credits can reference
 * (referential id, version, competency key) with a foreign key.
 */
export const referentialCompetencies = pgTable(
  'referential_competencies',
  {
    referentialId: text('referential_id').notNull(),
    version: text('version').notNull(),
    key: text('key').notNull(),
    domainCode: text('domain_code').notNull(),
    code: text('code').notNull(),
    title: text('title').notNull(),
    requiredMinutes: integer('required_minutes'),
    position: integer('position').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.referentialId, t.version, t.key] }),
    foreignKey({
      name: 'referential_competencies_referential_fk',
      columns: [t.referentialId, t.version],
      foreignColumns: [referentials.id, referentials.version],
    }).onDelete('cascade'),
    index('referential_competencies_domain_idx').on(t.referentialId, t.version, t.domainCode),
  ],
);
