import { z } from 'zod';
import { normalizeIssuer } from '../identity/records';
import { platformError } from '../domain/errors';

/**
 * Moodle web services (REST protocol, JSON format) as Socle uses them: the activities of a course.
 * Moodle answers errors with HTTP 200 and `{exception, errorcode, message}`: they become `platform_error`s.
 */

const moodleException = z.object({ exception: z.string(), errorcode: z.string().optional(), message: z.string() });

const courseModule = z.object({
  id: z.number().int(),
  name: z.string(),
  modname: z.string().regex(/^[a-z0-9_]+$/),
  visible: z.number().int().optional(),
  uservisible: z.boolean().optional(),
  completion: z.number().int().optional(),
  completiondata: z.object({ isautomatic: z.boolean().optional() }).optional(),
});

const courseSection = z.object({
  id: z.number().int(),
  name: z.string(),
  section: z.number().int(),
  modules: z.array(courseModule),
});

export const courseContentsSchema = z.array(courseSection);

/** An activity of a course as Socle sees it; `iri` is the xAPI activity id logstore_xapi uses for it. */
export interface CourseActivity {
  iri: string;
  cmid: number;
  name: string;
  modname: string;
  sectionNumber: number;
  sectionName: string;
  /** Moodle's completion setting: 0 none, 1 manual, 2 automatic. */
  completion: 'none' | 'manual' | 'automatic';
  visible: boolean;
}

export function activityIri(wwwroot: string, modname: string, cmid: number | string): string {
  return `${normalizeIssuer(wwwroot)}/mod/${modname}/view.php?id=${cmid}`;
}

/** Turns `core_course_get_contents` into Socle's activities, in course order. */
export function activitiesFromContents(wwwroot: string, contents: z.infer<typeof courseContentsSchema>): CourseActivity[] {
  return contents.flatMap((section) =>
    section.modules.map((m) => ({
      iri: activityIri(wwwroot, m.modname, m.id),
      cmid: m.id,
      name: m.name,
      modname: m.modname,
      sectionNumber: section.section,
      sectionName: section.name,
      completion: m.completion === 2 ? 'automatic' : m.completion === 1 ? 'manual' : 'none',
      visible: m.visible !== 0,
    })),
  );
}

export interface WebServiceClientOptions {
  /** The Moodle wwwroot (= the LTI issuer). */
  wwwroot: string;
  token: string;
  timeoutMs?: number;
}

async function call(options: WebServiceClientOptions, wsfunction: string, params: Record<string, string>): Promise<unknown> {
  const body = new URLSearchParams({ wstoken: options.token, wsfunction, moodlewsrestformat: 'json', ...params });
  let res: Response;
  try {
    res = await fetch(`${normalizeIssuer(options.wwwroot)}/webservice/rest/server.php`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw platformError(`Moodle web service unreachable: ${(error as Error).message}`);
  }
  if (!res.ok) throw platformError(`Moodle web service answered HTTP ${res.status}`);
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw platformError('Moodle web service answered something that is not JSON');
  }
  const exception = moodleException.safeParse(json);
  if (exception.success) throw platformError(`Moodle refused ${wsfunction}: ${exception.data.message}`, exception.data.errorcode ? [{ path: 'errorcode', message: exception.data.errorcode }] : []);
  return json;
}

/** The activities of a Moodle course (LTI context id = Moodle course id). */
export async function fetchCourseActivities(options: WebServiceClientOptions, courseId: string): Promise<CourseActivity[]> {
  if (!/^\d+$/.test(courseId)) throw platformError(`context id ${courseId} is not a Moodle course id`);
  const json = await call(options, 'core_course_get_contents', { courseid: courseId });
  const parsed = courseContentsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw platformError(`unexpected core_course_get_contents answer at ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return activitiesFromContents(options.wwwroot, parsed.data);
}

const siteInfoSchema = z.object({
  sitename: z.string(),
  username: z.string().optional(),
  release: z.string().optional(),
  functions: z.array(z.object({ name: z.string() })).optional(),
});

/** What a token test tells an administrator: the site it opens and whether it may list a course's activities. */
export interface WebServiceCheck {
  siteName: string;
  userName: string | null;
  release: string | null;
  /** Whether the token's service includes `core_course_get_contents`, the function Socle calls. */
  canListActivities: boolean;
}

/** Tries the token with `core_webservice_get_site_info` (any token may call it); Moodle's refusals are `platform_error`s. */
export async function checkWebService(options: WebServiceClientOptions): Promise<WebServiceCheck> {
  const parsed = siteInfoSchema.safeParse(await call(options, 'core_webservice_get_site_info', {}));
  if (!parsed.success) throw platformError('unexpected core_webservice_get_site_info answer');
  const functions = parsed.data.functions;
  return {
    siteName: parsed.data.sitename,
    userName: parsed.data.username ?? null,
    release: parsed.data.release ?? null,
    canListActivities: functions === undefined ? false : functions.some((f) => f.name === 'core_course_get_contents'),
  };
}
