import { sql } from 'drizzle-orm';
import express, { type Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { coverageDeps } from '../coverage/deps';
import { courseView, hours, learnerView, MAX_PAGE } from '../coverage/read';
import { type Executor, queryRows } from '../db/store';
import { findCourse, findPlatform, findUser } from '../identity/records';
import { forecastDay, type LearnerForecast, referentialForecasts } from '../programmes/forecasts';
import type { forecast } from './schemas';
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

/** A learner's forecast as the API answers it: hours, like the rest of the coverage. */
export function forecastJson(f: LearnerForecast): z.infer<typeof forecast> {
  return {
    status: f.status,
    dueDate: f.dueDate,
    daysLeft: f.daysLeft,
    programme: { id: f.programmeId, name: f.programmeName },
    expectedHours: hours(f.expectedMinutes) ?? 0,
    missingHours: hours(f.missingMinutes) ?? 0,
    mappableHours: hours(f.mappableMinutes) ?? 0,
    shortDomains: f.shortDomains,
  };
}

/** The forecasts of these learners (by sub) for one référentiel version, at today in the institution's time zone. */
async function forecastsBySub(ctx: AppContext, ex: Executor, platformId: number, referential: { id: string; version: string }, subs: readonly string[]) {
  // (stale coverage of these learners is recomputed first, as the coverage views do)
  if (!subs.length) return new Map<string, LearnerForecast>();
  const users = await queryRows<{ id: number }>(
    ex,
    sql`SELECT id FROM users WHERE platform_id = ${platformId} AND sub IN (SELECT jsonb_array_elements_text(${JSON.stringify(subs)}::jsonb))`,
  );
  const today = await forecastDay(ex, platformId, ctx.clock());
  const found = await referentialForecasts(ex, platformId, referential, users.map((u) => u.id), today, coverageDeps(ctx, ex));
  return new Map([...found.values()].map((f) => [f.user.sub, f]));
}

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
        const view = await learnerView(db, deps, platform, user, q.referential as string, q.version);
        const f = (await forecastsBySub(ctx, db, platform.id, view.referential, [user.sub])).get(user.sub);
        res.json({ ...view, ...(f ? { forecast: forecastJson(f) } : {}) });
        return;
      }
      const course = await findCourse(db, platform.id, q.context as string);
      if (!course) throw notFound(`No course ${q.context} on ${platform.issuer}.`);
      await authorize(db, principal, { platformId: platform.id, courseId: course.id });
      const view = await courseView(db, deps, platform, course, { referentialId: q.referential, limit: q.limit, after: q.after });
      const forecasts = await forecastsBySub(ctx, db, platform.id, view.referential, view.learners.map((l) => l.user.sub));
      res.json({
        ...view,
        learners: view.learners.map((l) => {
          const f = forecasts.get(l.user.sub);
          return f ? { ...l, forecast: forecastJson(f) } : l;
        }),
      });
    }),
  );
  return router;
}
