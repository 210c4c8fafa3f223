/**
 * The admin page's Moodle web-service token: whether the platform has one (never the token itself) and a test that
 * calls Moodle with it. The token is set with `socle platforms set-webservice`.
 */
import { eq } from 'drizzle-orm';
import type { Express } from 'express';
import type { AppContext } from '../src/context';
import { platformSettings } from '../src/db/schema';
import { SocleError } from '../src/domain/errors';
import { formatDate } from '../src/domain/format';
import { checkWebService, type WebServiceCheck } from '../src/lms/webservice';
import { openSecret } from '../src/secrets';
import { asyncHandler } from '../src/web/http';
import { ADMIN_BASE, adminSession, sendSection, wantsJson } from './admin-shared';
import { requireRole, type LtiSession } from './session';

export async function webServicePanel(ctx: AppContext, s: LtiSession) {
  const [settings] = await ctx.store.db.select().from(platformSettings).where(eq(platformSettings.platformId, s.platform.id));
  return {
    webservice: {
      configured: Boolean(settings?.webserviceToken),
      updatedAt: settings?.webserviceToken ? formatDate(settings.updatedAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }) : undefined,
      testUrl: `${ADMIN_BASE}/webservice/test`,
    },
  };
}

type TestResult = { ok: true; check: WebServiceCheck } | { ok: false; reason: string };

/** Calls Moodle with the platform's token: `none` when there is none, `sealed` when it cannot be opened, else Moodle's answer. */
async function testToken(ctx: AppContext, s: LtiSession): Promise<TestResult> {
  const [settings] = await ctx.store.db.select().from(platformSettings).where(eq(platformSettings.platformId, s.platform.id));
  if (!settings?.webserviceToken) return { ok: false, reason: 'none' };
  let token: string;
  try {
    token = openSecret(ctx.config.ltiKey, 'webservice-token', settings.webserviceToken);
  } catch {
    return { ok: false, reason: 'sealed' };
  }
  try {
    return { ok: true, check: await checkWebService({ wwwroot: s.platform.issuer, token, timeoutMs: 8_000 }) };
  } catch (error) {
    if (!SocleError.is(error, 'platform_error')) throw error;
    return { ok: false, reason: error.message };
  }
}

export function adminWebServiceRoutes(ctx: AppContext, app: Express): void {
  app.post(
    '/admin/webservice/test',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const result = await testToken(ctx, s);
      if (wantsJson(req)) {
        res.json(result);
        return;
      }
      sendSection(ctx, req, res, 'admin-webservice', { ...(await webServicePanel(ctx, s)), test: result });
    }),
  );
}
