import type { Request, RequestHandler } from 'express';
import type { AppContext } from '../context';
import { forbidden, invalid, unauthorized } from '../domain/errors';
import { authenticateXapiCredentials, type XapiPrincipal } from '../xapi/keys';
import { grantingScope, scopesFor, type XapiResource } from '../xapi/scopes';
import { countRequest, type RequestAllowance } from '../web/rate-limit';

/** The xAPI versions Socle speaks, as /xapi/about lists them. */
export const XAPI_VERSIONS = ['1.0.3', '2.0.0'] as const;
export type XapiVersion = (typeof XAPI_VERSIONS)[number];

/** `X-Experience-API-Version` values accepted on every resource: any 1.0.x, and 2.0.0. */
export const ACCEPTED_VERSION = /^(1\.0(\.\d+)?|2\.0\.0)$/;

/** The version of the answer to a request that asked for `requested`: 2.0.0 for 2.0.0, else 1.0.3. */
export function answeredVersion(requested: string | undefined): XapiVersion {
  return requested?.trim() === '2.0.0' ? '2.0.0' : '1.0.3';
}

/**
 * The version each key last spoke in an authenticated request (by key name; at most `SPOKEN_KEYS` keys, the least
 * recent forgotten): what answers a request of that key that has no version header. Such a request is refused
 * (400) and its answer must carry a version: xAPI 1.0.3 wants 1.0.3 there, 2.0 wants 2.0.0, so a client is answered
 * in the version it speaks; a key never heard of gets the latest, 2.0.0.
 */
const spoken = new Map<string, XapiVersion>();
const SPOKEN_KEYS = 10_000;

function remember(key: string, version: XapiVersion): void {
  if (spoken.get(key) === version) return;
  spoken.delete(key);
  spoken.set(key, version);
  if (spoken.size > SPOKEN_KEYS) spoken.delete(spoken.keys().next().value as string);
}

/** The key name of a request's Basic credentials (unchecked), or ''. */
function basicKey(req: Request): string {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.header('authorization') ?? '');
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  return decoded.slice(0, Math.max(decoded.indexOf(':'), 0));
}

/**
 * Sets the answer's `X-Experience-API-Version` from the request's (an error answer carries it too); without one,
 * the version the key last spoke, else 2.0.0.
 */
export const versionHeader: RequestHandler = (req, res, next) => {
  const requested = req.header('x-experience-api-version');
  res.setHeader('X-Experience-API-Version', requested ? answeredVersion(requested) : (spoken.get(basicKey(req)) ?? '2.0.0'));
  next();
};

/** The request's xAPI version, checked: 400 when the header is missing or not one Socle speaks. */
export function requestVersion(req: Request): XapiVersion {
  const version = req.header('x-experience-api-version')?.trim();
  if (!version || !ACCEPTED_VERSION.test(version)) {
    throw invalid('The X-Experience-API-Version header is required and must be 1.0.x (1.0.3) or 2.0.0.', [
      { path: 'headers.x-experience-api-version', message: version ? `unsupported version "${version}"` : 'missing' },
    ]);
  }
  return answeredVersion(version);
}

export interface XapiRequest {
  principal: XapiPrincipal;
  /** The key's name (24 random hex digits): what the request is counted against and the statements' authority. */
  key: string;
  allowance: RequestAllowance;
  version: XapiVersion;
}

/**
 * Checks the version header and the Basic credentials (a platform key or an LRS client), counts the request against
 * the key's rate limit once authenticated (a stranger sending a key's id with a wrong secret cannot spend that key's
 * budget), then checks that the key's scopes open `resource` for reading or writing (403 naming the scopes that
 * would). The caller checks the allowance before committing and before answering an error.
 */
export async function authenticateXapi(ctx: AppContext, req: Request, resource: XapiResource, write: boolean): Promise<XapiRequest> {
  const version = requestVersion(req);
  const header = req.header('authorization') ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  const challenge = 'Basic realm="Socle xAPI"';
  if (!match?.[1]) throw unauthorized('Basic credentials issued by `socle xapi-keys create` are required.', challenge);
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = decoded.slice(0, colon);
  const principal = colon > 0 ? await authenticateXapiCredentials(ctx.store.db, key, decoded.slice(colon + 1), ctx.xapiKeys) : undefined;
  if (!principal) throw unauthorized('Unknown or revoked xAPI key, or wrong secret.', challenge);
  remember(key, version);
  const allowance = countRequest(ctx, 'xapi', key);
  // PGlite runs one query at a time: nothing to overlap
  if (ctx.store.driver !== 'postgres') await allowance.check();
  if (!grantingScope(principal.scopes, resource, write)) {
    await allowance.check();
    const wanted = scopesFor(resource, write);
    throw forbidden(
      `This xAPI client may not ${write ? 'write to' : 'read'} the ${resource} resource: it needs one of the scopes ${wanted.join(', ')} (it has ${principal.scopes.join(', ') || 'none'}).`,
      [{ path: 'scope', message: `one of ${wanted.join(', ')}` }],
    );
  }
  return { principal, key, allowance, version };
}
