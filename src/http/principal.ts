import { createHmac, timingSafeEqual } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Request } from 'express';
import { jwtVerify } from 'jose';
import { PgLtiDatabase } from '../../lti/plugin';
import { type SocleRole, socleRoles } from '../../lti/roles';
import { TOKEN_MAX_AGE } from '../../lti/provider';
import { findApiToken } from '../auth/api-tokens';
import type { AppContext } from '../context';
import { findCourse, findPlatform, findUser } from '../identity';
import { type Executor, queryRows } from '../db/store';
import { forbidden, unauthorized } from './errors';

/**
 * Who is calling: an API token, or an LTI session (the `ltik` of a launch sent as `Authorization: Bearer`, with the
 * session cookie unless LTI_SESSION=ltiaas, exactly as ltijs accepts it on the pages). `canSee` decides for each.
 */
export type Principal =
  | { kind: 'api-token'; name: string; role: 'admin'; platformId: number | null }
  | { kind: 'lti'; platformId: number; userId: number; sub: string; courseId: number | undefined; roles: SocleRole[] };

/** What a request asks to see: a platform, and within it a learner or a course. */
export type Resource = { platformId: number; userId?: number; courseId?: number };

const BEARER = /^Bearer\s+(\S+)$/i;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

interface LtikClaims {
  platformUrl?: string;
  platformCode?: string;
  clientId?: string;
  deploymentId?: string;
  contextId?: string;
  user?: string;
}

/** A signed cookie as cookie-parser reads it (`s:<value>.<HMAC-SHA256 base64 without padding>`). */
function signedCookie(req: Request, name: string, secret: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0 || part.slice(0, i).trim() !== name) continue;
    let raw: string;
    try {
      raw = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      return undefined;
    }
    if (!raw.startsWith('s:')) return undefined;
    const body = raw.slice(2);
    const dot = body.lastIndexOf('.');
    if (dot < 0) return undefined;
    const value = body.slice(0, dot);
    const expected = Buffer.from(createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, ''));
    const given = Buffer.from(body.slice(dot + 1));
    return expected.length === given.length && timingSafeEqual(expected, given) ? value : undefined;
  }
  return undefined;
}

/** The LTI session of an `ltik`, or undefined when it is not one Socle signed or its session is gone. */
async function ltiPrincipal(ctx: AppContext, req: Request, ltik: string): Promise<Principal | undefined> {
  let claims: LtikClaims;
  try {
    claims = (await jwtVerify(ltik, new TextEncoder().encode(ctx.config.ltiKey), { algorithms: ['HS256'] })).payload as LtikClaims;
  } catch {
    return undefined;
  }
  const { platformUrl, platformCode, clientId, deploymentId, contextId, user } = claims;
  if (!platformUrl || !platformCode || !clientId || !deploymentId || !contextId || !user) return undefined;
  if (ctx.config.ltiSession !== 'ltiaas' && signedCookie(req, platformCode, ctx.config.ltiKey) !== String(user)) return undefined;
  const sessions = new PgLtiDatabase(ctx.store.db, { tokenMaxAgeSeconds: TOKEN_MAX_AGE });
  const idToken = await sessions.Get(false, 'idtoken', { iss: platformUrl, clientId, deploymentId, user });
  const context = await sessions.Get(false, 'contexttoken', { contextId, user });
  const launch = context ? (context[0] as { roles?: string[]; context?: { id?: string } } | undefined) : undefined;
  if (!idToken || !launch) return undefined;
  const platform = await findPlatform(ctx.store.db, platformUrl);
  const found = platform && (await findUser(ctx.store.db, platform.id, String(user)));
  if (!platform || !found) return undefined;
  const course = launch.context?.id ? await findCourse(ctx.store.db, platform.id, launch.context.id) : undefined;
  return { kind: 'lti', platformId: platform.id, userId: found.id, sub: found.sub, courseId: course?.id, roles: socleRoles(launch.roles) };
}

export async function resolvePrincipal(ctx: AppContext, req: Request): Promise<Principal> {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const challenge = { 'WWW-Authenticate': 'Bearer realm="socle"' };
  if (!match?.[1]) {
    throw unauthorized('Send an API token (socle api-tokens create) or the LTI session token (ltik) as Authorization: Bearer <token>.', challenge);
  }
  if (JWT.test(match[1])) {
    const session = await ltiPrincipal(ctx, req, match[1]);
    if (!session) throw unauthorized('Invalid or expired LTI session: launch Socle from the platform again.', challenge);
    return session;
  }
  const token = await findApiToken(ctx.store.db, match[1]);
  if (!token) throw unauthorized('Unknown or revoked API token.', challenge);
  return { kind: 'api-token', name: token.name, role: token.role, platformId: token.platformId };
}

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

/** The actor string written to audit events. */
export function actorOf(principal: Principal): string {
  return principal.kind === 'api-token' ? `api-token:${principal.name}` : `lti:${principal.sub}`;
}
