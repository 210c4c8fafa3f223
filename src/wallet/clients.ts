/**
 * Wallets registering with Socle: OAuth 2.0 Dynamic Client Registration (RFC 7591) as the Open Badges 3.0 API
 * profiles it (every URL on HTTPS and on one host name, client_secret_basic, the code grant with refresh).
 */
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../db/store';
import { walletClients } from '../db/schema';
import { digest, KNOWN_SCOPES, oauthError, opaque, sameDigest, scopeList, SCOPES } from './oauth';

export type WalletClient = typeof walletClients.$inferSelect;

/** Loopback addresses a wallet under development may use over plain HTTP (RFC 8252 §7.3). */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const clientUrl = z
  .string()
  .max(2_000)
  .refine((v) => URL.canParse(v), 'expected an absolute URL')
  .refine((v) => {
    const url = new URL(v);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  }, 'expected an https:// URL')
  .refine((v) => !new URL(v).hash, 'a URL without fragment');

/** The registration request's body (the spec's table; unknown members are kept and answered back). */
export const registrationRequest = z
  .looseObject({
    client_name: z.string().trim().min(1).max(200),
    client_uri: clientUrl,
    logo_uri: clientUrl,
    tos_uri: clientUrl,
    policy_uri: clientUrl,
    software_id: z.string().min(1).max(200),
    software_version: z.string().min(1).max(100),
    redirect_uris: z.array(clientUrl).min(1).max(10),
    scope: z.string().max(2_000).optional(),
    token_endpoint_auth_method: z.literal('client_secret_basic').default('client_secret_basic'),
    grant_types: z
      .array(z.enum(['authorization_code', 'refresh_token']))
      .min(1)
      .default(['authorization_code']),
    response_types: z.array(z.literal('code')).min(1).default(['code']),
    contacts: z.array(z.string().max(320)).max(10).optional(),
  })
  .superRefine((body, ctx) => {
    const hosts = new Set([body.client_uri, body.logo_uri, body.tos_uri, body.policy_uri, ...body.redirect_uris].map((u) => new URL(u).hostname));
    if (hosts.size > 1) ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: `every URL must have the same host name (got ${[...hosts].join(', ')})` });
  });
export type RegistrationRequest = z.infer<typeof registrationRequest>;

/** The scopes registered when a wallet names none: reading its badges and the learner's profile. */
const DEFAULT_SCOPE = [SCOPES.credentialRead, SCOPES.profileRead];

export interface Registration {
  client: WalletClient;
  /** The RFC 7591 answer (201): everything registered, with client_id and client_secret (shown this once). */
  response: Record<string, unknown>;
}

/** Registers a wallet; refuses metadata the profile does not allow (`invalid_client_metadata`, `invalid_redirect_uri`). */
export async function registerClient(ex: Executor, body: unknown): Promise<Registration> {
  const parsed = registrationRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? 'body');
    throw oauthError(field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata', `${field}: ${issue?.message ?? 'invalid'}`);
  }
  const request = parsed.data;
  // unknown scopes are left out: the answer lists the scopes Socle registered
  const asked = request.scope === undefined ? DEFAULT_SCOPE : scopeList(request.scope).filter((s) => KNOWN_SCOPES.includes(s));
  if (asked.length === 0) throw oauthError('invalid_client_metadata', 'scope: none of the Open Badges scopes');
  const clientId = opaque(16);
  const secret = opaque(32);
  const scope = asked.join(' ');
  const metadata = { ...request, scope };
  const [client] = await ex
    .insert(walletClients)
    .values({ clientId, secretHash: digest(secret), clientName: request.client_name, redirectUris: request.redirect_uris, scope, metadata })
    .returning();
  if (!client) throw new Error('client not stored');
  return {
    client,
    response: {
      client_id: clientId,
      client_secret: secret,
      client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
      client_secret_expires_at: 0,
      ...metadata,
    },
  };
}

/** A registered wallet by its client_id (undefined when unknown or revoked). */
export async function findClient(ex: Executor, clientId: string): Promise<WalletClient | undefined> {
  const [client] = await ex
    .select()
    .from(walletClients)
    .where(and(eq(walletClients.clientId, clientId), isNull(walletClients.revokedAt)));
  return client;
}

/**
 * The wallet authenticating at the token endpoint: HTTP Basic (client_secret_basic) with its client_id and
 * secret. Anything else is `invalid_client` (401).
 */
export async function authenticateClient(ex: Executor, authorization: string | undefined): Promise<WalletClient> {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
  if (!match?.[1]) throw oauthError('invalid_client', 'The client authenticates with HTTP Basic (client_secret_basic).');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // RFC 6749 §2.3.1: both parts are form-encoded before Basic
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      return v;
    }
  };
  const id = colon < 0 ? '' : decode(decoded.slice(0, colon));
  const secret = colon < 0 ? '' : decode(decoded.slice(colon + 1));
  const client = id ? await findClient(ex, id) : undefined;
  if (!client || !sameDigest(secret, client.secretHash)) throw oauthError('invalid_client', 'Unknown client or wrong secret.');
  return client;
}
