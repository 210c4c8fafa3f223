/**
 * Publishing validated hours to the platform's gradebook (AGS): score = validated hours, maximum = the
 * référentiel's required hours. For a whole course in one action (the cohort page), or for one learner of a course
 * when their coverage changed (queued by `queueScorePublications`, delivered by the worker of ./worker.ts).
 */
import { sql } from 'drizzle-orm';
import type { ProviderInstance } from 'ltijs';
import { publishScore } from '../lms/ags';
import type { AppContext } from '../context';
import { courseView } from '../coverage/read';
import { coverageDeps } from '../coverage/deps';
import { conflict, SocleError } from '../domain/errors';
import { queryRows } from '../db/store';
import type { Course, Platform } from '../identity/records';
import { type CohortLearner, displayName, inCohort, loadCohort } from './cohort';

export interface PublicationReport {
  published: number;
  skipped: { sub: string; name: string; reason: string }[];
  failed: { sub: string; name: string; error: string }[];
  total: number;
}

type Outcome = { status: 'published' } | { status: 'skipped'; reason: string } | { status: 'failed'; error: string };

async function publishOne(ctx: AppContext, lti: ProviderInstance, courseId: number, learner: CohortLearner): Promise<Outcome> {
  if (learner.requiredHours === null) return { status: 'skipped', reason: 'no-hours' };
  try {
    const result = await publishScore(ctx, lti, {
      courseId,
      userId: learner.userId,
      scoreGiven: learner.validatedHours ?? 0,
      scoreMaximum: learner.requiredHours,
    });
    return result.status === 'published' ? { status: 'published' } : { status: 'skipped', reason: result.reason };
  } catch (error) {
    return { status: 'failed', error: (error as Error).message };
  }
}

/** Publishes the validated hours of every learner of the course (a few at a time); never throws for one learner. */
export async function publishCourse(ctx: AppContext, lti: ProviderInstance, platform: Platform, course: Course): Promise<PublicationReport> {
  const cohort = await loadCohort(ctx.store.db, coverageDeps(ctx, ctx.store.db), platform, course).catch((error: unknown) => {
    // No référentiel to publish against: the course's state, not the request, is what is wrong.
    throw SocleError.is(error, 'not_found') ? conflict(error.message) : error;
  });
  const report: PublicationReport = { published: 0, skipped: [], failed: [], total: cohort.learners.length };
  const queue = [...cohort.learners];
  const worker = async () => {
    for (let learner = queue.shift(); learner; learner = queue.shift()) {
      const outcome = await publishOne(ctx, lti, course.id, learner);
      const who = { sub: learner.user.sub, name: displayName(learner) };
      if (outcome.status === 'published') report.published += 1;
      else if (outcome.status === 'skipped') report.skipped.push({ ...who, reason: outcome.reason });
      else report.failed.push({ ...who, error: outcome.error });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  ctx.logger.info({ courseId: course.id, published: report.published, skipped: report.skipped.length, failed: report.failed.length }, 'gradebook published');
  return report;
}

/**
 * Publishes the score of one learner of a course from the stored coverage (`courseView` of that learner).
 * 'absent' when they are no longer a learner of the course.
 */
export async function publishLearner(ctx: AppContext, lti: ProviderInstance, courseId: number, userId: number): Promise<Outcome | { status: 'absent' }> {
  const [row] = await queryRows<{ issuer: string; platform_id: number; sub: string; roles: string[] | null }>(
    ctx.store.db,
    sql`SELECT p.issuer, p.id AS platform_id, u.sub, cm.roles FROM courses c JOIN platforms p ON p.id = c.platform_id
        JOIN users u ON u.id = ${userId} AND u.platform_id = p.id
        LEFT JOIN course_members cm ON cm.course_id = c.id AND cm.user_id = u.id WHERE c.id = ${courseId}`,
  );
  const [course] = await queryRows<{ id: number; context_id: string; title: string | null; referential_id: string | null; referential_version: string | null }>(
    ctx.store.db,
    sql`SELECT id, context_id, title, referential_id, referential_version FROM courses WHERE id = ${courseId}`,
  );
  if (!row || !course || !inCohort(row.roles)) return { status: 'absent' };
  const view = await courseView(
    ctx.store.db,
    coverageDeps(ctx, ctx.store.db),
    { id: row.platform_id, issuer: row.issuer },
    { id: course.id, contextId: course.context_id, title: course.title, referentialId: course.referential_id, referentialVersion: course.referential_version },
    { limit: 1, after: userId - 1 },
  );
  const learner = view.learners[0];
  if (!learner || learner.user.sub !== row.sub) return { status: 'absent' };
  return publishOne(ctx, lti, courseId, { ...learner, userId });
}
