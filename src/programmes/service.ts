/**
 * Programmes (formations) of a platform: a référentiel version, its courses, an intake year and a due date.
 * Added, listed, shown and changed here (input parsed with zod, audited, one platform's own only); the forecasts of
 * their learners are `forecasts.ts`.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { auditEvents, courses, programmeCourses, programmes } from '../db/schema';
import type { Executor } from '../db/store';
import { conflict, invalid, notFound, zodDetails } from '../domain/errors';
import { dayNumber, defaultDueDate, intakeStart, intakeYearSchema, isoDateSchema } from '../domain/forecast';
import { getReferential } from '../referentials/catalogue';
import { requiredMinutesOf } from './forecasts';

export type ProgrammeRow = typeof programmes.$inferSelect;

/** `id` or `id@version` (the latest stored version when the version is absent). */
export const referentialRefSchema = z
  .string()
  .trim()
  .regex(/^[^@\s]+(@[^@\s]+)?$/, 'expected <id> or <id>@<version>');

const name = z.string().trim().min(1, 'required').max(200);
const category = z.string().trim().min(1).max(200);
/** Course context ids (Moodle course ids) of the platform, at least one, each once. */
const courseIds = z
  .array(z.string().trim().min(1).max(255))
  .min(1, 'at least one course')
  .max(500)
  .transform((ids) => [...new Set(ids)]);

export const programmeInputSchema = z.object({
  name,
  referential: referentialRefSchema,
  courses: courseIds,
  category: category.optional(),
  intakeYear: intakeYearSchema,
  dueDate: isoDateSchema.optional(),
});
export type ProgrammeInput = z.input<typeof programmeInputSchema>;

/** A change: absent fields are kept; `category: null` clears it. */
export const programmeChangeSchema = z.object({
  name: name.optional(),
  referential: referentialRefSchema.optional(),
  courses: courseIds.optional(),
  category: category.nullable().optional(),
  intakeYear: intakeYearSchema.optional(),
  dueDate: isoDateSchema.optional(),
});
export type ProgrammeChange = z.input<typeof programmeChangeSchema>;

export interface ProgrammeDetail {
  id: number;
  name: string;
  referential: { id: string; version: string; title: string };
  intakeYear: number;
  dueDate: string;
  category: string | null;
  courses: { id: number; contextId: string; title: string | null }[];
  createdAt: string;
  updatedAt: string;
}

function parse<T extends z.ZodTypeAny>(schema: T, input: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(`Invalid ${what}.`, zodDetails(parsed.error));
  return parsed.data;
}

/** The référentiel version of `ref` (`id` or `id@version`), which must have hours (a deadline is counted in hours). */
async function resolveReferential(ex: Executor, ref: string) {
  const [id = '', version] = ref.split('@');
  const found = await getReferential(ex, id, version);
  if (!found) throw invalid(`Unknown référentiel ${ref}.`, [{ path: 'referential', message: 'not in the catalogue (socle referentials list)' }]);
  if (!requiredMinutesOf(found)) {
    throw invalid(`The référentiel ${found.id}@${found.version} has no hours: a programme's forecast counts hours.`, [
      { path: 'referential', message: 'a référentiel with hours is required' },
    ]);
  }
  return found;
}

/** The platform's courses of these context ids, every one known (else invalid, naming the unknown ones). */
async function resolveCourses(ex: Executor, platformId: number, contextIds: readonly string[]) {
  const rows = await ex
    .select({ id: courses.id, contextId: courses.contextId })
    .from(courses)
    .where(and(eq(courses.platformId, platformId), inArray(courses.contextId, [...contextIds])));
  const known = new Set(rows.map((r) => r.contextId));
  const unknown = contextIds.filter((c) => !known.has(c));
  if (unknown.length) {
    throw invalid(`Unknown course(s) on this platform: ${unknown.join(', ')}.`, [{ path: 'courses', message: `unknown: ${unknown.join(', ')}` }]);
  }
  return rows;
}

function checkDates(intakeYear: number, dueDate: string) {
  if (dayNumber(dueDate) <= dayNumber(intakeStart(intakeYear))) {
    throw invalid(`The due date ${dueDate} is not after the intake's start (${intakeStart(intakeYear)}).`, [
      { path: 'dueDate', message: `must be after ${intakeStart(intakeYear)}` },
    ]);
  }
}

async function nameTaken(ex: Executor, platformId: number, value: string, except?: number) {
  const rows = await ex
    .select({ id: programmes.id })
    .from(programmes)
    .where(and(eq(programmes.platformId, platformId), eq(programmes.name, value)));
  if (rows.some((r) => r.id !== except)) {
    throw conflict(`A programme named "${value}" already exists on this platform.`, [{ path: 'name', message: 'already used' }]);
  }
}

const audited = (d: ProgrammeDetail) => ({
  name: d.name,
  referential: `${d.referential.id}@${d.referential.version}`,
  intakeYear: d.intakeYear,
  dueDate: d.dueDate,
  category: d.category,
  courses: d.courses.map((c) => c.contextId),
});

/** Adds a programme to the platform. Audited as `programme.add` on `programme:<id>`. */
export async function addProgramme(ex: Executor, platform: { id: number; issuer: string }, input: unknown, actor: string): Promise<ProgrammeDetail> {
  const p = parse(programmeInputSchema, input, 'programme');
  const dueDate = p.dueDate ?? defaultDueDate(p.intakeYear);
  checkDates(p.intakeYear, dueDate);
  return ex.transaction(async (tx) => {
    const referential = await resolveReferential(tx, p.referential);
    const found = await resolveCourses(tx, platform.id, p.courses);
    await nameTaken(tx, platform.id, p.name);
    const [row] = await tx
      .insert(programmes)
      .values({
        platformId: platform.id,
        name: p.name,
        referentialId: referential.id,
        referentialVersion: referential.version,
        intakeYear: p.intakeYear,
        dueDate,
        category: p.category ?? null,
      })
      .returning();
    if (!row) throw new Error('cannot store the programme');
    await tx.insert(programmeCourses).values(found.map((c) => ({ programmeId: row.id, courseId: c.id })));
    const detail = await showProgramme(tx, platform.id, row.id);
    await tx.insert(auditEvents).values({ actor, action: 'programme.add', subject: `programme:${row.id}`, before: null, after: audited(detail) });
    return detail;
  });
}

/** Changes a programme of the platform (not found for another platform's). Audited as `programme.set`. */
export async function setProgramme(
  ex: Executor,
  platform: { id: number; issuer: string },
  programmeId: number,
  change: unknown,
  actor: string,
): Promise<ProgrammeDetail> {
  const c = parse(programmeChangeSchema, change, 'programme change');
  return ex.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM programmes WHERE id = ${programmeId} AND platform_id = ${platform.id} FOR UPDATE`);
    const before = await showProgramme(tx, platform.id, programmeId);
    const intakeYear = c.intakeYear ?? before.intakeYear;
    // a due date left at its default follows a new intake year
    const dueDate = c.dueDate ?? (c.intakeYear !== undefined && before.dueDate === defaultDueDate(before.intakeYear) ? defaultDueDate(intakeYear) : before.dueDate);
    checkDates(intakeYear, dueDate);
    const referential = c.referential === undefined ? undefined : await resolveReferential(tx, c.referential);
    const found = c.courses === undefined ? undefined : await resolveCourses(tx, platform.id, c.courses);
    if (c.name !== undefined) await nameTaken(tx, platform.id, c.name, programmeId);
    await tx
      .update(programmes)
      .set({
        ...(c.name !== undefined ? { name: c.name } : {}),
        ...(referential ? { referentialId: referential.id, referentialVersion: referential.version } : {}),
        ...(c.category !== undefined ? { category: c.category } : {}),
        intakeYear,
        dueDate,
        updatedAt: new Date(),
      })
      .where(and(eq(programmes.id, programmeId), eq(programmes.platformId, platform.id)));
    if (found) {
      await tx.delete(programmeCourses).where(eq(programmeCourses.programmeId, programmeId));
      await tx.insert(programmeCourses).values(found.map((x) => ({ programmeId, courseId: x.id })));
    }
    const after = await showProgramme(tx, platform.id, programmeId);
    await tx.insert(auditEvents).values({ actor, action: 'programme.set', subject: `programme:${programmeId}`, before: audited(before), after: audited(after) });
    return after;
  });
}

/** The programmes of the platform, by name, each with its courses. */
export async function listProgrammes(ex: Executor, platformId: number): Promise<ProgrammeDetail[]> {
  const rows = await ex.select().from(programmes).where(eq(programmes.platformId, platformId)).orderBy(asc(programmes.name), asc(programmes.id));
  return details(ex, rows);
}

/** One programme of the platform, or not found (another platform's programme is not found either). */
export async function showProgramme(ex: Executor, platformId: number, programmeId: number): Promise<ProgrammeDetail> {
  const rows = await ex
    .select()
    .from(programmes)
    .where(and(eq(programmes.id, programmeId), eq(programmes.platformId, platformId)));
  const [detail] = await details(ex, rows);
  if (!detail) throw notFound(`No programme ${programmeId} on this platform.`);
  return detail;
}

async function details(ex: Executor, rows: ProgrammeRow[]): Promise<ProgrammeDetail[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const linked = await ex
    .select({ programmeId: programmeCourses.programmeId, id: courses.id, contextId: courses.contextId, title: courses.title })
    .from(programmeCourses)
    .innerJoin(courses, eq(courses.id, programmeCourses.courseId))
    .where(inArray(programmeCourses.programmeId, ids))
    .orderBy(asc(courses.title), asc(courses.contextId));
  const titles = new Map<string, string>();
  for (const r of rows) {
    const key = `${r.referentialId}@${r.referentialVersion}`;
    if (!titles.has(key)) titles.set(key, (await getReferential(ex, r.referentialId, r.referentialVersion))?.title ?? r.referentialId);
  }
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    referential: { id: r.referentialId, version: r.referentialVersion, title: titles.get(`${r.referentialId}@${r.referentialVersion}`) ?? r.referentialId },
    intakeYear: r.intakeYear,
    dueDate: r.dueDate,
    category: r.category,
    courses: linked.filter((l) => l.programmeId === r.id).map(({ id, contextId, title }) => ({ id, contextId, title })),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }));
}
