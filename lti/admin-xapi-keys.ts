/**
 * The admin page's xAPI keys of the administrator's platform: its platform keys (what Moodle's logstore_xapi sends
 * statements with, created here with the secret shown once) and the LRS clients restricted to it (created with
 * `socle xapi-keys create --client`), listed with their name and scopes, and revoked here. Another platform's keys,
 * and the clients restricted to no platform, are neither listed nor revoked.
 */
import type { Express } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { notFound } from '../src/domain/errors';
import { formatDate } from '../src/domain/format';
import { createXapiKey, listXapiKeys, revokeXapiKey } from '../src/xapi/keys';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { ADMIN_BASE, adminActor, adminSession, sendSection, wantsJson } from './admin-shared';
import { requireRole, type LtiSession } from './session';

const keyParams = z.object({ key: z.string().regex(/^socle_[0-9a-f]{24}$/, 'an xAPI key name such as socle_0123…') });

export async function xapiKeysPanel(ctx: AppContext, s: LtiSession) {
  const keys = await listXapiKeys(ctx.store.db, s.platform.issuer);
  return {
    xapi: {
      endpoint: `${ctx.config.publicUrl}/xapi`,
      createUrl: `${ADMIN_BASE}/xapi-keys`,
      keys: keys.reverse().map((k) => ({
        key: k.key,
        /** A client's name; null for a platform key. */
        name: k.kind === 'client' ? k.name : null,
        /** A client's scopes; null for a platform key (all of them). */
        scopes: k.kind === 'client' ? k.scopes : null,
        createdAt: formatDate(k.createdAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }),
        revokedAt: k.revokedAt ? formatDate(k.revokedAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }) : null,
        revokeUrl: `${ADMIN_BASE}/xapi-keys/${k.key}/revoke`,
      })),
    },
  };
}

export function adminXapiKeyRoutes(ctx: AppContext, app: Express): void {
  const admin = requireRole(ctx, 'administrator');
  app.post(
    '/admin/xapi-keys',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const created = await ctx.store.db.transaction((tx) => createXapiKey(tx, s.platform.issuer, adminActor(s)));
      if (wantsJson(req)) {
        res.status(201).json({ key: created.key, secret: created.secret });
        return;
      }
      // the secret is in this answer only: Socle keeps its hash
      res.set('Cache-Control', 'no-store');
      sendSection(ctx, req, res, 'admin-xapi-keys', { ...(await xapiKeysPanel(ctx, s)), created: { key: created.key, secret: created.secret } }, 201);
    }),
  );
  app.post(
    '/admin/xapi-keys/:key/revoke',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { key } = parseOr400(keyParams, req.params, 'params');
      const revoked = await ctx.store.db.transaction((tx) => revokeXapiKey(tx, key, { platformId: s.platform.id, actor: adminActor(s), verified: ctx.xapiKeys }));
      if (!revoked) throw notFound('No active xAPI key with this name on your platform.');
      if (wantsJson(req)) {
        res.json({ revoked: key });
        return;
      }
      sendSection(ctx, req, res, 'admin-xapi-keys', { ...(await xapiKeysPanel(ctx, s)), revoked: key });
    }),
  );
}
