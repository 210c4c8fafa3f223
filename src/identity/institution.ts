/**
 * The institution profile of a platform: read, set (validated, audited) and pre-filled from what the platform
 * sends. Attestations, badges and reports read it through `institutionOf`; without a profile they keep the
 * platform's own name and the default time zone.
 */
import { eq, sql } from 'drizzle-orm';
import { auditEvents, institutions } from '../db/schema';
import type { Executor } from '../db/store';
import { invalid, notFound, SocleError, zodDetails } from '../domain/errors';
import { DEFAULT_TIME_ZONE } from '../domain/format';
import { institutionFields, type InstitutionInput, type InstitutionProfile, type LogoType } from '../domain/institution';

export type InstitutionRow = typeof institutions.$inferSelect;

/** The largest logo accepted, in bytes. */
export const LOGO_MAX_BYTES = 512 * 1024;
/** A logo's sides must lie within these bounds (pixels for a PNG, user units for an SVG). */
export const LOGO_MIN_SIDE = 16;
export const LOGO_MAX_SIDE = 4096;

export interface CheckedLogo {
  type: LogoType;
  width: number;
  height: number;
  bytes: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What makes an SVG unsafe to serve or embed: scripts, event handlers, foreign content, entities, outside references. */
const SVG_FORBIDDEN: readonly [RegExp, string][] = [
  [/<\s*script/i, 'it contains a script'],
  [/\son[a-z]+\s*=/i, 'it contains an event handler attribute (on…=)'],
  [/javascript\s*:/i, 'it contains a javascript: URL'],
  [/<\s*foreignObject/i, 'it contains a foreignObject'],
  [/<!\s*(DOCTYPE|ENTITY)/i, 'it declares a DOCTYPE or entities'],
  [/<\s*(iframe|embed|object|use|image|animate|set)\b/i, 'it contains an element that loads or animates content (iframe, embed, object, use, image, animate, set)'],
  [/(?:href|src)\s*=\s*["']\s*(?!#)[^"']/i, 'it references an outside resource (href/src)'],
  [/url\(\s*["']?\s*(?!#)/i, 'it references an outside resource (url())'],
  [/@import/i, 'it imports a style sheet'],
];

const logoError = (message: string) => invalid(`Invalid logo: ${message}.`, [{ path: 'logo', message }]);

function svgSide(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

/**
 * Checks a logo file: a PNG (signature, IHDR dimensions) or an SVG (UTF-8 text whose root is `<svg>`, with
 * dimensions from width/height or its viewBox, and nothing active: scripts and outside references are refused,
 * not cleaned). At most LOGO_MAX_BYTES; sides within LOGO_MIN_SIDE…LOGO_MAX_SIDE.
 */
export function checkLogo(bytes: Buffer): CheckedLogo {
  if (bytes.length === 0) throw logoError('the file is empty');
  if (bytes.length > LOGO_MAX_BYTES) {
    throw new SocleError('payload_too_large', `Invalid logo: ${bytes.length} bytes, at most ${LOGO_MAX_BYTES}.`, [
      { path: 'logo', message: `at most ${LOGO_MAX_BYTES} bytes` },
    ]);
  }
  let type: LogoType;
  let width: number;
  let height: number;
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw logoError('a PNG without its IHDR header');
    type = 'image/png';
    width = bytes.readUInt32BE(16);
    height = bytes.readUInt32BE(20);
    if (!bytes.includes('IEND', bytes.length - 12, 'latin1')) throw logoError('a truncated PNG (no IEND chunk)');
  } else {
    const text = bytes.toString('utf8');
    if (text.includes('\uFFFD') || text.includes('\u0000')) throw logoError('neither a PNG nor an SVG (UTF-8 text)');
    const body = text
      .replace(/^\uFEFF/, '')
      .replace(/^\s*<\?xml[^>]*\?>/, '')
      .replace(/^(\s*<!--[\s\S]*?-->)*/, '')
      .trimStart();
    const root = /^<svg\b([^>]*)>/i.exec(body);
    if (!root || !/<\/svg\s*>\s*$/i.test(body)) throw logoError('neither a PNG nor an SVG (no <svg> root element)');
    for (const [pattern, why] of SVG_FORBIDDEN) if (pattern.test(body)) throw logoError(`SVG refused: ${why}`);
    const attrs = root[1] ?? '';
    const attr = (name: string) => new RegExp(`\\s${name}\\s*=\\s*["']([^"']*)["']`, 'i').exec(attrs)?.[1];
    const viewBox = attr('viewBox')
      ?.trim()
      .split(/[\s,]+/)
      .map(Number);
    const fromBox = viewBox && viewBox.length === 4 && viewBox.every(Number.isFinite) ? { w: viewBox[2] as number, h: viewBox[3] as number } : undefined;
    const w = svgSide(attr('width')) ?? fromBox?.w;
    const h = svgSide(attr('height')) ?? fromBox?.h;
    if (w === undefined || h === undefined) throw logoError('an SVG without width and height (in px) or a viewBox');
    type = 'image/svg+xml';
    width = w;
    height = h;
  }
  for (const [side, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!(value >= LOGO_MIN_SIDE && value <= LOGO_MAX_SIDE)) throw logoError(`its ${side} is ${value}, expected ${LOGO_MIN_SIDE} to ${LOGO_MAX_SIDE}`);
  }
  return { type, width, height, bytes };
}

export async function findInstitution(ex: Executor, platformId: number): Promise<InstitutionRow | undefined> {
  const [row] = await ex.select().from(institutions).where(eq(institutions.platformId, platformId));
  return row;
}

/** The institution's time zone (IANA), DEFAULT_TIME_ZONE without a profile: every date a page shows is in it. */
export async function institutionTimeZone(ex: Executor, platformId: number): Promise<string> {
  const [row] = await ex.select({ timeZone: institutions.timeZone }).from(institutions).where(eq(institutions.platformId, platformId));
  return row?.timeZone ?? DEFAULT_TIME_ZONE;
}

/** The profile as shown (no logo bytes: its type, size and dimensions). */
export function institutionProfileOf(row: InstitutionRow, issuer: string): InstitutionProfile {
  return {
    platform: issuer,
    legalName: row.legalName,
    shortName: row.shortName,
    uai: row.uai,
    siret: row.siret,
    signatoryName: row.signatoryName,
    signatoryTitle: row.signatoryTitle,
    city: row.city,
    timeZone: row.timeZone,
    url: row.url,
    email: row.email,
    logo:
      row.logo && row.logoType
        ? { type: row.logoType, bytes: row.logo.length, width: row.logoWidth ?? 0, height: row.logoHeight ?? 0 }
        : null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

export interface InstitutionChange {
  /** The fields to set; absent ones are kept, `null` clears one (the legal name cannot be cleared). */
  fields: Partial<Record<keyof InstitutionInput, unknown>>;
  /** A new logo file, or `null` to remove it; absent keeps it. */
  logo?: Buffer | null;
}

/** The part of a profile an audit event records (the logo as its type and size). */
function audited(row: InstitutionRow | undefined) {
  if (!row) return null;
  const { logo, platformId: _platformId, updatedAt: _updatedAt, ...rest } = row;
  return { ...rest, logo: logo ? { bytes: logo.length } : null };
}

/**
 * Sets the profile of `platform` (created on the first call, which needs a legal name): every field is checked
 * with the domain schema and the logo with `checkLogo` before anything is written, so a refused change leaves
 * the profile as it was. Audited as `institution.set` on `platform:<issuer>`.
 */
export async function setInstitution(
  ex: Executor,
  platform: { id: number; issuer: string },
  change: InstitutionChange,
  actor: string,
): Promise<InstitutionRow> {
  const logo = change.logo ? checkLogo(change.logo) : change.logo;
  return ex.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM platforms WHERE id = ${platform.id} FOR UPDATE`);
    const before = await findInstitution(tx, platform.id);
    const given = Object.fromEntries(Object.entries(change.fields).filter(([, v]) => v !== undefined));
    const merged = {
      ...(before
        ? {
            legalName: before.legalName,
            shortName: before.shortName,
            uai: before.uai,
            siret: before.siret,
            signatoryName: before.signatoryName,
            signatoryTitle: before.signatoryTitle,
            city: before.city,
            timeZone: before.timeZone,
            url: before.url,
            email: before.email,
          }
        : {}),
      ...given,
    };
    if (merged.legalName === undefined || merged.legalName === null) {
      throw invalid('The institution has no profile yet: its legal name is required.', [{ path: 'legalName', message: 'required' }]);
    }
    const parsed = institutionFields.safeParse(merged);
    if (!parsed.success) throw invalid('Invalid institution profile.', zodDetails(parsed.error));
    const f = parsed.data;
    const values = {
      legalName: f.legalName,
      shortName: f.shortName ?? null,
      uai: f.uai ?? null,
      siret: f.siret ?? null,
      signatoryName: f.signatoryName ?? null,
      signatoryTitle: f.signatoryTitle ?? null,
      city: f.city ?? null,
      timeZone: f.timeZone ?? DEFAULT_TIME_ZONE,
      url: f.url ?? null,
      email: f.email ?? null,
      ...(logo === undefined
        ? {}
        : logo === null
          ? { logo: null, logoType: null, logoWidth: null, logoHeight: null }
          : { logo: logo.bytes, logoType: logo.type, logoWidth: Math.round(logo.width), logoHeight: Math.round(logo.height) }),
      updatedAt: new Date(),
    };
    const [row] = await tx
      .insert(institutions)
      .values({ platformId: platform.id, ...values })
      .onConflictDoUpdate({ target: institutions.platformId, set: values })
      .returning();
    if (!row) throw new Error(`cannot store the institution of platform ${platform.id}`);
    await tx.insert(auditEvents).values({ actor, action: 'institution.set', subject: `platform:${platform.issuer}`, before: audited(before), after: audited(row) });
    return row;
  });
}

/** The profile of `issuer`'s platform, or 404. */
export async function requireInstitution(ex: Executor, platformId: number): Promise<InstitutionRow> {
  const row = await findInstitution(ex, platformId);
  if (!row) throw notFound('This platform has no institution profile yet (socle institution set).');
  return row;
}

/**
 * A first profile from what the platform says of itself (Moodle's site name in the launch's `tool_platform`
 * claim), when none exists yet: an administrator's profile is never overwritten.
 */
export async function prefillInstitution(ex: Executor, platformId: number, from: { legalName?: string | null; shortName?: string | null }): Promise<boolean> {
  const legalName = from.legalName?.trim().slice(0, 200);
  if (!legalName) return false;
  const shortName = from.shortName?.trim().slice(0, 60) || null;
  const inserted = await ex
    .insert(institutions)
    .values({ platformId, legalName, shortName: shortName === legalName ? null : shortName })
    .onConflictDoNothing()
    .returning({ platformId: institutions.platformId });
  return inserted.length > 0;
}

/**
 * What documents need of a platform's institution: the name to print (the legal name, else the platform's name,
 * else its issuer), the time zone of dates, and the rest of the profile when there is one.
 */
export interface InstitutionIdentity {
  name: string;
  timeZone: string;
  profile: InstitutionRow | undefined;
}

export async function institutionOf(ex: Executor, platform: { id: number; issuer: string; name: string | null }): Promise<InstitutionIdentity> {
  const profile = await findInstitution(ex, platform.id);
  return { name: profile?.legalName ?? platform.name ?? platform.issuer, timeZone: profile?.timeZone ?? DEFAULT_TIME_ZONE, profile };
}
