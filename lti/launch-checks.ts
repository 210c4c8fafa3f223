import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { decodeJwt, type JWTPayload } from 'jose';
import type { AppContext } from '../src/context';
import type { PgLtiDatabase } from './plugin';

/** The collection where each login's state and the nonce Socle issued with it wait for the id_token post. */
export const LOGIN_COLLECTION = 'login';

export interface LaunchLimits {
  /** Seconds an id_token is accepted after its `iat`. */
  tokenMaxAgeSeconds: number;
  /** Seconds a platform's clock may be ahead of (or behind) Socle's for `iat` and `exp`. */
  clockSkewSeconds: number;
}

/**
 * Why an id_token's claims refuse it at `now` (seconds), or undefined. ltijs checks `exp` only when present and
 * the age only as `now - iat > maxAge`, which a token without `iat` or with a future one passes for ever: once
 * its nonce was forgotten, such a token was accepted again.
 */
export function claimsRefusal(claims: JWTPayload, expectedNonce: string, now: number, limits: LaunchLimits): string | undefined {
  const { exp, iat, nonce } = claims;
  if (typeof nonce !== 'string' || nonce !== expectedNonce) return 'the nonce is not the one issued at login for this state';
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'the id_token has no exp';
  if (now > exp + limits.clockSkewSeconds) return 'the id_token expired';
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'the id_token has no iat';
  if (iat > now + limits.clockSkewSeconds) return 'the id_token was issued in the future (iat)';
  if (now - iat > limits.tokenMaxAgeSeconds) return `the id_token is older than ${limits.tokenMaxAgeSeconds} s (iat)`;
  return undefined;
}

/**
 * Socle's checks around ltijs' launch, mounted before it:
 * - at login (`/login`), the nonce sent to the platform is Socle's own (32 random bytes, where ltijs uses
 *   Math.random), kept with the state for the state's lifetime;
 * - on an id_token post (any path: ltijs validates one wherever it comes without an ltik; Socle checks it even
 *   with one), the login record of
 *   the posted state is taken once (a second post of the same state finds nothing), and the token is refused
 *   unless it has `exp` and `iat` within the limits on the context's clock and carries that login's nonce.
 * The claims are read before ltijs verifies the signature: these checks only ever refuse; ltijs then verifies
 * the signature, issuer, audience, its own nonce memory and the LTI claims.
 */
export function launchChecks(
  ctx: AppContext,
  plugin: PgLtiDatabase,
  limits: LaunchLimits,
  refuse: (req: Request, res: Response, reason: string) => void,
): express.Router {
  const router = express.Router();
  // The same parsers as ltijs' (which then finds the body parsed and leaves it).
  router.use(express.urlencoded({ extended: false }), express.json());

  router.all('/login', (_req, res, next) => {
    const redirect = res.redirect.bind(res) as (url: string) => void;
    res.redirect = ((...args: unknown[]) => {
      const target = args.find((a): a is string => typeof a === 'string');
      const url = target === undefined ? undefined : new URL(target, 'http://relative.invalid');
      const state = url?.searchParams.get('state');
      if (!url || !state || !url.searchParams.has('nonce') || args.length !== 1) {
        redirect(...(args as [string]));
        return;
      }
      const nonce = randomBytes(32).toString('base64url');
      url.searchParams.set('nonce', nonce);
      plugin
        .Insert(false, LOGIN_COLLECTION, { state, nonce })
        .then(() => redirect(url.toString()))
        .catch(next);
    }) as Response['redirect'];
    next();
  });

  const check: RequestHandler = (req, res, next) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || !('id_token' in body)) {
      next();
      return;
    }
    const { id_token: token, state } = body;
    if (typeof token !== 'string' || typeof state !== 'string' || !state) {
      refuse(req, res, 'the id_token post needs one id_token and one state');
      return;
    }
    (async () => {
      const [login] = await plugin.take(LOGIN_COLLECTION, { state });
      if (!login) return 'no login is waiting for this state (unknown, already used or expired)';
      let claims: JWTPayload;
      try {
        claims = decodeJwt(token);
      } catch {
        return 'the id_token is not a JWT';
      }
      return claimsRefusal(claims, String(login.nonce), ctx.clock().getTime() / 1000, limits);
    })().then((reason) => (reason ? refuse(req, res, reason) : next()), next);
  };
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path === '/login' || req.path === '/keys' || req.path === '/register') {
      next();
      return;
    }
    check(req, res, next);
  });
  return router;
}
