import type { Request } from 'express';
import type { AppContext } from '../context';
import type { Principal } from '../identity/access';
import { findApiToken } from '../identity/api-tokens';
import { unauthorized } from '../domain/errors';
import { enforceRateLimit } from '../web/rate-limit';

export { authorize, canSee, type Principal, type Resource } from '../identity/access';

const BEARER = /^Bearer\s+(\S+)$/i;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** Finds the LTI session of an `ltik` (the LTI runtime provides it; the app wires it in). */
export type SessionResolver = (req: Request, ltik: string) => Promise<Principal | undefined>;

export async function resolvePrincipal(ctx: AppContext, req: Request, sessions: SessionResolver): Promise<Principal> {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  const challenge = 'Bearer realm="socle"';
  if (!match?.[1]) {
    throw unauthorized('Send an API token (socle api-tokens create) or the LTI session token (ltik) as Authorization: Bearer <token>.', challenge);
  }
  if (JWT.test(match[1])) {
    const session = await sessions(req, match[1]);
    if (!session) throw unauthorized('Invalid or expired LTI session: launch Socle from the platform again.', challenge);
    return session;
  }
  const token = await findApiToken(ctx.store.db, match[1]);
  if (!token) throw unauthorized('Unknown or revoked API token.', challenge);
  await enforceRateLimit(ctx, 'api', token.name);
  return { kind: 'api-token', name: token.name, role: token.role, platformId: token.platformId };
}

