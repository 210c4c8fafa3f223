/** The people of a platform as an administrator looks them up: a search by name or id, and one person by id. */
import { and, eq } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import { users } from '../db/schema';
import { type Executor, queryRows } from '../db/store';
import type { User } from './records';

export const LEARNER_PAGE_SIZE = 20;

export interface LearnerHit {
  id: number;
  sub: string;
  name: string | null;
  /** How many courses of the platform they are a member of. */
  courses: number;
}

/** `%`, `_` and `\` of a search term taken literally by ILIKE. */
const literal = (term: string) => term.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Users of one platform whose name contains `query` (any case) or whose platform id (LTI sub) or Socle id is
 * `query`, by name then sub, one page at a time; the total counts every match.
 */
export async function searchLearners(
  ex: Executor,
  platformId: number,
  input: { query: string; page: number; pageSize?: number },
): Promise<{ hits: LearnerHit[]; total: number }> {
  const size = input.pageSize ?? LEARNER_PAGE_SIZE;
  const term = input.query.trim();
  const pattern = `%${literal(term)}%`;
  const numeric = /^\d{1,9}$/.test(term) ? Number(term) : -1;
  const where = term
    ? sql`u.platform_id = ${platformId} AND (u.name ILIKE ${pattern} OR u.sub = ${term} OR u.id = ${numeric})`
    : sql`u.platform_id = ${platformId}`;
  const [count] = await queryRows<{ n: number }>(ex, sql`SELECT count(*)::int AS n FROM users u WHERE ${where}`);
  const hits = await queryRows<LearnerHit>(
    ex,
    sql`SELECT u.id, u.sub, u.name, (SELECT count(*)::int FROM course_members m WHERE m.user_id = u.id) AS courses
        FROM users u WHERE ${where}
        ORDER BY u.name NULLS LAST, u.sub, u.id
        LIMIT ${size} OFFSET ${(Math.max(1, input.page) - 1) * size}`,
  );
  return { hits, total: count?.n ?? 0 };
}

/** A user of this platform by Socle id; undefined for another platform's. */
export async function findPlatformUser(ex: Executor, platformId: number, userId: number): Promise<User | undefined> {
  const [user] = await ex.select().from(users).where(and(eq(users.id, userId), eq(users.platformId, platformId)));
  return user;
}
