import { customType, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { platforms } from './identity';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * The institution profile of a platform (one per platform): the body that issues attestations and badges, its
 * identifiers, logo and signatory, its city and the time zone every date it shows is written in. The logo is a
 * checked PNG or SVG (src/identity/institution.ts), kept here with its type and size.
 */
export const institutions = pgTable('institutions', {
  platformId: integer('platform_id')
    .primaryKey()
    .references(() => platforms.id, { onDelete: 'cascade' }),
  legalName: text('legal_name').notNull(),
  shortName: text('short_name'),
  uai: text('uai'),
  siret: text('siret'),
  signatoryName: text('signatory_name'),
  signatoryTitle: text('signatory_title'),
  city: text('city'),
  timeZone: text('time_zone').notNull().default('Europe/Paris'),
  url: text('url'),
  email: text('email'),
  logo: bytea('logo'),
  logoType: text('logo_type', { enum: ['image/png', 'image/svg+xml'] }),
  logoWidth: integer('logo_width'),
  logoHeight: integer('logo_height'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
