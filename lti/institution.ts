/**
 * The institution profile on the administration page: the form (`views/admin-institution.eta`, included in the
 * admin page) and its route. Administrators of the session's platform only; every change is audited
 * (`institution.set`, src/identity/institution.ts).
 */
import express, { type Express, type Request } from 'express';
import type { AppContext } from '../src/context';
import { LOGO_MAX_BYTES, findInstitution, institutionProfileOf, setInstitution } from '../src/identity/institution';
import { ltiActor } from '../src/identity/records';
import { DEFAULT_TIME_ZONE, formatDate } from '../src/domain/format';
import { SocleError, type ErrorDetail } from '../src/domain/errors';
import { urls } from '../src/badges/achievements';
import { LTI_BASE } from '../src/lms/tool-config';
import { asyncHandler } from '../src/web/http';
import { parseMultipart } from '../src/web/multipart';
import { render } from '../src/web/render';
import { translator } from '../src/web/i18n';
import '../src/web/texts/institution';
import { requireRole, type LtiSession } from './session';

/** The fields of the form, in its order. */
export const INSTITUTION_FIELDS = ['legalName', 'shortName', 'uai', 'siret', 'signatoryName', 'signatoryTitle', 'city', 'timeZone', 'url', 'email'] as const;
type Field = (typeof INSTITUTION_FIELDS)[number];

/** What the form shows: the stored profile (or the values just refused, with why). */
export async function institutionPanel(
  ctx: AppContext,
  s: LtiSession,
  submitted?: { values: Partial<Record<Field, string>>; errors: ErrorDetail[] },
) {
  const row = await findInstitution(ctx.store.db, s.platform.id);
  const profile = row ? institutionProfileOf(row, s.platform.issuer) : undefined;
  const stored: Record<Field, string> = Object.fromEntries(
    INSTITUTION_FIELDS.map((f) => [f, profile?.[f] ?? (f === 'timeZone' ? DEFAULT_TIME_ZONE : '')]),
  ) as Record<Field, string>;
  const errors = new Map<string, string>();
  for (const d of submitted?.errors ?? []) errors.set(d.path.split('.')[0] ?? d.path, d.message);
  return {
    action: `${LTI_BASE}/admin/institution?ltik=${encodeURIComponent(s.ltik)}`,
    values: { ...stored, ...submitted?.values },
    errors: Object.fromEntries(errors),
    invalid: Boolean(submitted),
    exists: profile !== undefined,
    // same origin as the page (PUBLIC_URL may name the proxy's address)
    logo: profile?.logo ? { ...profile.logo, url: urls.issuerLogo('', s.platform.id) } : null,
    updatedAt: profile ? formatDate(profile.updatedAt, { locale: s.locale, style: 'dateTime', timeZone: profile.timeZone }) : undefined,
    maxLogoKb: Math.floor(LOGO_MAX_BYTES / 1024),
    timeZones: Intl.supportedValuesOf('timeZone'),
  };
}

const wantsJson = (req: Request) => req.accepts(['html', 'json']) === 'json';

export function institutionRoutes(ctx: AppContext, app: Express): void {
  app.post(
    '/admin/institution',
    requireRole(ctx, 'administrator'),
    // the form sends a file: read its multipart body whole, up to the logo's limit and some room for the fields
    express.raw({ type: 'multipart/form-data', limit: LOGO_MAX_BYTES + 64 * 1024 }),
    asyncHandler(async (req, res) => {
      const s = req.lti;
      if (!s) throw new Error('no session');
      let fields: Record<string, unknown>;
      let logo: Buffer | null | undefined;
      if (Buffer.isBuffer(req.body)) {
        const form = await parseMultipart(req.body, req.get('Content-Type'));
        fields = form.fields;
        logo = form.files.logo?.data;
      } else fields = (req.body ?? {}) as Record<string, unknown>;
      if (fields.removeLogo === 'on' || fields.removeLogo === 'true' || fields.removeLogo === true) logo = null;
      const values = Object.fromEntries(INSTITUTION_FIELDS.map((f) => [f, typeof fields[f] === 'string' ? (fields[f] as string) : undefined])) as Partial<Record<Field, string>>;
      // a form sends every field: an empty one clears it (the legal name cannot be cleared)
      const change = Object.fromEntries(
        INSTITUTION_FIELDS.map((f) => [f, values[f] === undefined ? undefined : values[f].trim() === '' ? (f === 'legalName' || f === 'timeZone' ? values[f] : null) : values[f]]),
      );
      try {
        const row = await setInstitution(ctx.store.db, s.platform, { fields: change, ...(logo === undefined ? {} : { logo }) }, ltiActor(s.platform.issuer, s.user.sub));
        if (wantsJson(req)) {
          res.json(institutionProfileOf(row, s.platform.issuer));
          return;
        }
        res.redirect(303, `${LTI_BASE}/admin?ltik=${encodeURIComponent(s.ltik)}&saved=institution#institution`);
      } catch (error) {
        if (wantsJson(req) || !SocleError.is(error, 'invalid_request', 'payload_too_large')) throw error;
        // a browser gets the form again, with what it typed and why it was refused
        const t = translator(s.locale);
        render(
          res,
          'admin-institution',
          { title: t('institution.title'), ltik: s.ltik, institution: await institutionPanel(ctx, s, { values, errors: error.details }) },
          s.locale,
          error.code === 'payload_too_large' ? 413 : 400,
        );
      }
    }),
  );
}
