/** What the administration sections of the admin page share: the session, how a change is answered. */
import type { Request, Response } from 'express';
import type { AppContext } from '../src/context';
import { auditEvents } from '../src/db/schema';
import type { Executor } from '../src/db/store';
import { ltiActor } from '../src/identity/records';
import { LTI_BASE } from '../src/lms/tool-config';
import { translator } from '../src/web/i18n';
import { render, renderFragment } from '../src/web/render';
import type { LtiSession } from './session';
import '../src/web/texts/admin';

export const ADMIN_BASE = `${LTI_BASE}/admin`;

export function adminSession(req: Request): LtiSession {
  if (!req.lti) throw new Error('no session');
  return req.lti;
}

export const adminActor = (s: LtiSession) => ltiActor(s.platform.issuer, s.user.sub);

export const isHtmx = (req: Request) => req.get('HX-Request') === 'true';

/** An API client (JSON preferred, not htmx) gets JSON; a page or htmx gets HTML. */
export const wantsJson = (req: Request) => !isHtmx(req) && req.accepts(['html', 'json']) === 'json';

/** Records an administrator's change in the audit log (who, what, on which subject; never a secret). */
export async function audit(ex: Executor, s: LtiSession, action: string, subject: string, change: { before?: unknown; after?: unknown }) {
  await ex.insert(auditEvents).values({ actor: adminActor(s), action, subject, before: change.before ?? null, after: change.after ?? null });
}

/**
 * Answers a section of the admin page: htmx gets the partial `view` alone (it replaces the section), a browser
 * without scripts gets it as a page of its own with a link back to the admin page.
 */
export function sendSection(ctx: AppContext, req: Request, res: Response, view: string, data: Record<string, unknown>, status = 200) {
  const s = adminSession(req);
  const t = translator(s.locale);
  const full = { ...data, ltik: s.ltik, adminBase: ADMIN_BASE };
  if (isHtmx(req)) {
    renderFragment(res, view, full, s.locale, status);
    return;
  }
  render(
    res,
    'admin-section',
    { ...full, title: t('admin.title'), section: view, backUrl: `${ADMIN_BASE}?ltik=${encodeURIComponent(s.ltik)}`, newWindowUrl: `${ctx.config.publicUrl}${ADMIN_BASE}?ltik=${encodeURIComponent(s.ltik)}` },
    s.locale,
    status,
  );
}
