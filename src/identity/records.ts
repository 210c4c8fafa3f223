import { and, eq, sql } from 'drizzle-orm';
import { courses, platforms, users } from '../db/schema';
import type { Executor } from '../db/store';

export type Platform = typeof platforms.$inferSelect;
export type User = typeof users.$inferSelect;
export type Course = typeof courses.$inferSelect;

/** Issuers and xAPI `account.homePage` values compare without a trailing slash. */
export function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

/** Who did something, as audit events record it: `lti:<issuer>#<sub>` for a platform's user. */
export function ltiActor(issuer: string, sub: string): string {
  return `lti:${normalizeIssuer(issuer)}#${sub}`;
}

export async function findPlatform(ex: Executor, issuer: string): Promise<Platform | undefined> {
  const [row] = await ex.select().from(platforms).where(eq(platforms.issuer, normalizeIssuer(issuer)));
  return row;
}

/** The platform of `issuer`, created on first sight (one statement, safe under concurrency). */
export async function ensurePlatform(ex: Executor, issuer: string, name?: string): Promise<Platform> {
  const [row] = await ex
    .insert(platforms)
    .values({ issuer: normalizeIssuer(issuer), name: name ?? null })
    .onConflictDoUpdate({
      target: platforms.issuer,
      set: { name: name === undefined ? sql`${platforms.name}` : name },
    })
    .returning();
  if (!row) throw new Error(`cannot register platform ${issuer}`);
  return row;
}

export interface UserAttributes {
  name?: string | null;
  email?: string | null;
  locale?: string | null;
}

/** The user (platform, sub), created on first sight; attributes given replace the stored ones, absent ones are kept. */
export async function ensureUser(ex: Executor, platformId: number, sub: string, attrs: UserAttributes = {}): Promise<User> {
  const set: Record<string, unknown> = {};
  if (attrs.name !== undefined) set.name = attrs.name;
  if (attrs.email !== undefined) set.email = attrs.email;
  if (attrs.locale !== undefined) set.locale = attrs.locale;
  const [row] = await ex
    .insert(users)
    .values({ platformId, sub, name: attrs.name ?? null, email: attrs.email ?? null, locale: attrs.locale ?? null })
    .onConflictDoUpdate({ target: [users.platformId, users.sub], set: { ...set, sub } })
    .returning();
  if (!row) throw new Error(`cannot register user ${sub}`);
  return row;
}

export async function findUser(ex: Executor, platformId: number, sub: string): Promise<User | undefined> {
  const [row] = await ex
    .select()
    .from(users)
    .where(and(eq(users.platformId, platformId), eq(users.sub, sub)));
  return row;
}

/** The course (platform, context id), created on first sight; a title given replaces the stored one. */
export async function ensureCourse(ex: Executor, platformId: number, contextId: string, title?: string | null): Promise<Course> {
  const [row] = await ex
    .insert(courses)
    .values({ platformId, contextId, title: title ?? null })
    .onConflictDoUpdate({
      target: [courses.platformId, courses.contextId],
      set: { title: title === undefined || title === null ? sql`${courses.title}` : title },
    })
    .returning();
  if (!row) throw new Error(`cannot register course ${contextId}`);
  return row;
}

export async function findCourse(ex: Executor, platformId: number, contextId: string): Promise<Course | undefined> {
  const [row] = await ex
    .select()
    .from(courses)
    .where(and(eq(courses.platformId, platformId), eq(courses.contextId, contextId)));
  return row;
}
