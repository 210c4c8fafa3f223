import { randomUUID } from 'node:crypto';
import { and, count as count_, desc, eq, inArray, isNull, notInArray } from 'drizzle-orm';
import { coverageDeps, type CoverageServices } from '../coverage/deps';
import { afterMappingChange } from '../coverage/freshness';
import { activityMappings, auditEvents, courseActivities, courseSettings, platformSettings } from '../db/schema';
import type { Executor } from '../db/store';
import type { Course } from '../identity/records';
import { fetchCourseActivities } from '../lms/webservice';
import { invalid, type ErrorDetail, SocleError } from '../domain/errors';
import { openSecret } from '../secrets';
import { type MappableReferential, type MappingEntry, type MappingProblem, summarizeByDomain, validateMapping } from '../domain/mapping';

/** Where Socle learnt of an activity. */
export type ActivitySource = 'webservice' | 'statement' | 'manual';

/** An activity seen in statements received for the course (kept by the xAPI bridge). */
export interface SeenActivity {
  iri: string;
  name: string | null;
  modname: string | null;
}

export interface ListedActivity {
  iri: string;
  name: string;
  modname: string | null;
  sectionNumber: number | null;
  sectionName: string | null;
  completion: 'none' | 'manual' | 'automatic' | null;
  sources: ActivitySource[];
  /** No longer listed by Moodle's web service. */
  gone: boolean;
}

/** Where entry `index`'s `field` is in the caller's request: `entries[2].hours` unless the caller says otherwise. */
export type ProblemPath = (index: number, field: 'activityIri' | 'competencyKey' | 'hours') => string;
const entryPath: ProblemPath = (index, field) => `entries[${index}].${field}`;

function problemDetails(problems: readonly MappingProblem[], pathOf: ProblemPath): ErrorDetail[] {
  return problems.map((p) => ({ path: pathOf(p.index, p.field === 'minutes' ? 'hours' : p.field), message: p.message }));
}

/** Activities of a course from the three sources, merged by IRI, in course order (manual ones last). */
export async function listActivities(ex: Executor, courseId: number, seen: readonly SeenActivity[] = []): Promise<ListedActivity[]> {
  const rows = await ex.select().from(courseActivities).where(eq(courseActivities.courseId, courseId)).orderBy(courseActivities.position);
  const byIri = new Map<string, ListedActivity>();
  for (const r of rows) {
    byIri.set(r.iri, {
      iri: r.iri,
      name: r.name,
      modname: r.modname,
      sectionNumber: r.sectionNumber,
      sectionName: r.sectionName,
      completion: r.completion,
      sources: [r.source],
      gone: r.goneAt !== null,
    });
  }
  for (const s of seen) {
    const known = byIri.get(s.iri);
    if (known) known.sources.push('statement');
    else {
      byIri.set(s.iri, {
        iri: s.iri,
        name: s.name ?? s.iri,
        modname: s.modname,
        sectionNumber: null,
        sectionName: null,
        completion: null,
        sources: ['statement'],
        gone: false,
      });
    }
  }
  const order = (a: ListedActivity) => (a.sources.includes('webservice') ? 0 : a.sources.includes('statement') ? 1 : 2);
  return [...byIri.values()].sort((a, b) => order(a) - order(b));
}

/**
 * Refreshes the course's activities from Moodle's web services when the platform has a token. A failure is
 * recorded and returned as a warning for the page; the activities known before are kept.
 */
export async function refreshActivities(
  ex: Executor,
  input: { course: Course; issuer: string; ltiKey: string },
): Promise<{ refreshed: boolean; warning?: string }> {
  const [settings] = await ex.select().from(platformSettings).where(eq(platformSettings.platformId, input.course.platformId));
  if (!settings?.webserviceToken) return { refreshed: false };
  let error: string | undefined;
  try {
    const token = openSecret(input.ltiKey, 'webservice-token', settings.webserviceToken);
    const activities = await fetchCourseActivities({ wwwroot: input.issuer, token }, input.course.contextId);
    const now = new Date();
    await ex.transaction(async (tx) => {
      for (const [position, a] of activities.entries()) {
        const values = {
          courseId: input.course.id,
          iri: a.iri,
          name: a.name,
          modname: a.modname,
          sectionNumber: a.sectionNumber,
          sectionName: a.sectionName,
          completion: a.completion,
          source: 'webservice' as const,
          position,
          goneAt: null,
          updatedAt: now,
        };
        await tx
          .insert(courseActivities)
          .values(values)
          .onConflictDoUpdate({ target: [courseActivities.courseId, courseActivities.iri], set: values });
      }
      const listed = activities.map((a) => a.iri);
      await tx
        .update(courseActivities)
        .set({ goneAt: now })
        .where(
          and(
            eq(courseActivities.courseId, input.course.id),
            eq(courseActivities.source, 'webservice'),
            isNull(courseActivities.goneAt),
            ...(listed.length ? [notInArray(courseActivities.iri, listed)] : []),
          ),
        );
      await upsertCourseSettings(tx, input.course.id, { activitiesRefreshedAt: now, activitiesRefreshError: null });
    });
    return { refreshed: true };
  } catch (e) {
    if (!SocleError.is(e, 'platform_error') && !(e instanceof Error && /sealed secret|unable to authenticate/i.test(e.message))) throw e;
    error = SocleError.is(e, 'platform_error') ? e.message : 'the stored web-service token cannot be read (was LTI_KEY changed?)';
  }
  await upsertCourseSettings(ex, input.course.id, { activitiesRefreshError: error });
  return { refreshed: false, warning: error };
}

async function upsertCourseSettings(ex: Executor, courseId: number, set: Partial<typeof courseSettings.$inferInsert>) {
  await ex
    .insert(courseSettings)
    .values({ courseId, ...set })
    .onConflictDoUpdate({ target: courseSettings.courseId, set: { ...set, updatedAt: new Date() } });
}

/** Adds an activity Moodle does not know (a face-to-face session, an external module) with a stable Socle IRI. */
export async function addManualActivity(
  ex: Executor,
  input: { courseId: number; name: string; publicUrl: string; actor: string },
): Promise<ListedActivity> {
  const iri = `${input.publicUrl}/activities/${randomUUID()}`;
  const [{ count } = { count: 0 }] = await ex.select({ count: count_() }).from(courseActivities).where(eq(courseActivities.courseId, input.courseId));
  await ex.insert(courseActivities).values({ courseId: input.courseId, iri, name: input.name, source: 'manual', position: count });
  await ex.insert(auditEvents).values({
    actor: input.actor,
    action: 'activity.add',
    subject: `course:${input.courseId}`,
    after: { iri, name: input.name },
  });
  return { iri, name: input.name, modname: null, sectionNumber: null, sectionName: null, completion: null, sources: ['manual'], gone: false };
}

/** The course's mapping for its référentiel version. */
export async function getMapping(ex: Executor, courseId: number, referential: MappableReferential): Promise<MappingEntry[]> {
  return ex
    .select({ activityIri: activityMappings.activityIri, competencyKey: activityMappings.competencyKey, minutes: activityMappings.minutes })
    .from(activityMappings)
    .where(
      and(
        eq(activityMappings.courseId, courseId),
        eq(activityMappings.referentialId, referential.id),
        eq(activityMappings.referentialVersion, referential.version),
      ),
    )
    .orderBy(activityMappings.activityIri, activityMappings.competencyKey);
}

/**
 * Replaces the course's whole mapping (one transaction: all or nothing) and records before/after in the audit log.
 * Throws `invalid_request` with a detail per problem, at `pathOf` (`entries[i].field`); nothing is written then.
 */
export async function saveMapping(
  ex: Executor,
  services: CoverageServices,
  input: {
    courseId: number;
    referential: MappableReferential;
    activityIris: ReadonlySet<string>;
    entries: MappingEntry[];
    actor: string;
    /** Above this many learners concerned, their coverage is left to the worker (default: IMMEDIATE_LIMIT). */
    coverageImmediateLimit?: number;
    pathOf?: ProblemPath | undefined;
  },
) {
  const problems = validateMapping(input.referential, input.activityIris, input.entries);
  if (problems.length) throw invalid('The mapping is invalid: nothing was saved.', problemDetails(problems, input.pathOf ?? entryPath));
  return ex.transaction(async (tx) => {
    const before = await getMapping(tx, input.courseId, input.referential);
    await tx
      .delete(activityMappings)
      .where(and(eq(activityMappings.courseId, input.courseId), eq(activityMappings.referentialId, input.referential.id), eq(activityMappings.referentialVersion, input.referential.version)));
    if (input.entries.length) {
      await tx.insert(activityMappings).values(
        input.entries.map((e) => ({
          courseId: input.courseId,
          activityIri: e.activityIri,
          referentialId: input.referential.id,
          referentialVersion: input.referential.version,
          competencyKey: e.competencyKey,
          minutes: e.minutes,
        })),
      );
    }
    const after = await getMapping(tx, input.courseId, input.referential);
    await tx.insert(auditEvents).values({
      actor: input.actor,
      action: 'mapping.save',
      subject: `course:${input.courseId}`,
      before: { referential: `${input.referential.id}@${input.referential.version}`, entries: before },
      after: { referential: `${input.referential.id}@${input.referential.version}`, entries: after },
    });
    const changedActivities = [...new Set([...before, ...after].map((e) => e.activityIri))].filter(
      (iri) => JSON.stringify(before.filter((e) => e.activityIri === iri)) !== JSON.stringify(after.filter((e) => e.activityIri === iri)),
    );
    // the learners with events on the changed activities: recomputed now, or marked dirty when they are many
    const coverage = await afterMappingChange(tx, coverageDeps(services, tx), input.courseId, changedActivities, input.coverageImmediateLimit);
    return { entries: after, summary: summarizeByDomain(input.referential, after), changedActivities, coverage };
  });
}

/** The mapping's history, newest first: who changed it, when, and the pairs before and after. */
export async function mappingHistory(ex: Executor, courseId: number, limit = 50) {
  return ex
    .select({ at: auditEvents.at, actor: auditEvents.actor, action: auditEvents.action, before: auditEvents.before, after: auditEvents.after })
    .from(auditEvents)
    .where(and(eq(auditEvents.subject, `course:${courseId}`), inArray(auditEvents.action, ['mapping.save', 'mapping.transition', 'activity.add'])))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(limit);
}

/**
 * Proposes the mapping of another course of the same platform for this one: a teacher teaching the same module
 * twice a year has activities with other ids but the same type and name. Pairs whose activity has no unique
 * match are returned apart, never guessed.
 */
export function translateMapping(
  source: { entries: readonly MappingEntry[]; activities: readonly ListedActivity[] },
  target: readonly ListedActivity[],
): { entries: MappingEntry[]; unmatched: { activityIri: string; name: string }[] } {
  const keyOf = (a: ListedActivity) => `${a.modname ?? ''}\n${a.name.trim().toLowerCase()}`;
  const targets = new Map<string, ListedActivity[]>();
  for (const a of target) targets.set(keyOf(a), [...(targets.get(keyOf(a)) ?? []), a]);
  const sourceByIri = new Map(source.activities.map((a) => [a.iri, a]));
  const entries: MappingEntry[] = [];
  const unmatched = new Map<string, string>();
  for (const e of source.entries) {
    const from = sourceByIri.get(e.activityIri);
    const candidates = from ? (targets.get(keyOf(from)) ?? []) : [];
    if (from && candidates.length === 1 && candidates[0]) entries.push({ ...e, activityIri: candidates[0].iri });
    else unmatched.set(e.activityIri, from?.name ?? e.activityIri);
  }
  return { entries, unmatched: [...unmatched].map(([activityIri, name]) => ({ activityIri, name })) };
}
