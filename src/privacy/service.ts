import { and, eq, inArray, sql } from 'drizzle-orm';
import { getTableConfig, type PgTable, PgTable as PgTableClass } from 'drizzle-orm/pg-core';
import * as schema from '../db/schema';
import { auditEvents, courseMembers, courses, ltiRecords, users, xapiDocuments, xapiOutbox, xapiStatements } from '../db/schema';
import { type Executor, queryRows } from '../db/store';
import { findPlatform, findUser, ltiActor, normalizeIssuer } from '../identity/records';
import { uuidV5 } from '../domain/statement-ids';
import { notFound } from '../domain/errors';
import { accountHashes } from '../domain/xapi-agents';
import { enqueueStatements } from '../forwarding/outbox';

/**
 * GDPR operations on one learner (platform issuer + LTI `sub`): everything Socle holds on them, and its erasure.
 * Tables are found from the schema (every table with a `user_id` column), so a module that adds one is covered.
 */

/** The schema's tables that hold rows about one user, by SQL name. */
export function personalTables(): { name: string; table: PgTable }[] {
  return (Object.values(schema) as unknown[])
    .filter((t): t is PgTable => t instanceof PgTableClass)
    .map((table) => ({ table, config: getTableConfig(table) }))
    .filter(({ config }) => config.name !== 'users' && config.columns.some((c) => c.name === 'user_id'))
    .map(({ table, config }) => ({ name: config.name, table }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function resolveLearner(ex: Executor, issuer: string, sub: string) {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`no platform ${issuer} (see socle platforms list)`);
  const user = await findUser(ex, platform.id, sub);
  if (!user) throw notFound(`no user ${sub} on ${platform.issuer}`);
  return { platform, user };
}

/**
 * The learner's rows of the outbox: the statements Socle received about them (the row names the stored statement)
 * and those it emitted (the row holds the statement).
 */
function outboxOfLearner(issuer: string, sub: string, userId: number) {
  return sql`((${xapiOutbox.statement} IS NULL AND ${xapiOutbox.statementId} IN (SELECT id FROM xapi_statements WHERE user_id = ${userId}))
    OR (${xapiOutbox.statement}->'actor'->'account'->>'homePage' = ${normalizeIssuer(issuer)}
        AND ${xapiOutbox.statement}->'actor'->'account'->>'name' = ${sub}))`;
}

/** The statement an outbox row sends: its own, or the stored one it names. */
const outboxStatement = sql<unknown>`coalesce(${xapiOutbox.statement}, (SELECT s.statement FROM xapi_statements s WHERE s.id = ${xapiOutbox.statementId}))`;

/** Everything Socle holds on a learner, as one JSON-able object. */
export async function exportLearner(ex: Executor, issuer: string, sub: string) {
  const { platform, user } = await resolveLearner(ex, issuer, sub);
  const tables: Record<string, unknown[]> = {};
  for (const { name } of personalTables()) {
    tables[name] = await queryRows(ex, sql`SELECT * FROM ${sql.identifier(name)} WHERE user_id = ${user.id}`);
  }
  const memberships = await ex
    .select({ contextId: courses.contextId, title: courses.title, roles: courseMembers.roles, status: courseMembers.status })
    .from(courseMembers)
    .innerJoin(courses, eq(courses.id, courseMembers.courseId))
    .where(eq(courseMembers.userId, user.id));
  const outbox = await ex
    .select({ statementId: xapiOutbox.statementId, status: xapiOutbox.status, createdAt: xapiOutbox.createdAt, statement: outboxStatement })
    .from(xapiOutbox)
    .where(outboxOfLearner(platform.issuer, sub, user.id));
  const audit = await ex.select().from(auditEvents).where(eq(auditEvents.actor, ltiActor(platform.issuer, sub)));
  const documents = await ex
    .select({
      resource: xapiDocuments.resource,
      documentId: xapiDocuments.documentId,
      registration: xapiDocuments.registration,
      contentType: xapiDocuments.contentType,
      content: xapiDocuments.content,
      updated: xapiDocuments.updated,
    })
    .from(xapiDocuments)
    .where(and(eq(xapiDocuments.platformId, platform.id), inArray(xapiDocuments.agentHash, accountHashes(platform.issuer, sub))))
    .orderBy(xapiDocuments.id);
  return {
    exportedAt: new Date().toISOString(),
    platform: { issuer: platform.issuer, name: platform.name },
    user,
    courses: memberships,
    tables,
    outbox,
    // the xAPI states and agent profiles about the learner's account (content in base64: documents may be binary)
    xapiDocuments: documents.map(({ content, ...d }) => ({ ...d, contentBase64: content.toString('base64') })),
    actionsInAuditLog: audit,
  };
}

export interface ErasureReport {
  tables: Record<string, number>;
  voidingStatementsQueued: number;
  undeliveredStatementsDropped: number;
}

const VOIDED = 'http://adlnet.gov/expapi/verbs/voided';

/** The `sha2` of a stored statement's attachments (`path`: the statement, or its SubStatement) include `a.sha2`. */
const references = (path: string) =>
  `EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.statement${path}->'attachments') = 'array' THEN s.statement${path}->'attachments' ELSE '[]'::jsonb END) AS x(v) WHERE lower(x.v->>'sha2') = a.sha2)`;

/**
 * Deletes the stored attachment contents (of platform `platformId`, or of every owner) that no remaining statement
 * of their owner references: what an erasure or the retention purge leaves behind. Reads only when there are such
 * contents (an ingest with no attachment stores none).
 */
async function deleteUnreferencedAttachments(tx: Executor, platformId: number | undefined): Promise<number> {
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`DELETE FROM xapi_attachments a WHERE ${platformId === undefined ? sql`true` : sql`a.platform_id = ${platformId}`}
      AND NOT EXISTS (SELECT 1 FROM xapi_statements s
        WHERE (s.platform_id = a.platform_id OR (a.platform_id IS NULL AND s.platform_id IS NULL AND s.key_id = a.client_id))
          AND (${sql.raw(references(''))} OR ${sql.raw(references("->'object'"))}))
      RETURNING a.id`,
  );
  return rows.length;
}

/**
 * Erases a learner: their statements already delivered to the external LRS are voided through the outbox (the
 * voiding statements name the same actor, pseudonymised at delivery when configured); undelivered ones are dropped;
 * every row about them is deleted (the users row cascades to every table above); their LTI tokens are deleted; the
 * audit log keeps what was done but no longer who did it. Anonymous figures (learner counts, hours delivered) that
 * reports need are kept by `beforeErase` hooks. One transaction: all or nothing.
 */
export async function eraseLearner(
  ex: Executor,
  issuer: string,
  sub: string,
  options: { actor: string; beforeErase?: (tx: Executor, userId: number, platformId: number) => Promise<void> },
): Promise<ErasureReport> {
  return ex.transaction(async (tx) => {
    const { platform, user } = await resolveLearner(tx, issuer, sub);
    const counts: Record<string, number> = {};
    for (const { name } of personalTables()) {
      const [row] = await queryRows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM ${sql.identifier(name)} WHERE user_id = ${user.id}`);
      counts[name] = row?.n ?? 0;
    }
    const delivered = await tx
      .select({ statementId: xapiOutbox.statementId, statement: outboxStatement })
      .from(xapiOutbox)
      .where(and(outboxOfLearner(platform.issuer, sub, user.id), eq(xapiOutbox.status, 'delivered')));
    const undelivered = await tx
      .delete(xapiOutbox)
      .where(and(outboxOfLearner(platform.issuer, sub, user.id), inArray(xapiOutbox.status, ['pending', 'dead'])))
      .returning({ id: xapiOutbox.id });
    const now = new Date().toISOString();
    const voiding = delivered
      .filter(({ statement }) => (statement as { verb?: { id?: string } }).verb?.id !== VOIDED)
      .map(({ statementId, statement }) => ({
        id: uuidV5(`socle:privacy-void:${statementId}`),
        actor: (statement as { actor: unknown }).actor,
        verb: { id: VOIDED, display: { 'en-US': 'voided', 'fr-FR': 'annulé' } },
        object: { objectType: 'StatementRef', id: statementId },
        timestamp: now,
      }));
    if (voiding.length) await enqueueStatements(tx, voiding);
    // The delivered originals leave Socle too; the voiding statements carry only the (pseudonymisable) account.
    await tx.delete(xapiOutbox).where(and(outboxOfLearner(platform.issuer, sub, user.id), eq(xapiOutbox.status, 'delivered')));
    await options.beforeErase?.(tx, user.id, platform.id);
    // the platform's xAPI documents about the learner's account (states, agent profiles)
    const documents = await tx
      .delete(xapiDocuments)
      .where(and(eq(xapiDocuments.platformId, platform.id), inArray(xapiDocuments.agentHash, accountHashes(platform.issuer, sub))))
      .returning({ id: xapiDocuments.id });
    counts.xapi_documents = documents.length;
    await tx
      .delete(ltiRecords)
      .where(
        and(
          inArray(ltiRecords.collection, ['idtoken', 'contexttoken']),
          sql`${ltiRecords.doc}->>'iss' = ${platform.issuer}`,
          sql`${ltiRecords.doc}->>'user' = ${sub}`,
        ),
      );
    await tx.update(auditEvents).set({ actor: 'erased-user' }).where(eq(auditEvents.actor, ltiActor(platform.issuer, sub)));
    await tx.delete(users).where(eq(users.id, user.id));
    // the contents of their statements' attachments that no other statement of the platform references
    counts.xapi_attachments = await deleteUnreferencedAttachments(tx, platform.id);
    await tx.insert(auditEvents).values({
      actor: options.actor,
      action: 'privacy.erase',
      subject: `platform:${platform.id}`,
      after: { rows: counts, voidingStatementsQueued: voiding.length, undeliveredStatementsDropped: undelivered.length },
    });
    return { tables: counts, voidingStatementsQueued: voiding.length, undeliveredStatementsDropped: undelivered.length };
  });
}

/** Deletes statements and completion facts older than the retention period (and delivered outbox rows). */
export async function purgeOlderThan(ex: Executor, cutoff: Date) {
  return ex.transaction(async (tx) => {
    const statements = await tx.delete(xapiStatements).where(sql`${xapiStatements.timestamp} < ${cutoff}`).returning({ seq: xapiStatements.seq });
    const facts = await queryRows<{ user_id: number }>(
      tx,
      sql`DELETE FROM completion_events WHERE statement_timestamp < ${cutoff} RETURNING user_id`,
    );
    const outbox = await tx
      .delete(xapiOutbox)
      .where(and(eq(xapiOutbox.status, 'delivered'), sql`${xapiOutbox.deliveredAt} < ${cutoff}`))
      .returning({ id: xapiOutbox.id });
    const attachments = await deleteUnreferencedAttachments(tx, undefined);
    return { statements: statements.length, completionEvents: facts.length, affectedUsers: [...new Set(facts.map((f) => f.user_id))], outbox: outbox.length, attachments };
  });
}
