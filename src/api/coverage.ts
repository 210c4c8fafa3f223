import express, { type Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { coverageDeps } from '../coverage/deps';
import { courseView, learnerView, MAX_PAGE } from '../coverage/read';
import { findCourse, findPlatform, findUser } from '../identity/records';
import { asyncHandler, parseOr400 } from '../web/http';
import { invalid, notFound } from '../domain/errors';
import { authorize, resolvePrincipal, type SessionResolver } from './principal';
import { queryInteger } from './schemas';

const DEFAULT_PAGE = 500;

export const query = z
  .object({
    platform: z.string().min(1, 'expected the platform issuer').describe('the LTI issuer (Moodle wwwroot)'),
    user: z.string().min(1).optional().describe('the LTI sub (Moodle user id); with referential'),
    context: z.string().min(1).optional().describe('the LTI context id (Moodle course id)'),
    referential: z.string().min(1).optional().describe('référentiel id (required with user)'),
    version: z.string().min(1).optional().describe("référentiel version; default: the learner's latest"),
    limit: queryInteger('expected a whole number')
      .pipe(z.number().int().min(1).max(MAX_PAGE))
      .meta({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
      .default(DEFAULT_PAGE)
      .describe('course: learners per page'),
    after: queryInteger('expected the `next` cursor of the previous page').optional().describe('course: the `next` cursor of the previous page'),
  })
  .strict();

/** GET /api/v1/coverage (one learner or a course). */
export function coverageRouter(ctx: AppContext, sessions: SessionResolver): Router {
  const router = express.Router();
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
      res.json(await courseView(db, deps, platform, course, { referentialId: q.referential, limit: q.limit, after: q.after }));
    }),
  );
  return router;
}
