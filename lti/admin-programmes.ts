/**
 * The admin page's programmes: the list of the session's platform's programmes, a form to add one and one to edit
 * one (courses picked from the platform's known courses). Saved through src/programmes/service.ts (validated,
 * audited under the administrator); a refused form comes back with what was typed and why, nothing saved.
 */
import { asc, eq } from 'drizzle-orm';
import type { Express, Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { courses } from '../src/db/schema';
import { type ErrorDetail, SocleError } from '../src/domain/errors';
import { formatDate } from '../src/domain/format';
import { addProgramme, listProgrammes, type ProgrammeDetail, setProgramme, showProgramme } from '../src/programmes/service';
import { listReferentials } from '../src/referentials/catalogue';
import { asyncHandler, parseOr400 } from '../src/web/http';
import '../src/web/texts/programmes';
import { ADMIN_BASE, adminActor, adminSession, sendSection, wantsJson } from './admin-shared';
import { requireRole, type LtiSession } from './session';

/** The fields of the form as typed (text), before the service parses them. */
interface FormValues {
  name: string;
  referential: string;
  courses: string[];
  category: string;
  intakeYear: string;
  dueDate: string;
}

const idParam = z.object({ id: z.coerce.number().int().min(1).max(2_147_483_647) });

const text = (v: unknown) => (typeof v === 'string' ? v : '');
const formValues = (body: Record<string, unknown>): FormValues => ({
  name: text(body.name),
  referential: text(body.referential),
  courses: (Array.isArray(body.courses) ? body.courses : body.courses === undefined ? [] : [body.courses]).filter((c): c is string => typeof c === 'string'),
  category: text(body.category),
  intakeYear: text(body.intakeYear),
  dueDate: text(body.dueDate),
});

const valuesOf = (p: ProgrammeDetail): FormValues => ({
  name: p.name,
  referential: `${p.referential.id}@${p.referential.version}`,
  courses: p.courses.map((c) => c.contextId),
  category: p.category ?? '',
  intakeYear: String(p.intakeYear),
  dueDate: p.dueDate,
});

/** What the service receives from the form: an empty due date is the default, an empty category none. */
function inputOf(v: FormValues, editing: boolean) {
  return {
    name: v.name,
    referential: v.referential,
    courses: v.courses,
    ...(v.category.trim() ? { category: v.category } : editing ? { category: null } : {}),
    intakeYear: /^\d+$/.test(v.intakeYear.trim()) ? Number(v.intakeYear) : v.intakeYear,
    ...(v.dueDate.trim() ? { dueDate: v.dueDate.trim() } : {}),
  };
}

/**
 * The section: the programmes, and the form (empty to add one, or the programme `editing`); `submitted` is what a
 * refused form held, with the reasons per field.
 */
export async function programmesPanel(
  ctx: AppContext,
  s: LtiSession,
  options: { editing?: ProgrammeDetail; submitted?: { values: FormValues; errors: ErrorDetail[] }; saved?: boolean } = {},
) {
  const db = ctx.store.db;
  const list = await listProgrammes(db, s.platform.id);
  const known = await db
    .select({ contextId: courses.contextId, title: courses.title })
    .from(courses)
    .where(eq(courses.platformId, s.platform.id))
    .orderBy(asc(courses.title), asc(courses.contextId));
  const referentials = (await listReferentials(db)).filter((r) => r.requiredMinutes !== null && r.requiredMinutes > 0);
  const errors: Record<string, string> = {};
  for (const d of options.submitted?.errors ?? []) errors[d.path.split('.')[0] ?? d.path] ??= d.message;
  const values = options.submitted?.values ?? (options.editing ? valuesOf(options.editing) : { name: '', referential: '', courses: [], category: '', intakeYear: '', dueDate: '' });
  const ltik = encodeURIComponent(s.ltik);
  const date = (d: string) => formatDate(`${d}T12:00:00Z`, { locale: s.locale, style: 'long', timeZone: 'UTC' });
  return {
    programmes: {
      list: list.map((p) => ({ ...p, due: date(p.dueDate), editUrl: `${ADMIN_BASE}/programmes/${p.id}?ltik=${ltik}`, editPath: `${ADMIN_BASE}/programmes/${p.id}` })),
      courses: known,
      referentials: referentials.map((r) => ({ value: `${r.id}@${r.version}`, label: `${r.title} (${r.version})` })),
      form: {
        action: options.editing ? `${ADMIN_BASE}/programmes/${options.editing.id}` : `${ADMIN_BASE}/programmes`,
        editing: options.editing ? { id: options.editing.id, name: options.editing.name } : undefined,
        values,
        errors,
        invalid: Boolean(options.submitted),
      },
      saved: options.saved ?? false,
      cancelUrl: `${ADMIN_BASE}?ltik=${ltik}#programmes`,
    },
  };
}

/** Saves the form (add or edit); a refusal answers the form again with the reasons (400, or 409 for a taken name). */
async function save(ctx: AppContext, req: Request, res: Response, editingId?: number) {
  const s = adminSession(req);
  const db = ctx.store.db;
  const editing = editingId === undefined ? undefined : await showProgramme(db, s.platform.id, editingId);
  const values = formValues((req.body ?? {}) as Record<string, unknown>);
  try {
    const saved = editing
      ? await setProgramme(db, s.platform, editing.id, inputOf(values, true), adminActor(s))
      : await addProgramme(db, s.platform, inputOf(values, false), adminActor(s));
    if (wantsJson(req)) {
      res.json(saved);
      return;
    }
    sendSection(ctx, req, res, 'admin-programmes', await programmesPanel(ctx, s, { saved: true }));
  } catch (error) {
    if (wantsJson(req) || !SocleError.is(error, 'invalid_request', 'conflict')) throw error;
    const status = error.code === 'conflict' ? 409 : 400;
    sendSection(ctx, req, res, 'admin-programmes', await programmesPanel(ctx, s, { ...(editing ? { editing } : {}), submitted: { values, errors: error.details } }), status);
  }
}

export function adminProgrammeRoutes(ctx: AppContext, app: Express): void {
  app.post(
    '/admin/programmes',
    requireRole(ctx, 'administrator'),
    asyncHandler((req, res) => save(ctx, req, res)),
  );
  // the edit form of one programme (of the session's platform only)
  app.get(
    '/admin/programmes/:id',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => {
      const s = adminSession(req);
      const { id } = parseOr400(idParam, req.params, 'path');
      const editing = await showProgramme(ctx.store.db, s.platform.id, id);
      if (wantsJson(req)) {
        res.json(editing);
        return;
      }
      sendSection(ctx, req, res, 'admin-programmes', await programmesPanel(ctx, s, { editing }));
    }),
  );
  app.post(
    '/admin/programmes/:id',
    requireRole(ctx, 'administrator'),
    asyncHandler(async (req, res) => save(ctx, req, res, parseOr400(idParam, req.params, 'path').id)),
  );
}
