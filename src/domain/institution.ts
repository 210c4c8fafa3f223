/**
 * The institution profile of a platform: who issues attestations and badges (legal name, identifiers, logo,
 * signatory), where (city) and in which time zone dates are written. One zod schema; the service and every entry
 * point (CLI, admin page) parse with it.
 */
import { z } from 'zod';
import { DEFAULT_TIME_ZONE } from './format';

/** Whether `name` is an IANA time zone this runtime knows (Intl refuses the others). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name);
  } catch {
    return false;
  }
}

const text = (max: number) => z.string().trim().min(1).max(max);

/** UAI (unité administrative immatriculée): 7 digits and a letter, e.g. 0751717J. */
export const uaiSchema = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^\d{7}[A-Z]$/, 'a UAI is 7 digits and a letter (e.g. 0751717J)');

/** SIRET: 14 digits (spaces allowed when typed), with a valid Luhn key. */
export const siretSchema = z
  .string()
  .transform((s) => s.replace(/\s+/g, ''))
  .pipe(z.string().regex(/^\d{14}$/, 'a SIRET is 14 digits'))
  .refine(luhn, 'this SIRET has a wrong check digit');

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** An IANA time zone, stored as Intl spells it (`europe/paris` → `Europe/Paris`). */
export const timeZoneSchema = z
  .string()
  .trim()
  .refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Paris, Indian/Reunion, America/Cayenne)')
  .transform((name) => new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone);

/** The fields an administrator sets (everything but the logo, which is a file checked by the service). */
export const institutionFields = z.strictObject({
  legalName: text(200),
  shortName: text(60).nullable().optional(),
  uai: uaiSchema.nullable().optional(),
  siret: siretSchema.nullable().optional(),
  signatoryName: text(120).nullable().optional(),
  signatoryTitle: text(160).nullable().optional(),
  city: text(120).nullable().optional(),
  timeZone: timeZoneSchema.optional(),
  url: z.url({ protocol: /^https?$/ }).max(500).nullable().optional(),
  email: z.email().max(254).nullable().optional(),
});
export type InstitutionFields = z.infer<typeof institutionFields>;
export type InstitutionInput = z.input<typeof institutionFields>;

export const LOGO_TYPES = ['image/png', 'image/svg+xml'] as const;
export const logoType = z.enum(LOGO_TYPES);
export type LogoType = z.infer<typeof logoType>;

/** The profile as it is read back (`socle institution show --json`, the admin page). */
export const institutionProfile = z.object({
  platform: z.string(),
  legalName: z.string(),
  shortName: z.string().nullable(),
  uai: z.string().nullable(),
  siret: z.string().nullable(),
  signatoryName: z.string().nullable(),
  signatoryTitle: z.string().nullable(),
  city: z.string().nullable(),
  timeZone: z.string(),
  url: z.string().nullable(),
  email: z.string().nullable(),
  logo: z.object({ type: logoType, bytes: z.number().int(), width: z.number(), height: z.number() }).nullable(),
  updatedAt: z.string(),
});
export type InstitutionProfile = z.infer<typeof institutionProfile>;

export { DEFAULT_TIME_ZONE };
