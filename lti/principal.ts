import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { jwtVerify } from 'jose';
import type { AppContext } from '../src/context';
import { socleRoles } from '../src/domain/roles';
import type { Principal } from '../src/identity/access';
import { findCourse, findPlatform, findUser } from '../src/identity/records';
import { PgLtiDatabase } from './plugin';
import { CLOCK_SKEW, TOKEN_MAX_AGE } from './runtime';

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
export async function sessionPrincipal(ctx: AppContext, req: Request, ltik: string): Promise<Principal | undefined> {
  let claims: LtikClaims;
  try {
    claims = (await jwtVerify(ltik, new TextEncoder().encode(ctx.config.ltiKey), { algorithms: ['HS256'] })).payload as LtikClaims;
  } catch {
    return undefined;
  }
  const { platformUrl, platformCode, clientId, deploymentId, contextId, user } = claims;
  if (!platformUrl || !platformCode || !clientId || !deploymentId || !contextId || !user) return undefined;
  if (ctx.config.ltiSession !== 'ltiaas' && signedCookie(req, platformCode, ctx.config.ltiKey) !== String(user)) return undefined;
  const sessions = new PgLtiDatabase(ctx.store.db, { tokenMaxAgeSeconds: TOKEN_MAX_AGE, clockSkewSeconds: CLOCK_SKEW });
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

