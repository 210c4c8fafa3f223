import { and, eq, notInArray, sql } from 'drizzle-orm';
import type { ProviderInstance } from 'ltijs';
import { z } from 'zod';
import type { AppContext } from '../context';
import { courseMembers, courses, ltiCourseServices, platforms } from '../db/schema';
import { ensureUser } from '../identity/records';
import { fullRole } from '../domain/roles';
import { platformError } from '../domain/errors';

const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';
const MAX_PAGES = 1000;

const member = z.object({
  user_id: z.string().min(1),
  roles: z.array(z.string()),
  status: z.enum(['Active', 'Inactive', 'Deleted']).default('Active'),
  name: z.string().optional(),
  email: z.string().optional(),
});
const container = z.object({ members: z.array(member) });

/** The URL of `rel="next"` in an HTTP Link header (NRPS pages are announced only there). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]+)>\s*;(.*)$/.exec(part.trim());
    if (m?.[1] && /\brel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/** An OAuth2 access token of the platform for `scope` (cached encrypted by ltijs' store for its lifetime). */
export async function platformToken(lti: ProviderInstance, issuer: string, clientId: string, scope: string) {
  const platform = await lti.getPlatform(issuer, clientId);
  if (!platform) throw platformError(`platform ${issuer} / ${clientId} is not registered`);
  if (!(await platform.platformActive())) throw platformError(`platform ${issuer} / ${clientId} is not active`);
  const token = await platform.platformAccessToken(scope);
  return `${token.token_type} ${token.access_token}`;
}

export async function courseServices(ctx: AppContext, courseId: number) {
  const [row] = await ctx.store.db
    .select({ services: ltiCourseServices, issuer: platforms.issuer, platformId: platforms.id })
    .from(ltiCourseServices)
    .innerJoin(courses, eq(courses.id, ltiCourseServices.courseId))
    .innerJoin(platforms, eq(platforms.id, courses.platformId))
    .where(eq(ltiCourseServices.courseId, courseId));
  return row;
}

export interface RosterSync {
  pages: number;
  members: number;
}

/**
 * Reads the whole course roster from Names and Roles (every page, following the Link header) and stores it as
 * the course's members: name and email only when sent; members no longer listed are marked deleted.
 */
export async function syncRoster(ctx: AppContext, lti: ProviderInstance, courseId: number): Promise<RosterSync> {
  const row = await courseServices(ctx, courseId);
  if (!row?.services.membershipsUrl) throw platformError('the platform announced no Names and Roles service for this course');
  const auth = await platformToken(lti, row.issuer, row.services.clientId, NRPS_SCOPE);
  const members: z.infer<typeof member>[] = [];
  let next: string | undefined = row.services.membershipsUrl;
  let pages = 0;
  const seen = new Set<string>();
  while (next) {
    if (seen.has(next) || pages >= MAX_PAGES) throw platformError(`Names and Roles paging loops at ${next}`);
    seen.add(next);
    const res = await fetch(next, {
      headers: { Authorization: auth, Accept: 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json' },
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw platformError(`Names and Roles answered ${res.status} for ${next}`);
    const parsed = container.safeParse(await res.json());
    if (!parsed.success) {
      throw platformError(`Names and Roles page ${pages + 1} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    members.push(...parsed.data.members);
    pages += 1;
    next = nextLink(res.headers.get('link'));
  }
  await ctx.store.db.transaction(async (tx) => {
    const ids: number[] = [];
    for (const m of members) {
      const user = await ensureUser(tx, row.platformId, m.user_id, {
        ...(m.name !== undefined ? { name: m.name } : {}),
        ...(m.email !== undefined ? { email: m.email } : {}),
      });
      ids.push(user.id);
      const status = m.status === 'Active' ? 'active' : m.status === 'Inactive' ? 'inactive' : 'deleted';
      const roles = m.roles.map(fullRole);
      await tx
        .insert(courseMembers)
        .values({ courseId, userId: user.id, roles, status })
        .onConflictDoUpdate({
          target: [courseMembers.courseId, courseMembers.userId],
          set: { roles, status, updatedAt: sql`now()` },
        });
    }
    await tx
      .update(courseMembers)
      .set({ status: 'deleted', updatedAt: sql`now()` })
      .where(and(eq(courseMembers.courseId, courseId), ids.length ? notInArray(courseMembers.userId, ids) : sql`true`));
    await tx.update(ltiCourseServices).set({ rosterSyncedAt: sql`now()` }).where(eq(ltiCourseServices.courseId, courseId));
  });
  ctx.logger.info({ courseId, pages, members: members.length }, 'roster synchronised from Names and Roles');
  return { pages, members: members.length };
}
