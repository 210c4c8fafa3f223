import type { Request } from 'express';
import { findApiToken } from '../auth/api-tokens';
import type { AppContext } from '../context';
import { forbidden, unauthorized } from './errors';

/**
 * Who is calling. API tokens now; the LTI session principals (a learner sees only their own coverage, an instructor
 * their course's) are added here as new kinds, and `canSee` decides for each.
 */
export type Principal = { kind: 'api-token'; name: string; role: 'admin'; platformId: number | null };

/** What a request asks to see: a platform, and within it a learner or a course. */
export type Resource = { platformId: number; userId?: number; courseId?: number };

const BEARER = /^Bearer\s+(\S+)$/i;

export async function resolvePrincipal(ctx: AppContext, req: Request): Promise<Principal> {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const challenge = { 'WWW-Authenticate': 'Bearer realm="socle"' };
  if (!match?.[1]) throw unauthorized('Send an API token as Authorization: Bearer <token> (socle api-tokens create).', challenge);
  const token = await findApiToken(ctx.store.db, match[1]);
  if (!token) throw unauthorized('Unknown or revoked API token.', challenge);
  return { kind: 'api-token', name: token.name, role: token.role, platformId: token.platformId };
}

export function canSee(principal: Principal, resource: Resource): boolean {
  switch (principal.kind) {
    case 'api-token':
      return principal.role === 'admin' && (principal.platformId === null || principal.platformId === resource.platformId);
  }
}

export function authorize(principal: Principal, resource: Resource): void {
  if (!canSee(principal, resource)) throw forbidden('This token is limited to another platform.');
}

/** The actor string written to audit events. */
export function actorOf(principal: Principal): string {
  return `api-token:${principal.name}`;
}
