import { sql } from 'drizzle-orm';
import type { SocleRole } from '../domain/roles';
import { type Executor, queryRows } from '../db/store';
import { forbidden } from '../domain/errors';

/**
 * Who is calling: an API token, or an LTI session (the `ltik` of a launch sent as `Authorization: Bearer`, with the
 * session cookie unless LTI_SESSION=ltiaas, exactly as ltijs accepts it on the pages). `canSee` decides for each.
 */
export type Principal =
  | { kind: 'api-token'; name: string; role: 'admin'; platformId: number | null }
  | { kind: 'lti'; platformId: number; userId: number; sub: string; courseId: number | undefined; roles: SocleRole[] };

/** What a request asks to see: a platform, and within it a learner or a course. */
export type Resource = { platformId: number; userId?: number; courseId?: number };

/**
 * An administrator token: its platform (or all). An LTI session: its own platform only; there, a platform
 * administrator sees everything, an instructor their launch course and its learners, a learner only themselves.
 * A resource with neither user nor course is the platform gate (the finer check follows once they are found).
 */
export async function canSee(ex: Executor, principal: Principal, resource: Resource): Promise<boolean> {
  switch (principal.kind) {
    case 'api-token':
      return principal.role === 'admin' && (principal.platformId === null || principal.platformId === resource.platformId);
    case 'lti': {
      if (principal.platformId !== resource.platformId) return false;
      if (principal.roles.includes('administrator')) return true;
      if (resource.userId === undefined && resource.courseId === undefined) return true;
      if (resource.courseId === undefined && resource.userId === principal.userId) return true;
      if (!principal.roles.includes('instructor') || principal.courseId === undefined) return false;
      if (resource.courseId !== undefined) return resource.courseId === principal.courseId && resource.userId === undefined;
      const [member] = await queryRows<{ n: number }>(
        ex,
        sql`SELECT count(*)::int AS n FROM (SELECT user_id FROM course_members WHERE course_id = ${principal.courseId} AND user_id = ${resource.userId}
            UNION SELECT user_id FROM completion_events WHERE course_id = ${principal.courseId} AND user_id = ${resource.userId}) m`,
      );
      return (member?.n ?? 0) > 0;
    }
  }
}

export async function authorize(ex: Executor, principal: Principal, resource: Resource): Promise<void> {
  if (await canSee(ex, principal, resource)) return;
  throw forbidden(
    principal.kind === 'api-token'
      ? 'This token is limited to another platform.'
      : 'This LTI session may not see this: a learner sees only their own records, an instructor those of their course.',
  );
}
