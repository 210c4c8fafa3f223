import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { listCredentials } from '../badges/credentials';
import type { AppContext } from '../context';
import { findPlatform, findUser, type Platform, type User } from '../identity/records';
import { asyncHandler, parseOr400 } from '../web/http';
import { invalid, notFound } from '../domain/errors';
import { authorize, resolvePrincipal, type SessionResolver } from './principal';

export const query = z
  .object({
    platform: z.string().min(1, 'expected the platform issuer').describe('the LTI issuer (Moodle wwwroot)'),
    user: z.string().min(1, 'expected the user id (LTI sub)').describe('the LTI sub (Moodle user id)'),
  })
  .strict();

/**
 * The learner named by `?platform=<issuer>&user=<sub>`, once the request's principal (an API token, an LTI session)
 * may see them: what every per-learner resource of the API starts with (credentials, records).
 */
export async function authorizedLearner(ctx: AppContext, req: Request, sessions: SessionResolver): Promise<{ platform: Platform; user: User }> {
  const principal = await resolvePrincipal(ctx, req, sessions);
  const missing = ['platform', 'user'].filter((p) => req.query[p] === undefined);
  if (missing.length) {
    throw invalid(`Missing query parameter: ${missing.join(', ')}.`, missing.map((p) => ({ path: `query.${p}`, message: 'required' })));
  }
  const q = parseOr400(query, req.query, 'query');
  const db = ctx.store.db;
  const platform = await findPlatform(db, q.platform);
  if (!platform) throw notFound(`No platform ${q.platform}.`);
  await authorize(db, principal, { platformId: platform.id });
  const user = await findUser(db, platform.id, q.user);
  if (!user) throw notFound(`No user ${q.user} on ${platform.issuer}.`);
  await authorize(db, principal, { platformId: platform.id, userId: user.id });
  return { platform, user };
}

/** GET /api/v1/credentials?platform=<issuer>&user=<sub>: a learner's Open Badges credentials, active and revoked. */
export function credentialsRouter(ctx: AppContext, sessions: SessionResolver): Router {
  const router = express.Router();
  router.get(
    '/api/v1/credentials',
    asyncHandler(async (req, res) => {
      const { user } = await authorizedLearner(ctx, req, sessions);
      res.json(await listCredentials(ctx.store.db, ctx, user.id));
    }),
  );
  return router;
}
