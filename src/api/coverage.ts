import express, { type Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { coverageDeps } from '../coverage/deps';
import { courseView, learnerView, MAX_PAGE } from '../coverage/read';
import { findCourse, findPlatform, findUser } from '../identity/records';
import { asyncHandler, parseOr400 } from '../web/http';
import { invalid, notFound } from '../domain/errors';
import { openApiDocument } from './openapi';
import { authorize, resolvePrincipal, type SessionResolver } from './principal';

const query = z
  .object({
    platform: z.string().min(1, 'expected the platform issuer'),
    user: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    referential: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    limit: z.string().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().int().min(1).max(MAX_PAGE)).optional(),
    after: z.string().regex(/^\d+$/, 'expected the `next` cursor of the previous page').transform(Number).optional(),
  })
  .strict();

/** GET /api/v1/coverage (one learner or a course) and its OpenAPI document at /api/openapi.json. */
export function coverageRouter(ctx: AppContext, sessions: SessionResolver): Router {
  const router = express.Router();
  router.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  router.get(
    '/api/v1/coverage',
    asyncHandler(async (req, res) => {
      const principal = await resolvePrincipal(ctx, req, sessions);
      const missing = ['platform'].filter((p) => req.query[p] === undefined);
      if (req.query.user === undefined && req.query.context === undefined) missing.push('user or context');
      if (req.query.user !== undefined && req.query.referential === undefined) missing.push('referential');
      if (missing.length) {
        throw invalid(`Missing query parameter: ${missing.join(', ')}.`, missing.map((p) => ({ path: `query.${p}`, message: 'required' })));
      }
      const q = parseOr400(query, req.query, 'query');
      if (q.user !== undefined && q.context !== undefined) {
        throw invalid('Pass either user or context, not both.', [{ path: 'query.context', message: 'not with user' }]);
      }
      const db = ctx.store.db;
      const platform = await findPlatform(db, q.platform);
      if (!platform) throw notFound(`No platform ${q.platform}.`);
      await authorize(db, principal, { platformId: platform.id });
      const deps = coverageDeps(ctx, db);
      if (q.user !== undefined) {
        const user = await findUser(db, platform.id, q.user);
        if (!user) throw notFound(`No user ${q.user} on ${platform.issuer}.`);
        await authorize(db, principal, { platformId: platform.id, userId: user.id });
        res.json(await learnerView(db, deps, platform, user, q.referential as string, q.version));
        return;
      }
      const course = await findCourse(db, platform.id, q.context as string);
      if (!course) throw notFound(`No course ${q.context} on ${platform.issuer}.`);
      await authorize(db, principal, { platformId: platform.id, courseId: course.id });
      res.json(await courseView(db, deps, platform, course, { referentialId: q.referential, limit: q.limit ?? 500, after: q.after }));
    }),
  );
  return router;
}
