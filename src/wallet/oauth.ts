/**
 * What the wallet pieces share: the Open Badges 3.0 scopes, the lifetimes, opaque random values and their digests,
 * and the OAuth 2.0 error codes carried by a SocleError (the HTTP side answers them in the shape OAuth asks).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SocleError } from '../domain/errors';

const SCOPE_BASE = 'https://purl.imsglobal.org/spec/ob/v3p0/scope/';
export const SCOPES = {
  credentialRead: `${SCOPE_BASE}credential.readonly`,
  credentialUpsert: `${SCOPE_BASE}credential.upsert`,
  profileRead: `${SCOPE_BASE}profile.readonly`,
  profileUpdate: `${SCOPE_BASE}profile.update`,
} as const;
export const OB_SCOPES: readonly string[] = Object.values(SCOPES);
/** Asked by wallets (the spec's registration example) for a refresh token; accepted and granted as is. */
export const OFFLINE_ACCESS = 'offline_access';
export const KNOWN_SCOPES: readonly string[] = [...OB_SCOPES, OFFLINE_ACCESS];

/** A request waits this long for the learner's approval in Moodle. */
export const REQUEST_TTL_SECONDS = 15 * 60;
/** The spec's recommended lifetime of an authorization code. */
export const CODE_TTL_SECONDS = 600;
/** The spec's recommended lifetime of an access token. */
export const ACCESS_TTL_SECONDS = 3600;
export const REFRESH_TTL_SECONDS = 90 * 24 * 3600;

/** An opaque value of 256 random bits, base64url. */
export const opaque = (bytes = 32) => randomBytes(bytes).toString('base64url');
/** The SHA-256 digest kept instead of a random secret (token, code, client secret, cookie). */
export const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');
export function sameDigest(value: string, stored: string): boolean {
  const a = Buffer.from(digest(value), 'hex');
  const b = Buffer.from(stored, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The space-separated scopes of a request, each once, in the order given. */
export const scopeList = (scope: string | undefined) => [...new Set((scope ?? '').split(' ').filter(Boolean))];

/** The OAuth 2.0 error codes Socle answers (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata';

/** A refusal of the OAuth endpoints: a SocleError (401 for a client that did not authenticate, else 400). */
export function oauthError(code: OAuthErrorCode, description: string): SocleError {
  return new SocleError(code === 'invalid_client' ? 'unauthorized' : 'invalid_request', description, [{ path: 'oauth', message: code }], code === 'invalid_client' ? { challenge: 'Basic realm="socle"' } : {});
}

/** The OAuth error code of a refusal made by `oauthError` (undefined for another error). */
export function oauthCodeOf(error: SocleError): OAuthErrorCode | undefined {
  const detail = error.details.find((d) => d.path === 'oauth');
  return detail?.message as OAuthErrorCode | undefined;
}
