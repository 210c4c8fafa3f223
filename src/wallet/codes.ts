/**
 * Authorization requests of wallets and their codes (the OAuth 2.0 code grant with PKCE, RFC 7636, S256 only).
 *
 * The wallet sends the learner's browser to the authorize URL; Socle does not know the learner there (they are
 * known by an LTI session, opened from Moodle), so the request is stored, the browser gets a cookie, and the page
 * shows a short code. In "Ma progression" (their LTI session) the learner enters the code, sees which wallet asks
 * what, and approves or denies. Back on the request page, the browser that holds the cookie is sent to the
 * wallet's redirect URI with the authorization code (or `access_denied`), once.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../db/store';
import { walletAuthorizations, walletClients, walletTokens } from '../db/schema';
import { findClient, type WalletClient } from './clients';
import { CODE_TTL_SECONDS, digest, KNOWN_SCOPES, oauthError, opaque, REQUEST_TTL_SECONDS, sameDigest, scopeList } from './oauth';

export type WalletAuthorization = typeof walletAuthorizations.$inferSelect;

/** The authorize URL's query (RFC 6749 §4.1.1 with the spec's required state and PKCE). */
export const authorizeQuery = z.object({
  response_type: z.string().optional(),
  client_id: z.string().min(1).max(200),
  redirect_uri: z.string().min(1).max(2_000),
  scope: z.string().max(2_000).optional(),
  state: z.string().max(1_000).optional(),
  code_challenge: z.string().optional(),
  code_challenge_method: z.string().optional(),
});

/** Where the browser goes back: the wallet's redirect URI with `params` added to its query. */
export function redirectWith(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** A request that cannot be sent back to the wallet (unknown client, redirect URI not registered): shown to the learner. */
export class UnsafeRedirect extends Error {}

export interface NewRequest {
  authorization: WalletAuthorization;
  client: WalletClient;
  /** The short code the learner enters in "Ma progression" (shown on the page, kept as a digest). */
  userCode: string;
  /** The cookie value that binds the request to this browser (kept as a digest). */
  browserSecret: string;
}

/** Letters only, no vowels (no word), none that reads like a digit. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
/** The code as typed: case, spaces and dashes do not matter. */
export const normalizeUserCode = (typed: string) => typed.toUpperCase().replace(/[^A-Z]/g, '');

/**
 * Checks an authorization request and stores it. A bad client or redirect URI throws `UnsafeRedirect` (never
 * redirected to, RFC 6749 §4.1.2.1); any other fault throws an OAuth error to send to the redirect URI.
 */
export async function startAuthorization(ex: Executor, query: unknown): Promise<NewRequest> {
  const parsed = authorizeQuery.safeParse(query);
  if (!parsed.success) throw new UnsafeRedirect('The request has no client_id or redirect_uri.');
  const q = parsed.data;
  const client = await findClient(ex, q.client_id);
  if (!client) throw new UnsafeRedirect('This wallet is not registered with Socle.');
  if (!client.redirectUris.includes(q.redirect_uri)) throw new UnsafeRedirect('This return address is not one the wallet registered.');
  if (q.response_type !== 'code') throw oauthError('unsupported_response_type', 'response_type must be code');
  if (!q.state) throw oauthError('invalid_request', 'state is required');
  if (q.code_challenge_method !== 'S256') throw oauthError('invalid_request', 'PKCE with code_challenge_method S256 is required');
  if (!q.code_challenge || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) throw oauthError('invalid_request', 'code_challenge must be BASE64URL(SHA256(code_verifier))');
  const registered = scopeList(client.scope);
  const asked = scopeList(q.scope);
  if (asked.length === 0) throw oauthError('invalid_scope', 'scope is required');
  const granted = asked.filter((s) => KNOWN_SCOPES.includes(s) && registered.includes(s));
  if (granted.length === 0) throw oauthError('invalid_scope', 'none of the scopes asked was registered by this client');
  // requests past their time are of no use: the oldest leave with each new one
  await ex.delete(walletAuthorizations).where(sql`${walletAuthorizations.expiresAt} < now() - interval '1 day'`);
  const userCode = newUserCode();
  const browserSecret = opaque();
  const [authorization] = await ex
    .insert(walletAuthorizations)
    .values({
      id: randomUUID(),
      clientId: client.id,
      redirectUri: q.redirect_uri,
      scope: granted.join(' '),
      state: q.state,
      codeChallenge: q.code_challenge,
      userCodeHash: digest(normalizeUserCode(userCode)),
      browserHash: digest(browserSecret),
      expiresAt: sql`now() + make_interval(secs => ${REQUEST_TTL_SECONDS})`,
    })
    .returning();
  if (!authorization) throw new Error('authorization request not stored');
  return { authorization, client, userCode, browserSecret };
}

export interface PendingRequest {
  authorization: WalletAuthorization;
  client: WalletClient;
}

/** The request the learner's short code names, still waiting for a decision and not expired. */
export async function pendingByUserCode(ex: Executor, typed: string): Promise<PendingRequest | undefined> {
  const normalized = normalizeUserCode(typed);
  if (normalized.length !== 8) return undefined;
  const [row] = await ex
    .select({ authorization: walletAuthorizations, client: walletClients })
    .from(walletAuthorizations)
    .innerJoin(walletClients, eq(walletClients.id, walletAuthorizations.clientId))
    .where(and(eq(walletAuthorizations.userCodeHash, digest(normalized)), eq(walletAuthorizations.decision, 'pending'), sql`${walletAuthorizations.expiresAt} > now()`, isNull(walletClients.revokedAt)));
  return row;
}

/** The learner's decision on a pending request (by its id, from the consent form). False when it is no longer pending. */
export async function decide(ex: Executor, id: string, userId: number, approve: boolean): Promise<PendingRequest | undefined> {
  if (!z.uuid().safeParse(id).success) return undefined;
  const [authorization] = await ex
    .update(walletAuthorizations)
    .set({ decision: approve ? 'approved' : 'denied', userId })
    .where(and(eq(walletAuthorizations.id, id), eq(walletAuthorizations.decision, 'pending'), sql`${walletAuthorizations.expiresAt} > now()`))
    .returning();
  if (!authorization) return undefined;
  const [client] = await ex.select().from(walletClients).where(eq(walletClients.id, authorization.clientId));
  return client ? { authorization, client } : undefined;
}

export type Continuation =
  | { kind: 'pending'; pending: PendingRequest }
  | { kind: 'redirect'; location: string }
  | { kind: 'gone' };

/**
 * The browser that opened the request comes back to it: still pending (the page again), decided (sent to the
 * wallet with the code or `access_denied`, once), or gone (unknown, expired, another browser, already sent).
 */
export async function continueAuthorization(ex: Executor, id: string, browserSecret: string | undefined): Promise<Continuation> {
  if (!browserSecret || !z.uuid().safeParse(id).success) return { kind: 'gone' };
  const [row] = await ex
    .select({ authorization: walletAuthorizations, client: walletClients, live: sql<boolean>`${walletAuthorizations.expiresAt} > now()` })
    .from(walletAuthorizations)
    .innerJoin(walletClients, eq(walletClients.id, walletAuthorizations.clientId))
    .where(eq(walletAuthorizations.id, id));
  if (!row || !row.live || !sameDigest(browserSecret, row.authorization.browserHash) || row.authorization.codeHash) return { kind: 'gone' };
  const a = row.authorization;
  if (a.decision === 'pending') return { kind: 'pending', pending: { authorization: a, client: row.client } };
  if (a.decision === 'denied') {
    // sent back once: the request is then spent
    await ex.update(walletAuthorizations).set({ codeHash: digest(opaque()), codeUsedAt: sql`now()` }).where(eq(walletAuthorizations.id, a.id));
    return { kind: 'redirect', location: redirectWith(a.redirectUri, { error: 'access_denied', error_description: 'The learner denied the request', state: a.state }) };
  }
  const code = opaque();
  const [stored] = await ex
    .update(walletAuthorizations)
    .set({ codeHash: digest(code), codeExpiresAt: sql`now() + make_interval(secs => ${CODE_TTL_SECONDS})` })
    .where(and(eq(walletAuthorizations.id, a.id), isNull(walletAuthorizations.codeHash)))
    .returning({ id: walletAuthorizations.id });
  if (!stored) return { kind: 'gone' };
  return { kind: 'redirect', location: redirectWith(a.redirectUri, { code, scope: a.scope, state: a.state }) };
}

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const challengeOf = (verifier: string) => Buffer.from(digest(verifier), 'hex').toString('base64url');

/**
 * Spends an authorization code (once: any use marks it used) and checks it against the client, its redirect URI
 * and the PKCE verifier. A code used a second time revokes the tokens it gave (the spec's SHOULD).
 */
export async function redeemCode(
  ex: Executor,
  client: WalletClient,
  input: { code: string; redirectUri: string | undefined; codeVerifier: string | undefined },
): Promise<WalletAuthorization> {
  const codeHash = digest(input.code);
  const [spent] = await ex
    .update(walletAuthorizations)
    .set({ codeUsedAt: sql`now()` })
    .where(and(eq(walletAuthorizations.codeHash, codeHash), isNull(walletAuthorizations.codeUsedAt)))
    .returning({ ...getTableColumns(walletAuthorizations), live: sql<boolean>`${walletAuthorizations.codeExpiresAt} > now()` });
  if (!spent) {
    const [used] = await ex.select({ id: walletAuthorizations.id }).from(walletAuthorizations).where(eq(walletAuthorizations.codeHash, codeHash));
    if (used) await ex.update(walletTokens).set({ revokedAt: sql`now()` }).where(and(eq(walletTokens.authorizationId, used.id), isNull(walletTokens.revokedAt)));
    throw oauthError('invalid_grant', used ? 'This authorization code was already used: the tokens it gave are revoked.' : 'Unknown authorization code.');
  }
  const { live, ...a } = spent;
  if (a.clientId !== client.id || a.decision !== 'approved' || a.userId === null) throw oauthError('invalid_grant', 'This authorization code was not issued to this client.');
  if (!live) throw oauthError('invalid_grant', 'This authorization code has expired.');
  if (input.redirectUri !== a.redirectUri) throw oauthError('invalid_grant', 'redirect_uri is not the one of the authorization request.');
  if (!input.codeVerifier || !CODE_VERIFIER.test(input.codeVerifier)) throw oauthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters (RFC 7636).');
  if (challengeOf(input.codeVerifier) !== a.codeChallenge) throw oauthError('invalid_grant', 'code_verifier does not match the code_challenge.');
  return a;
}
