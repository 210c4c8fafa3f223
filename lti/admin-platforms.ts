/**
 * The admin page's platforms: the registrations of the administrator's own platform (its issuer), activated or
 * deactivated here as `socle platforms activate|deactivate` does. Another platform's registrations are never
 * listed nor changed: the issuer is the session's, never the form's.
 */
import type { Express } from 'express';
import type { ProviderInstance } from 'ltijs';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { notFound } from '../src/domain/errors';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { ADMIN_BASE, adminSession, audit, sendSection, wantsJson } from './admin-shared';
import { listPlatforms, setPlatformActive } from './registration';
import { requireRole, type LtiSession } from './session';

const body = z.object({
  clientId: z.string({ error: 'required' }).min(1, 'required').max(200),
  active: z.enum(['true', 'false'], { error: 'true or false' }).transform((v) => v === 'true'),
});

/** What the section shows: the registrations of the session's issuer. */
export async function platformsPanel(ctx: AppContext, lti: ProviderInstance, s: LtiSession) {
  return { platforms: await listPlatforms(ctx, lti, s.platform.issuer), platformsUrl: `${ADMIN_BASE}/platforms` };
}

export function adminPlatformRoutes(ctx: AppContext, lti: ProviderInstance, app: Express): void {
  app.post(
    '/admin/platforms',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const b = parseOr400(body, req.body ?? {}, 'body');
      const own = (await listPlatforms(ctx, lti, s.platform.issuer)).find((p) => p.clientId === b.clientId);
      if (!own) throw notFound(`No registration with client id ${b.clientId} for your platform.`);
      if (own.active !== b.active) {
        await setPlatformActive(lti, s.platform.issuer, b.clientId, b.active);
        await audit(ctx.store.db, s, b.active ? 'platform.activate' : 'platform.deactivate', `platform:${s.platform.id}`, {
          before: { clientId: b.clientId, active: own.active },
          after: { clientId: b.clientId, active: b.active },
        });
      }
      const panel = await platformsPanel(ctx, lti, s);
      if (wantsJson(req)) {
        res.json({ platforms: panel.platforms.map(({ issuer, clientId, active }) => ({ issuer, clientId, active })) });
        return;
      }
      sendSection(ctx, req, res, 'admin-platforms', { ...panel, changed: { clientId: b.clientId, active: b.active } });
    }),
  );
}
