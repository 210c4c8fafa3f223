/** The admin page's learner search: by name or id, paged, within the administrator's platform; each hit opens the learner's page. */
import type { Express, Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { LEARNER_PAGE_SIZE, searchLearners } from '../src/identity/learners';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { ADMIN_BASE, adminSession, sendSection, wantsJson } from './admin-shared';
import { learnerPath } from './learner';
import { requireRole, type LtiSession } from './session';

const searchQuery = z.object({
  q: z.string().max(100, 'at most 100 characters').optional().default(''),
  page: z.coerce.number().int().min(1).max(10_000).optional().default(1),
});

/** The section: the form, and the hits when the page was asked with `?q=`. */
export async function learnersPanel(ctx: AppContext, s: LtiSession, query: Request['query'] = {}) {
  const q = searchQuery.safeParse({ q: query.q, page: query.page });
  const search = q.success && typeof query.q === 'string' ? q.data : undefined;
  return {
    learnerSearch: {
      url: `${ADMIN_BASE}/learners`,
      q: search?.q ?? '',
      ...(search ? { results: await results(ctx, s, search) } : {}),
    },
  };
}

async function results(ctx: AppContext, s: LtiSession, search: { q: string; page: number }) {
  const { hits, total } = await searchLearners(ctx.store.db, s.platform.id, { query: search.q, page: search.page });
  const pages = Math.max(1, Math.ceil(total / LEARNER_PAGE_SIZE));
  const ltik = encodeURIComponent(s.ltik);
  const link = (page: number) => `${ADMIN_BASE}/learners?ltik=${ltik}&q=${encodeURIComponent(search.q)}&page=${page}`;
  return {
    total,
    page: Math.min(search.page, pages),
    pages,
    hits: hits.map((h) => ({ ...h, url: `${learnerPath(h.id)}?ltik=${ltik}` })),
    previousUrl: search.page > 1 ? link(search.page - 1) : undefined,
    nextUrl: search.page < pages ? link(search.page + 1) : undefined,
  };
}

export function adminLearnerRoutes(ctx: AppContext, app: Express): void {
  app.get(
    '/admin/learners',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const search = parseOr400(searchQuery, { q: req.query.q, page: req.query.page }, 'query');
      const found = await results(ctx, s, search);
      if (wantsJson(req)) {
        res.json({ total: found.total, page: found.page, pages: found.pages, learners: found.hits.map(({ id, sub, name, courses }) => ({ id, sub, name, courses })) });
        return;
      }
      sendSection(ctx, req, res, req.get('HX-Target') === 'learner-results' ? 'admin-learner-results' : 'admin-learners', {
        learnerSearch: { url: `${ADMIN_BASE}/learners`, q: search.q, results: found },
      });
    }),
  );
}
