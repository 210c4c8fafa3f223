/**
 * Access and refresh tokens of wallets: opaque, kept as SHA-256 digests, checked on the database's clock. A
 * refresh rotates the pair; a refresh token presented after its rotation revokes every live token of that wallet
 * for that learner (it was copied).
 */
import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/store';
import { walletClients, walletTokens } from '../db/schema';
import type { WalletClient } from './clients';
import { ACCESS_TTL_SECONDS, digest, oauthError, opaque, REFRESH_TTL_SECONDS, scopeList } from './oauth';

/** The token endpoint's answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

/** A scope asked at the token endpoint: a subset of what was granted (omitted: all of it). */
function narrowScope(granted: string, asked: string | undefined): string {
  if (asked === undefined || asked.trim() === '') return granted;
  const allowed = scopeList(granted);
  const wanted = scopeList(asked);
  const outside = wanted.filter((s) => !allowed.includes(s));
  if (outside.length) throw oauthError('invalid_scope', `not granted: ${outside.join(' ')}`);
  return wanted.join(' ');
}

export async function issueTokens(
  ex: Executor,
  grant: { clientId: number; userId: number; authorizationId: string | null; scope: string },
  askedScope?: string,
): Promise<TokenResponse> {
  const scope = narrowScope(grant.scope, askedScope);
  const access = opaque();
  const refresh = opaque();
  await ex.insert(walletTokens).values({
    clientId: grant.clientId,
    userId: grant.userId,
    authorizationId: grant.authorizationId,
    scope,
    accessHash: digest(access),
    refreshHash: digest(refresh),
    accessExpiresAt: sql`now() + make_interval(secs => ${ACCESS_TTL_SECONDS})`,
    refreshExpiresAt: sql`now() + make_interval(secs => ${REFRESH_TTL_SECONDS})`,
  });
  return { access_token: access, token_type: 'Bearer', expires_in: ACCESS_TTL_SECONDS, refresh_token: refresh, scope };
}

/** The refresh grant (RFC 6749 §6): the old pair is revoked, a new one given for the same or a narrower scope. */
export async function refreshTokens(ex: Executor, client: WalletClient, refreshToken: string, askedScope: string | undefined): Promise<TokenResponse> {
  const [row] = await ex
    .select({ ...getTableColumns(walletTokens), live: sql<boolean>`${walletTokens.refreshExpiresAt} > now()` })
    .from(walletTokens)
    .where(eq(walletTokens.refreshHash, digest(refreshToken)));
  if (!row || row.clientId !== client.id) throw oauthError('invalid_grant', 'Unknown refresh token.');
  if (row.revokedAt) {
    await ex
      .update(walletTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(walletTokens.clientId, client.id), eq(walletTokens.userId, row.userId), isNull(walletTokens.revokedAt)));
    throw oauthError('invalid_grant', 'This refresh token was already used: the tokens of this wallet are revoked.');
  }
  if (!row.live) throw oauthError('invalid_grant', 'This refresh token has expired.');
  // a scope beyond the grant is refused before anything changes: the refresh token stays usable
  const scope = narrowScope(row.scope, askedScope);
  const [revoked] = await ex
    .update(walletTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(walletTokens.id, row.id), isNull(walletTokens.revokedAt)))
    .returning({ id: walletTokens.id });
  if (!revoked) throw oauthError('invalid_grant', 'This refresh token was already used.');
  return issueTokens(ex, { clientId: client.id, userId: row.userId, authorizationId: row.authorizationId, scope });
}

/** RFC 7009: revokes the token (access or refresh) if it is this client's; unknown tokens are not an error. */
export async function revokeToken(ex: Executor, client: WalletClient, token: string): Promise<void> {
  const hash = digest(token);
  await ex
    .update(walletTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(walletTokens.clientId, client.id), isNull(walletTokens.revokedAt), sql`(${walletTokens.accessHash} = ${hash} OR ${walletTokens.refreshHash} = ${hash})`));
}

/** Who a Bearer token speaks for: the learner, the wallet and the granted scopes. */
export interface WalletGrant {
  tokenId: number;
  userId: number;
  clientId: number;
  scopes: string[];
}

/** The live grant of an access token (undefined when unknown, expired, revoked or of a revoked wallet). */
export async function verifyAccessToken(ex: Executor, token: string): Promise<WalletGrant | undefined> {
  const [row] = await ex
    .select({ id: walletTokens.id, userId: walletTokens.userId, clientId: walletTokens.clientId, scope: walletTokens.scope })
    .from(walletTokens)
    .innerJoin(walletClients, eq(walletClients.id, walletTokens.clientId))
    .where(and(eq(walletTokens.accessHash, digest(token)), isNull(walletTokens.revokedAt), isNull(walletClients.revokedAt), sql`${walletTokens.accessExpiresAt} > now()`));
  return row ? { tokenId: row.id, userId: row.userId, clientId: row.clientId, scopes: scopeList(row.scope) } : undefined;
}

/** A wallet the learner connected and has not disconnected: it holds a refresh token still valid. */
export interface ConnectedWallet {
  clientId: string;
  name: string;
  scope: string;
  since: Date;
}

export async function connectedWallets(ex: Executor, userId: number): Promise<ConnectedWallet[]> {
  const rows = await ex
    .select({ clientId: walletClients.clientId, name: walletClients.clientName, scope: walletTokens.scope, since: walletTokens.createdAt })
    .from(walletTokens)
    .innerJoin(walletClients, eq(walletClients.id, walletTokens.clientId))
    .where(and(eq(walletTokens.userId, userId), isNull(walletTokens.revokedAt), isNull(walletClients.revokedAt), sql`${walletTokens.refreshExpiresAt} > now()`))
    .orderBy(walletClients.clientName, walletTokens.createdAt);
  const byClient = new Map<string, ConnectedWallet>();
  for (const r of rows) {
    const known = byClient.get(r.clientId);
    if (!known) byClient.set(r.clientId, { ...r });
    else known.scope = [...new Set([...scopeList(known.scope), ...scopeList(r.scope)])].join(' ');
  }
  return [...byClient.values()];
}

/** The learner disconnects a wallet: every token it holds for them is revoked. Returns how many. */
export async function disconnectWallet(ex: Executor, userId: number, clientId: string): Promise<number> {
  const revoked = await ex
    .update(walletTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(walletTokens.userId, userId),
        isNull(walletTokens.revokedAt),
        sql`${walletTokens.clientId} = (SELECT id FROM wallet_clients WHERE client_id = ${clientId})`,
      ),
    )
    .returning({ id: walletTokens.id });
  return revoked.length;
}
