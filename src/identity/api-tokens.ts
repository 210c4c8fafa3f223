import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { apiTokens, auditEvents, platforms } from '../db/schema';
import type { Executor } from '../db/store';
import { conflict } from '../domain/errors';

export type ApiToken = typeof apiTokens.$inferSelect;

const PREFIX = 'socle_';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token; the clear token is returned once and never stored. A `conflict` when the name is taken. */
export async function createApiToken(
  ex: Executor,
  input: { name: string; role: 'admin'; platformId: number | null },
): Promise<{ token: string; record: ApiToken }> {
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const [record] = await ex
    .insert(apiTokens)
    .values({ name: input.name, role: input.role, platformId: input.platformId, tokenHash: digest(token) })
    .onConflictDoNothing({ target: apiTokens.name })
    .returning();
  if (!record) throw conflict(`a token named ${input.name} already exists`);
  await ex.insert(auditEvents).values({ actor: 'cli', action: 'api-token.create', subject: `api-token:${input.name}`, after: { role: input.role, platformId: input.platformId } });
  return { token, record };
}

/** The active token matching a bearer value, or undefined. Records its last use (at most once a minute). */
export async function findApiToken(ex: Executor, bearer: string): Promise<ApiToken | undefined> {
  if (!bearer.startsWith(PREFIX)) return undefined;
  const [record] = await ex
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, digest(bearer)), isNull(apiTokens.revokedAt)));
  if (record && (!record.lastUsedAt || Date.now() - record.lastUsedAt.getTime() > 60_000)) {
    await ex.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, record.id));
  }
  return record;
}

export async function listApiTokens(ex: Executor) {
  return ex
    .select({
      name: apiTokens.name,
      role: apiTokens.role,
      platform: platforms.issuer,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .leftJoin(platforms, eq(platforms.id, apiTokens.platformId))
    .orderBy(apiTokens.name);
}

export async function revokeApiToken(ex: Executor, name: string): Promise<boolean> {
  const rows = await ex
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  if (rows.length) await ex.insert(auditEvents).values({ actor: 'cli', action: 'api-token.revoke', subject: `api-token:${name}` });
  return rows.length > 0;
}
