import { and, eq, ne } from 'drizzle-orm';
import { auditEvents, courses, courseSettings, platformSettings, xapiActivities } from '../db/schema';
import type { Executor } from '../db/store';
import { coverageDeps, type CoverageServices } from '../coverage/deps';
import { afterCoursePolicyChange, afterPlatformPolicyChange } from '../coverage/freshness';
import type { Course } from '../identity/records';
import { getReferential, listVersions } from '../referentials/catalogue';
import type { Referential } from '../domain/referential';
import { parseMappingCsv, writeMappingCsv } from './csv';
import type { MappingEntry } from '../domain/mapping';
import { invalid, notFound, SocleError } from '../domain/errors';
import { getMapping, listActivities, type ListedActivity, type ProblemPath, saveMapping, type SeenActivity, translateMapping } from './service';

/**
 * What the teacher's screen, its HTTP endpoints and the CLI do with one course: its référentiel version, its
 * crediting policy, its activities and mapping, CSV import/export and copy from another course. Every write is
 * audited with the actor (`lti:<issuer>#<sub>` or `cli`).
 */

export interface CourseReferential {
  referential: Referential | undefined;
  /** Where the choice comes from: the course's own setting, the platform's default, or nothing yet. */
  source: 'course' | 'platform' | 'none';
  /** Set when the chosen id/version is not (or no longer) in the catalogue. */
  missing?: string;
}

/** The référentiel version the course maps to: its own setting, else the platform's default. */
export async function courseReferential(ex: Executor, course: Course): Promise<CourseReferential> {
  let id = course.referentialId;
  let version = course.referentialVersion;
  let source: CourseReferential['source'] = 'course';
  if (!id) {
    const [settings] = await ex.select().from(platformSettings).where(eq(platformSettings.platformId, course.platformId));
    id = settings?.defaultReferentialId ?? null;
    version = settings?.defaultReferentialVersion ?? null;
    source = 'platform';
  }
  if (!id) return { referential: undefined, source: 'none' };
  const referential = await getReferential(ex, id, version ?? undefined);
  return referential ? { referential, source } : { referential: undefined, source, missing: `${id}${version ? ` ${version}` : ''}` };
}

/** The stored référentiel version `id` (latest when `version` is not given), or `invalid_request` saying what exists. */
export async function findReferentialChoice(ex: Executor, referentialId: string, version?: string): Promise<Referential> {
  const referential = await getReferential(ex, referentialId, version);
  if (referential) return referential;
  const versions = await listVersions(ex, referentialId);
  throw invalid(
    versions.length
      ? `No version ${version} of référentiel ${referentialId} (stored versions: ${versions.join(', ')}).`
      : `No référentiel ${referentialId} (socle referentials list shows them).`,
    [versions.length ? { path: 'version', message: `unknown version ${version}` } : { path: 'referentialId', message: `unknown référentiel ${referentialId}` }],
  );
}

/**
 * Sets the course's référentiel version (the latest stored when `version` is not given). The mapping made for the
 * previous version stays stored under that version; the new one starts from its own (possibly empty) mapping.
 */
export async function setCourseReferential(
  ex: Executor,
  input: { course: Course; referentialId: string; version?: string | undefined; actor: string },
): Promise<Referential> {
  const referential = await findReferentialChoice(ex, input.referentialId, input.version);
  await ex.transaction(async (tx) => {
    await tx.update(courses).set({ referentialId: referential.id, referentialVersion: referential.version }).where(eq(courses.id, input.course.id));
    await tx.insert(auditEvents).values({
      actor: input.actor,
      action: 'course.referential',
      subject: `course:${input.course.id}`,
      before: { referential: input.course.referentialId ? `${input.course.referentialId}@${input.course.referentialVersion ?? ''}` : null },
      after: { referential: `${referential.id}@${referential.version}` },
    });
  });
  return referential;
}

export interface Crediting {
  /** Credit only completions whose statement says `success: true` (when it carries `success`). */
  requireSuccess: boolean;
  /** Credit the lesser of the mapped hours and the measured `result.duration`, when the statement carries one. */
  capToMeasuredDuration: boolean;
}

/** The course's crediting policy (its override, else the platform's default) and the platform's default. */
export async function coursePolicy(ex: Executor, course: Course): Promise<Crediting & { platform: Crediting; overridden: boolean }> {
  const [p] = await ex.select().from(platformSettings).where(eq(platformSettings.platformId, course.platformId));
  const [c] = await ex.select().from(courseSettings).where(eq(courseSettings.courseId, course.id));
  const platform = { requireSuccess: p?.requireSuccess ?? false, capToMeasuredDuration: p?.capToMeasuredDuration ?? false };
  return {
    requireSuccess: c?.requireSuccess ?? platform.requireSuccess,
    capToMeasuredDuration: c?.capToMeasuredDuration ?? platform.capToMeasuredDuration,
    platform,
    overridden: c?.requireSuccess !== null && c?.requireSuccess !== undefined,
  };
}

export async function setCoursePolicy(ex: Executor, services: CoverageServices, input: { course: Course; policy: Crediting; actor: string }) {
  await ex.transaction(async (tx) => {
    const before = await coursePolicy(tx, input.course);
    const set = { requireSuccess: input.policy.requireSuccess, capToMeasuredDuration: input.policy.capToMeasuredDuration };
    await tx
      .insert(courseSettings)
      .values({ courseId: input.course.id, ...set })
      .onConflictDoUpdate({ target: courseSettings.courseId, set: { ...set, updatedAt: new Date() } });
    await tx.insert(auditEvents).values({
      actor: input.actor,
      action: 'course.policy',
      subject: `course:${input.course.id}`,
      before: { requireSuccess: before.requireSuccess, capToMeasuredDuration: before.capToMeasuredDuration },
      after: set,
    });
    // the credits of past completions follow the policy (the course's learners, in this transaction or by the worker)
    if (before.requireSuccess !== set.requireSuccess || before.capToMeasuredDuration !== set.capToMeasuredDuration) {
      await afterCoursePolicyChange(tx, coverageDeps(services, tx), input.course.id);
    }
  });
  return coursePolicy(ex, input.course);
}

/** The platform's defaults: référentiel for new courses and crediting policy of courses without their own; audited. */
export async function setPlatformDefaults(
  ex: Executor,
  services: CoverageServices,
  input: { platformId: number; referential?: { id: string; version: string }; policy: Crediting; actor: string },
) {
  const set = {
    ...(input.referential ? { defaultReferentialId: input.referential.id, defaultReferentialVersion: input.referential.version } : {}),
    requireSuccess: input.policy.requireSuccess,
    capToMeasuredDuration: input.policy.capToMeasuredDuration,
  };
  await ex.transaction(async (tx) => {
    const [before] = await tx.select().from(platformSettings).where(eq(platformSettings.platformId, input.platformId));
    await tx
      .insert(platformSettings)
      .values({ platformId: input.platformId, ...set })
      .onConflictDoUpdate({ target: platformSettings.platformId, set: { ...set, updatedAt: new Date() } });
    await tx.insert(auditEvents).values({
      actor: input.actor,
      action: 'platform.defaults',
      subject: `platform:${input.platformId}`,
      before: before
        ? {
            defaultReferentialId: before.defaultReferentialId,
            defaultReferentialVersion: before.defaultReferentialVersion,
            requireSuccess: before.requireSuccess,
            capToMeasuredDuration: before.capToMeasuredDuration,
          }
        : null,
      after: set,
    });
    if ((before?.requireSuccess ?? false) !== set.requireSuccess || (before?.capToMeasuredDuration ?? false) !== set.capToMeasuredDuration) {
      await afterPlatformPolicyChange(tx, coverageDeps(services, tx), input.platformId);
    }
  });
  return set;
}

/** Activities the xAPI bridge saw in statements received for the course. */
export async function seenActivities(ex: Executor, courseId: number): Promise<SeenActivity[]> {
  const rows = await ex
    .select({ iri: xapiActivities.activityIri, name: xapiActivities.name, modname: xapiActivities.moduleType })
    .from(xapiActivities)
    .where(eq(xapiActivities.courseId, courseId))
    .orderBy(xapiActivities.firstSeenAt, xapiActivities.id);
  return rows;
}

/** The course's activities from the three sources (web service, statements, manual). */
export async function courseActivityList(ex: Executor, courseId: number): Promise<ListedActivity[]> {
  return listActivities(ex, courseId, await seenActivities(ex, courseId));
}

/** Saves the whole mapping; invalid entries → `invalid_request` naming each field (`entries[i].hours`), nothing saved. */
export async function replaceMapping(
  ex: Executor,
  services: CoverageServices,
  input: { course: Course; referential: Referential; entries: MappingEntry[]; actor: string; activities?: ListedActivity[]; pathOf?: ProblemPath },
) {
  const activities = input.activities ?? (await courseActivityList(ex, input.course.id));
  return saveMapping(ex, services, {
    courseId: input.course.id,
    referential: input.referential,
    activityIris: new Set(activities.map((a) => a.iri)),
    entries: input.entries,
    actor: input.actor,
    pathOf: input.pathOf,
  });
}

/**
 * Replaces the pairs of one activity, keeping the others' (what the page's row form does). The pairs' indexes
 * in error details are those of the row (`pairs[1].hours`).
 */
export async function saveActivityPairs(
  ex: Executor,
  services: CoverageServices,
  input: { course: Course; referential: Referential; activityIri: string; pairs: { competencyKey: string; minutes: number }[]; actor: string },
) {
  const activities = await courseActivityList(ex, input.course.id);
  if (!activities.some((a) => a.iri === input.activityIri)) {
    throw invalid('This activity is not an activity of this course.', [
      { path: 'activityIri', message: `activity ${input.activityIri} is not an activity of this course` },
    ]);
  }
  const others = (await getMapping(ex, input.course.id, input.referential)).filter((e) => e.activityIri !== input.activityIri);
  const mine = input.pairs.map((p) => ({ activityIri: input.activityIri, ...p }));
  return saveMapping(ex, services, {
    courseId: input.course.id,
    referential: input.referential,
    activityIris: new Set(activities.map((a) => a.iri)),
    entries: [...mine, ...others],
    actor: input.actor,
    pathOf: (index, field) => `pairs[${index}].${field}`,
  });
}

/**
 * Replaces the pairs of several activities at once (the page's "save all"), keeping the other activities' pairs:
 * one change, one audit entry, nothing saved if any line is wrong. Error paths name the row and its line
 * (`rows[2].pairs[0].hours`), rows in the order given.
 */
export async function saveActivitiesPairs(
  ex: Executor,
  services: CoverageServices,
  input: { course: Course; referential: Referential; rows: { activityIri: string; pairs: { competencyKey: string; minutes: number }[] }[]; actor: string },
) {
  const activities = await courseActivityList(ex, input.course.id);
  const known = new Set(activities.map((a) => a.iri));
  const unknown = input.rows.findIndex((r) => !known.has(r.activityIri));
  if (unknown >= 0) {
    throw invalid('This activity is not an activity of this course.', [
      { path: `rows[${unknown}].activityIri`, message: `activity ${input.rows[unknown]?.activityIri} is not an activity of this course` },
    ]);
  }
  const replaced = new Set(input.rows.map((r) => r.activityIri));
  const others = (await getMapping(ex, input.course.id, input.referential)).filter((e) => !replaced.has(e.activityIri));
  const where: string[] = [];
  const mine = input.rows.flatMap((r, row) =>
    r.pairs.map((p, pair) => {
      where.push(`rows[${row}].pairs[${pair}]`);
      return { activityIri: r.activityIri, ...p };
    }),
  );
  return saveMapping(ex, services, {
    courseId: input.course.id,
    referential: input.referential,
    activityIris: known,
    entries: [...mine, ...others],
    actor: input.actor,
    pathOf: (index, field) => `${where[index] ?? `entries[${index}]`}.${field}`,
  });
}

/** The course's mapping as the CSV file (one row per pair), activities in the page's order. */
export async function exportMapping(ex: Executor, course: Course, referential: Referential): Promise<{ csv: string; rows: number }> {
  const activities = await courseActivityList(ex, course.id);
  const order = new Map(activities.map((a, i) => [a.iri, i]));
  const names = new Map(activities.map((a) => [a.iri, a.name]));
  const entries = (await getMapping(ex, course.id, referential)).sort(
    (a, b) => (order.get(a.activityIri) ?? 1e9) - (order.get(b.activityIri) ?? 1e9) || a.competencyKey.localeCompare(b.competencyKey),
  );
  const csv = writeMappingCsv(
    referential,
    entries.map((e) => ({ ...e, activityName: names.get(e.activityIri) ?? '' })),
  );
  return { csv, rows: entries.length };
}

/**
 * Replaces the course's mapping with a CSV file's. The whole file is refused if any row is wrong (details name
 * `line N` and the column); nothing is saved then.
 */
export async function importMapping(ex: Executor, services: CoverageServices, input: { course: Course; referential: Referential; text: string; actor: string }) {
  const parsed = parseMappingCsv(input.text, input.referential);
  if (!parsed.ok) {
    throw invalid(
      `The file was refused (${parsed.problems.length} problem(s)); nothing was imported.`,
      parsed.problems.map((p) => ({ path: `line ${p.line}${p.column ? ` ${p.column}` : ''}`, message: p.message })),
    );
  }
  const lines = parsed.rows.map((r) => r.line);
  const columns = { activityIri: 'activity_id', competencyKey: 'competency_code', hours: 'hours' } as const;
  try {
    return await replaceMapping(ex, services, {
      ...input,
      entries: parsed.rows.map((r) => ({ activityIri: r.activityIri, competencyKey: r.competencyKey, minutes: r.minutes })),
      pathOf: (i, field) => `line ${lines[i]} ${columns[field]}`,
    });
  } catch (error) {
    if (!SocleError.is(error, 'invalid_request')) throw error;
    throw invalid(`The file was refused (${error.details.length} problem(s)); nothing was imported.`, error.details);
  }
}

/** Other courses of the same platform, to copy a mapping from. */
export async function otherCourses(ex: Executor, course: Course) {
  return ex
    .select({ id: courses.id, contextId: courses.contextId, title: courses.title })
    .from(courses)
    .where(and(eq(courses.platformId, course.platformId), ne(courses.id, course.id)))
    .orderBy(courses.title, courses.contextId);
}

/**
 * Copies the mapping another course of the same platform has for this course's référentiel version, matching
 * activities by type and name (never guessed). Pairs of this course's other activities are kept; pairs that
 * could not be matched are returned.
 */
export async function copyMapping(ex: Executor, services: CoverageServices, input: { course: Course; fromCourseId: number; referential: Referential; actor: string }) {
  const [from] = await ex.select().from(courses).where(and(eq(courses.id, input.fromCourseId), eq(courses.platformId, input.course.platformId)));
  if (!from || from.id === input.course.id) {
    throw notFound('No other course of this platform has this id.', [{ path: 'fromCourseId', message: 'not a course of this platform' }]);
  }
  const sourceEntries = await getMapping(ex, from.id, input.referential);
  const target = await courseActivityList(ex, input.course.id);
  const { entries, unmatched } = translateMapping({ entries: sourceEntries, activities: await courseActivityList(ex, from.id) }, target);
  const copiedActivities = new Set(entries.map((e) => e.activityIri));
  const kept = (await getMapping(ex, input.course.id, input.referential)).filter((e) => !copiedActivities.has(e.activityIri));
  const saved = await replaceMapping(ex, services, { course: input.course, referential: input.referential, entries: [...entries, ...kept], actor: input.actor, activities: target });
  return { from: { id: from.id, contextId: from.contextId, title: from.title }, copied: entries.length, sourcePairs: sourceEntries.length, unmatched, saved };
}
