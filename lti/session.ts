import type { IdToken } from 'ltijs';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppContext } from '../src/context';
import { forbidden, unauthorized } from '../src/domain/errors';
import { institutionTimeZone } from '../src/identity/institution';
import { type Course, findCourse, findPlatform, findUser, type Platform, type User } from '../src/identity/records';
import { type Locale, pickLocale } from '../src/web/i18n';
import { type SocleRole, socleRoles } from '../src/domain/roles';

/** Who is calling, resolved from the LTI session (the `ltik`, bound to one platform, user and course). */
export interface LtiSession {
  platform: Platform;
  user: User;
  /** The launch's course; undefined for a launch without context (e.g. from the site administration). */
  course: Course | undefined;
  roles: SocleRole[];
  locale: Locale;
  /** The institution's time zone: the dates of the pages are in it. */
  timeZone: string;
  ltik: string;
  token: IdToken;
}

export function ltiToken(res: Response): IdToken | undefined {
  return (res.locals as { token?: IdToken }).token;
}

/** Resolves the session of a request that passed ltijs' validator; 401 when there is none. */
export async function resolveSession(ctx: AppContext, res: Response): Promise<LtiSession> {
  const token = ltiToken(res);
  const ltik = (res.locals as { ltik?: string }).ltik;
  if (!token || !ltik) throw unauthorized('No LTI session: launch Socle from the platform.');
  const platform = await findPlatform(ctx.store.db, token.iss);
  const user = platform && (await findUser(ctx.store.db, platform.id, token.user));
  if (!platform || !user) throw unauthorized('This LTI session was not opened by a launch Socle accepted.');
  const contextId = token.platformContext?.context?.id;
  const course = contextId ? await findCourse(ctx.store.db, platform.id, contextId) : undefined;
  return {
    platform,
    user,
    course,
    roles: socleRoles(token.platformContext?.roles),
    locale: pickLocale(token.platformContext?.launchPresentation?.locale ?? user.locale),
    timeZone: await institutionTimeZone(ctx.store.db, platform.id),
    ltik,
    token,
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    lti?: LtiSession;
  }
}

/**
 * Authorizes by role: the request must carry a valid LTI session whose roles include one of `roles`. The session
 * is then `req.lti`. Pages and APIs never take a platform or course from the URL: they use `req.lti.course`, or
 * check a given id with `assertSameCourse`.
 */
export function requireRole(ctx: AppContext, ...roles: SocleRole[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    resolveSession(ctx, res).then((session) => {
      req.lti = session;
      // error pages speak the session's language (src/web/i18n.ts requestLocale)
      res.locals.locale = session.locale;
      if (roles.length && !roles.some((r) => session.roles.includes(r))) {
        next(forbidden(`This page is reserved for: ${roles.join(', ')}.`));
        return;
      }
      next();
    }, next);
  };
}

/** 403 unless `courseId` is the session's own course (nothing of another course or platform by changing an id). */
export function assertSameCourse(session: LtiSession, courseId: number): Course {
  if (!session.course || session.course.id !== courseId) throw forbidden('This course is not the one you launched Socle from.');
  return session.course;
}
