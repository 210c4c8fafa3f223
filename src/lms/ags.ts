import { and, eq } from 'drizzle-orm';
import type { ProviderInstance } from 'ltijs';
import type { AppContext } from '../context';
import { users } from '../db/schema';
import { courseServices, platformToken } from './nrps';
import { platformError } from '../domain/errors';

const SCORE_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';
export const LINE_ITEM_LABEL = 'Socle — heures validées';
export const LINE_ITEM_TAG = 'socle-hours';

export interface ScoreInput {
  courseId: number;
  /** Socle user id (users.id); its platform `sub` is what the platform receives as `userId`. */
  userId: number;
  /** Validated hours (decimal) and the référentiel's hours. */
  scoreGiven: number;
  scoreMaximum: number;
  comment?: string;
  timestamp?: Date;
}

export type PublishResult =
  | { status: 'published'; lineItem: string }
  | { status: 'skipped'; reason: 'not-gradable' | 'no-line-item'; detail: string };

/** `…/lineitem?type_id=1` → `…/lineitem/scores?type_id=1` (AGS: the scores endpoint is the line item URL + /scores). */
export function scoresUrl(lineItem: string): string {
  const url = new URL(lineItem);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/scores`;
  return url.toString();
}

/**
 * Publishes a learner's validated hours as a score on the course's Socle line item. Moodle answers 400 for users
 * who cannot be graded (teachers, unenrolled): that is logged and returned as skipped, never retried. Other
 * failures throw a `platform_error` (the caller decides to retry).
 */
export async function publishScore(ctx: AppContext, lti: ProviderInstance, input: ScoreInput): Promise<PublishResult> {
  const row = await courseServices(ctx, input.courseId);
  const lineItem = row?.services.lineitemUrl;
  if (!row || !lineItem) {
    return { status: 'skipped', reason: 'no-line-item', detail: 'no launch of this course named a line item' };
  }
  const [user] = await ctx.store.db
    .select()
    .from(users)
    .where(and(eq(users.id, input.userId), eq(users.platformId, row.platformId)));
  if (!user) throw platformError(`user ${input.userId} is not a user of the course's platform`);
  const auth = await platformToken(lti, row.issuer, row.services.clientId, SCORE_SCOPE);
  const score = {
    userId: user.sub,
    scoreGiven: input.scoreGiven,
    scoreMaximum: input.scoreMaximum,
    ...(input.comment ? { comment: input.comment } : {}),
    activityProgress: 'Completed',
    gradingProgress: 'FullyGraded',
    timestamp: (input.timestamp ?? new Date()).toISOString(),
  };
  const res = await fetch(scoresUrl(lineItem), {
    method: 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/vnd.ims.lis.v1.score+json' },
    body: JSON.stringify(score),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status === 400) {
    ctx.logger.warn(
      { courseId: input.courseId, userId: input.userId, status: res.status, body: text.slice(0, 300) },
      'score refused by the platform (user not gradable): skipped',
    );
    return { status: 'skipped', reason: 'not-gradable', detail: text.slice(0, 300) };
  }
  if (!res.ok) throw platformError(`score post answered ${res.status}: ${text.slice(0, 200)}`);
  return { status: 'published', lineItem };
}
