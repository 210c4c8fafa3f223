/**
 * The admin page's référentiel versions: a platform's change of version (src/transitions/). The versions in use that
 * have a later one are offered; a transition's correspondence table (a select per old competency, with the proposal's
 * reason) is edited here, its preview says who changes and by how many hours, and it is applied after confirmation
 * (the losses explicitly accepted when there are any). Only the session's platform is read or changed.
 */
import type { Express, Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { coverageDeps } from '../src/coverage/deps';
import { invalid } from '../src/domain/errors';
import { formatDate, formatMinutes } from '../src/domain/format';
import { correspondenceEditSchema, type TransitionReport } from '../src/domain/referential-transition';
import {
  applyTransition,
  editTransition,
  fromOf,
  getTransition,
  listTransitions,
  outlinesOf,
  parseVersionRef,
  previewTransition,
  proposeTransition,
  refText,
  reportCsv,
  reportLearners,
  toOf,
  type Transition,
  versionsInUse,
} from '../src/transitions/service';
import { asyncHandler, parseOr400 } from '../src/web/http';
import { ADMIN_BASE, adminActor, adminSession, sendSection, wantsJson } from './admin-shared';
import { requireRole, type LtiSession } from './session';

/** How many learners the section lists (the CSV has them all). */
const SHOWN_LEARNERS = 100;

const idParams = z.object({ id: z.coerce.number().int().positive().max(2_147_483_647) });
const proposeBody = z.object({ versions: z.string({ error: 'required' }).regex(/^[^>]+>[^>]+$/, 'two versions <id@version>><id@version>') });
const applyBody = z.object({ confirm: z.literal('on', { error: 'confirm the application' }), acceptLosses: z.literal('on').optional() });
/** The table's selects: `to:<old key>` = a new key, or `none`. */
const editBody = z
  .record(z.string(), z.unknown())
  .transform((fields) =>
    Object.entries(fields)
      .filter(([k]) => k.startsWith('to:'))
      .map(([k, v]) => ({ from: k.slice(3), to: v === 'none' ? null : v })),
  )
  .pipe(z.array(correspondenceEditSchema));

/** A transition opened in the section: its table with the choices, and the preview (draft) or the report (applied). */
async function openView(ctx: AppContext, s: LtiSession, t: Transition) {
  const db = ctx.store.db;
  const deps = coverageDeps(ctx, db);
  const outlines = await outlinesOf(deps, fromOf(t), toOf(t));
  const olds = new Map(outlines.from.domains.flatMap((d) => d.competencies.map((c) => [c.key, c])));
  const options = outlines.to.domains.flatMap((d) => d.competencies.map((c) => ({ key: c.key, label: `${c.code} ${c.title}` })));
  const report: TransitionReport = t.status === 'applied' && t.report ? t.report : await previewTransition(db, deps, t);
  const people = await reportLearners(db, s.platform.id, report);
  const url = `${ADMIN_BASE}/transitions/${t.id}`;
  return {
    id: t.id,
    url,
    applyUrl: `${url}/apply`,
    csvUrl: `${url}/report.csv`,
    from: refText(fromOf(t)),
    to: refText(toOf(t)),
    applied: t.status === 'applied',
    appliedAt: t.appliedAt ? formatDate(t.appliedAt, { locale: s.locale, style: 'dateTime', timeZone: s.timeZone }) : null,
    rows: t.correspondence.map((e) => {
      const old = olds.get(e.from);
      return { from: e.from, label: old ? `${old.code} ${old.title}` : e.from, to: e.to, reason: e.reason };
    }),
    options,
    report: {
      ...report,
      shown: people.slice(0, SHOWN_LEARNERS).map((p) => ({
        sub: p.sub,
        name: p.name,
        lost: p.lost,
        before: formatMinutes(p.before),
        after: formatMinutes(p.after),
        domains: p.domains.filter((d) => d.before !== d.after).map((d) => ({ code: d.code, before: formatMinutes(d.before), after: formatMinutes(d.after) })),
      })),
      more: Math.max(0, people.length - SHOWN_LEARNERS),
    },
  };
}

/** The section: the versions one may move from, the platform's transitions, and the one opened. */
export async function transitionsPanel(ctx: AppContext, s: LtiSession, open?: Transition) {
  const db = ctx.store.db;
  const list = await listTransitions(db, s.platform.id);
  const candidates = (await versionsInUse(db, s.platform.id)).flatMap((c) =>
    c.later.map((l) => ({ value: `${refText(c.from)}>${refText(l)}`, label: `${c.from.title} : ${c.from.version} → ${l.version}` })),
  );
  return {
    transitions: {
      url: `${ADMIN_BASE}/transitions`,
      candidates,
      list: list.map((t) => ({
        id: t.id,
        from: refText(fromOf(t)),
        to: refText(toOf(t)),
        applied: t.status === 'applied',
        url: `${ADMIN_BASE}/transitions/${t.id}`,
      })),
      ...(open ? { open: await openView(ctx, s, open) } : {}),
    },
  };
}

export function adminTransitionRoutes(ctx: AppContext, app: Express): void {
  const admin = requireRole(ctx, 'administrator');
  const answer = async (req: Request, res: Parameters<typeof sendSection>[2], t: Transition, extra: Record<string, unknown> = {}, status = 200) => {
    const s = adminSession(req);
    const panel = await transitionsPanel(ctx, s, t);
    if (wantsJson(req)) {
      res.status(status).json({ transition: { id: t.id, from: refText(fromOf(t)), to: refText(toOf(t)), status: t.status, correspondence: t.correspondence }, report: panel.transitions.open?.report });
      return;
    }
    sendSection(ctx, req, res, 'admin-transitions', { ...panel, ...extra }, status);
  };
  app.get(
    '/admin/transitions/:id',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { id } = parseOr400(idParams, req.params, 'params');
      await answer(req, res, await getTransition(ctx.store.db, s.platform.id, { id }));
    }),
  );
  app.post(
    '/admin/transitions',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { versions } = parseOr400(proposeBody, req.body ?? {}, 'body');
      const [from = '', to = ''] = versions.split('>');
      const pair = { from: parseVersionRef(from, 'versions'), to: parseVersionRef(to, 'versions') };
      const t = await ctx.store.db.transaction((tx) => proposeTransition(tx, coverageDeps(ctx, tx), { platformId: s.platform.id, ...pair, actor: adminActor(s) }));
      await answer(req, res, t, {}, 201);
    }),
  );
  app.post(
    '/admin/transitions/:id',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { id } = parseOr400(idParams, req.params, 'params');
      const edits = parseOr400(editBody, req.body ?? {}, 'body');
      if (edits.length === 0) throw invalid('Nothing to change: the form sends one choice per old competency.', [{ path: 'body', message: 'no to:<key> field' }]);
      const db = ctx.store.db;
      const t = await db.transaction(async (tx) => {
        const current = await getTransition(tx, s.platform.id, { id });
        // only the rows that differ are edits: an unchanged proposal keeps its reason
        const changed = edits.filter((e) => current.correspondence.find((r) => r.from === e.from)?.to !== e.to);
        return changed.length ? editTransition(tx, coverageDeps(ctx, tx), current, changed, adminActor(s)) : current;
      });
      await answer(req, res, t, { saved: true });
    }),
  );
  app.post(
    '/admin/transitions/:id/apply',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { id } = parseOr400(idParams, req.params, 'params');
      const b = parseOr400(applyBody, req.body ?? {}, 'body');
      const result = await applyTransition(ctx.store.db, ctx, { platformId: s.platform.id, id, actor: adminActor(s), acceptLosses: b.acceptLosses === 'on' });
      await answer(req, res, result.transition, { appliedNow: { learners: result.coverage.learners, deferred: result.coverage.deferred } });
    }),
  );
  app.get(
    '/admin/transitions/:id/report.csv',
    admin,
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { id } = parseOr400(idParams, req.params, 'params');
      const db = ctx.store.db;
      const t = await getTransition(db, s.platform.id, { id });
      const report = t.status === 'applied' && t.report ? t.report : await previewTransition(db, coverageDeps(ctx, db), t);
      const csv = reportCsv(t, await reportLearners(db, s.platform.id, report));
      res
        .type('text/csv; charset=utf-8')
        .set('Content-Disposition', `attachment; filename="transition-${t.id}-${t.status === 'applied' ? 'rapport' : 'apercu'}.csv"`)
        .send(csv);
    }),
  );
}
