/**
 * The xAPI document resources (State, Activity Profile, Agent Profile: xAPI 1.0.3 Communication 2.2–2.7, 2.0
 * 4.1.6): documents kept as sent, per owner (a platform, or an unrestricted LRS client), with SHA-1 ETags, the
 * If-Match / If-None-Match preconditions and the JSON merge of POST.
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, gt, isNull, type SQL } from 'drizzle-orm';
import { xapiDocuments } from '../db/schema';
import type { Executor } from '../db/store';
import { sqlState } from '../db/faults';
import { conflict, invalid, preconditionFailed } from '../domain/errors';
import { agentHash } from '../domain/xapi-agents';
import type { XapiPrincipal } from './keys';

export type DocumentResource = 'state' | 'activity-profile' | 'agent-profile';

/** Whose documents: a platform's (its key and the clients restricted to it share them), or one unrestricted client's. */
export interface DocumentOwner {
  platformId: number | null;
  clientId: number | null;
}

export function documentOwner(principal: XapiPrincipal): DocumentOwner {
  return principal.platform ? { platformId: principal.platform.id, clientId: null } : { platformId: null, clientId: principal.keyId };
}

/** A set of documents: the resource and what names the set in it (activity, agent, registration of a state). */
export interface DocumentSet {
  resource: DocumentResource;
  activityId?: string;
  /** `agentIdentity` of the agent. */
  agent?: string;
  registration?: string;
}

export interface StoredDocument {
  documentId: string;
  contentType: string;
  content: Buffer;
  /** SHA-1 hex of the content, unquoted. */
  etag: string;
  updated: Date;
}

/** The preconditions a write carries, as sent (`If-Match`, `If-None-Match`). */
export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  /** Whether a PUT to an existing document without either header is a conflict (profiles; state in xAPI 2.0). */
  required: boolean;
  /** Whether a PUT creating a document needs one of the headers too (profiles: the client MUST send one; 400). */
  createRequires: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
export const etagOf = (content: Buffer) => createHash('sha1').update(content).digest('hex');

function scopeHash(set: DocumentSet): string {
  return sha256(JSON.stringify([set.resource, set.activityId ?? null, set.agent ?? null]));
}

function ownerIs(owner: DocumentOwner): SQL[] {
  return [
    owner.platformId === null ? isNull(xapiDocuments.platformId) : eq(xapiDocuments.platformId, owner.platformId),
    owner.clientId === null ? isNull(xapiDocuments.clientId) : eq(xapiDocuments.clientId, owner.clientId),
  ];
}

/** The set's documents; with `registration` undefined and `anyRegistration`, those of every registration. */
function inSet(owner: DocumentOwner, set: DocumentSet, anyRegistration = false): SQL[] {
  const where = [...ownerIs(owner), eq(xapiDocuments.scopeHash, scopeHash(set))];
  if (set.registration !== undefined) where.push(eq(xapiDocuments.registration, set.registration.toLowerCase()));
  else if (!anyRegistration) where.push(isNull(xapiDocuments.registration));
  return where;
}

const oneDocument = (owner: DocumentOwner, set: DocumentSet, documentId: string) => [
  ...inSet(owner, set),
  eq(xapiDocuments.documentHash, sha256(documentId)),
];

const documentColumns = {
  id: xapiDocuments.id,
  documentId: xapiDocuments.documentId,
  contentType: xapiDocuments.contentType,
  content: xapiDocuments.content,
  etag: xapiDocuments.etag,
  updated: xapiDocuments.updated,
};

export async function getDocument(ex: Executor, owner: DocumentOwner, set: DocumentSet, documentId: string): Promise<StoredDocument | undefined> {
  const [row] = await ex.select(documentColumns).from(xapiDocuments).where(and(...oneDocument(owner, set, documentId)));
  return row;
}

/**
 * The ids of the set's documents (of every registration when a state's is not given), stored or updated after
 * `since` (exclusive), and when the latest of them was updated.
 */
export async function listDocumentIds(
  ex: Executor,
  owner: DocumentOwner,
  set: DocumentSet,
  since?: Date,
): Promise<{ ids: string[]; updated: Date | undefined }> {
  const where = inSet(owner, set, true);
  if (since) where.push(gt(xapiDocuments.updated, since));
  const rows = await ex
    .select({ documentId: xapiDocuments.documentId, updated: xapiDocuments.updated })
    .from(xapiDocuments)
    .where(and(...where))
    .orderBy(asc(xapiDocuments.id));
  const ids = [...new Set(rows.map((r) => r.documentId))];
  const updated = rows.reduce<Date | undefined>((latest, r) => (latest === undefined || r.updated > latest ? r.updated : latest), undefined);
  return { ids, updated };
}

/** The ETags an `If-Match` / `If-None-Match` lists (`*` as itself), unquoted, weak ones compared by their value. */
function listedTags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1').toLowerCase())
    .filter((t) => t.length > 0);
}

/**
 * Throws 412 when the preconditions fail against `existing` (undefined: no such document), 409 or 400 for a PUT
 * without either header as `Preconditions` says.
 */
export function checkPreconditions(existing: StoredDocument | undefined, pre: Preconditions, method: 'PUT' | 'POST' | 'DELETE'): void {
  if (pre.ifMatch !== undefined) {
    const tags = listedTags(pre.ifMatch);
    if (!existing || !(tags.includes('*') || tags.includes(existing.etag))) {
      throw preconditionFailed(
        existing ? 'If-Match: the document has changed since that ETag (GET it again).' : 'If-Match: there is no such document.',
        [{ path: 'headers.if-match', message: existing ? 'does not match the current ETag' : 'no document' }],
      );
    }
  }
  if (pre.ifNoneMatch !== undefined && existing) {
    const tags = listedTags(pre.ifNoneMatch);
    if (tags.includes('*') || tags.includes(existing.etag)) {
      throw preconditionFailed('If-None-Match: the document already exists.', [{ path: 'headers.if-none-match', message: 'a document exists' }]);
    }
  }
  if (method === 'PUT' && pre.createRequires && !existing && pre.ifMatch === undefined && pre.ifNoneMatch === undefined) {
    throw invalid('A PUT to a profile needs If-None-Match: * to create the document (or If-Match with its ETag to replace it).', [
      { path: 'headers.if-none-match', message: 'required: * to create' },
    ]);
  }
  if (method === 'PUT' && pre.required && existing && pre.ifMatch === undefined && pre.ifNoneMatch === undefined) {
    throw conflict(
      'The document already exists: check its current state (GET), then PUT again with If-Match set to its ETag (or If-None-Match: * to create only).',
      [{ path: 'headers.if-match', message: 'required to replace an existing document' }],
    );
  }
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;
export const isJsonType = (contentType: string) => JSON_TYPE.test(contentType.trim());

function jsonObject(content: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(`${what} is not a JSON object: POST merges JSON objects only (PUT replaces any document).`, [{ path: 'body', message: 'expected a JSON object' }]);
  }
  return parsed as Record<string, unknown>;
}

export interface DocumentWrite {
  method: 'PUT' | 'POST';
  contentType: string;
  content: Buffer;
}

/**
 * Stores a document (PUT), or merges a JSON object into the stored one (POST: top-level properties of the posted
 * object replace the stored ones; a POST to no document stores it). A POST where either document is not a JSON
 * object sent as application/json is refused (400) and changes nothing. Returns the new ETag.
 */
export async function writeDocument(
  ex: Executor,
  owner: DocumentOwner,
  set: DocumentSet,
  documentId: string,
  write: DocumentWrite,
  pre: Preconditions,
  now: Date,
): Promise<string> {
  // two requests creating one document at once: the loser's insert breaks the unique key; once more, it finds the
  // winner's row (locked, so preconditions and merges apply to it)
  for (let attempt = 1; ; attempt++) {
    try {
      return await storeDocument(ex, owner, set, documentId, write, pre, now);
    } catch (error) {
      if (sqlState(error) !== '23505') throw error;
      if (attempt === 2) throw conflict('Another request created this document at the same moment: GET it, then write again with If-Match.');
    }
  }
}

function storeDocument(
  ex: Executor,
  owner: DocumentOwner,
  set: DocumentSet,
  documentId: string,
  write: DocumentWrite,
  pre: Preconditions,
  now: Date,
): Promise<string> {
  return ex.transaction(async (tx) => {
    const [existing] = await tx
      .select(documentColumns)
      .from(xapiDocuments)
      .where(and(...oneDocument(owner, set, documentId)))
      .for('update');
    checkPreconditions(existing, pre, write.method);
    let contentType = write.contentType;
    let content = write.content;
    if (write.method === 'POST') {
      if (!isJsonType(write.contentType)) {
        throw invalid('POST merges JSON objects: send the document as application/json (PUT replaces any document).', [
          { path: 'headers.content-type', message: 'expected application/json' },
        ]);
      }
      const posted = jsonObject(write.content, 'The posted document');
      if (existing) {
        if (!isJsonType(existing.contentType)) {
          throw invalid('The stored document is not application/json: it cannot be merged (PUT replaces it).', [{ path: 'body', message: 'stored document is not JSON' }]);
        }
        const stored = jsonObject(existing.content, 'The stored document');
        content = Buffer.from(JSON.stringify({ ...stored, ...posted }), 'utf8');
        contentType = 'application/json';
      }
    }
    const etag = etagOf(content);
    // an update is later than the stored time, even when the clock says otherwise
    const updated = existing && existing.updated >= now ? new Date(existing.updated.getTime() + 1) : now;
    if (existing) {
      await tx.update(xapiDocuments).set({ contentType, content, etag, updated }).where(eq(xapiDocuments.id, existing.id));
    } else {
      await tx.insert(xapiDocuments).values({
        ...owner,
        resource: set.resource,
        scopeHash: scopeHash(set),
        registration: set.registration?.toLowerCase() ?? null,
        agentHash: set.agent === undefined ? null : agentHash(set.agent),
        documentHash: sha256(documentId),
        documentId,
        contentType,
        content,
        etag,
        updated,
      });
    }
    return etag;
  });
}

/** Deletes one document (nothing to delete is not an error, unless `If-Match` names it). */
export async function deleteDocument(ex: Executor, owner: DocumentOwner, set: DocumentSet, documentId: string, pre: Preconditions): Promise<void> {
  await ex.transaction(async (tx) => {
    const [existing] = await tx
      .select(documentColumns)
      .from(xapiDocuments)
      .where(and(...oneDocument(owner, set, documentId)))
      .for('update');
    checkPreconditions(existing, pre, 'DELETE');
    if (existing) await tx.delete(xapiDocuments).where(eq(xapiDocuments.id, existing.id));
  });
}

/** Deletes every document of the set (a state's of every registration when none is given); returns how many. */
export async function deleteDocuments(ex: Executor, owner: DocumentOwner, set: DocumentSet): Promise<number> {
  const rows = await ex
    .delete(xapiDocuments)
    .where(and(...inSet(owner, set, true)))
    .returning({ id: xapiDocuments.id });
  return rows.length;
}

