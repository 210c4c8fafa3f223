import { createHash } from 'node:crypto';
import { and, inArray, isNull, or, type SQL, sql } from 'drizzle-orm';
import { xapiAttachments } from '../db/schema';
import type { Database, Executor } from '../db/store';
import { type ErrorDetail, invalid } from '../domain/errors';
import { multipartBoundary, type Part, parseMultipart } from './multipart';
import { SIGNATURE_USAGE, signatureErrors } from './signatures';
import { XAPI_LIMITS } from './validate';

type Json = Record<string, unknown>;

/** A statement attachment's content as received (one `multipart/mixed` part). */
export interface AttachmentContent {
  /** The `X-Experience-API-Hash` of its part, lower case: the `sha2` of the attachments it is the content of. */
  sha2: string;
  contentType: string;
  content: Buffer;
}

/** Who a stored attachment belongs to: a platform, or (platform null) the unrestricted LRS client `clientId`. */
export interface AttachmentOwner {
  platformId: number | null;
  clientId: number | null;
}

/** The SHA-2 algorithm of a hex digest, by its length (SHA-256, SHA-384, SHA-512). */
const ALGORITHM: Record<number, string> = { 64: 'sha256', 96: 'sha384', 128: 'sha512' };

/** The statements part and the attachment parts of a `multipart/mixed` request; a 400 when its form is not xAPI's. */
export function multipartStatements(body: Buffer, contentType: string): { statements: unknown; parts: AttachmentContent[] } {
  const [first, ...rest] = parseMultipart(body, multipartBoundary(contentType));
  if (!first) throw invalid('The multipart/mixed body has no part.', [{ path: 'body', message: 'expected the statements as its first part' }]);
  if (!/^application\/json\s*(;|$)/i.test(first.headers['content-type'] ?? '')) {
    throw invalid('The first part of a multipart/mixed request is the statements, with Content-Type: application/json.', [{ path: 'parts[0].content-type', message: 'expected application/json' }]);
  }
  let statements: unknown;
  try {
    statements = JSON.parse(first.body.toString('utf8'));
  } catch {
    throw invalid('The statements part is not JSON.', [{ path: 'parts[0]', message: 'invalid JSON' }]);
  }
  return { statements, parts: rest.map((part, i) => attachmentPart(part, i + 1)) };
}

function attachmentPart(part: Part, index: number): AttachmentContent {
  const fault = (header: string, message: string): never => {
    throw invalid(`Part ${index} of the multipart/mixed request: ${message}.`, [{ path: `parts[${index}].${header}`, message }]);
  };
  const contentType = part.headers['content-type'];
  if (!contentType) fault('content-type', 'an attachment part needs a Content-Type');
  if (part.headers['content-transfer-encoding']?.toLowerCase() !== 'binary') fault('content-transfer-encoding', 'an attachment part needs Content-Transfer-Encoding: binary');
  const sha2 = part.headers['x-experience-api-hash']?.toLowerCase() ?? '';
  const algorithm = ALGORITHM[sha2.length];
  if (!algorithm || !/^[0-9a-f]+$/.test(sha2)) fault('x-experience-api-hash', 'an attachment part needs X-Experience-API-Hash, the SHA-256, SHA-384 or SHA-512 of its content in hex');
  if (createHash(algorithm as string).update(part.body).digest('hex') !== sha2) fault('x-experience-api-hash', 'the content does not have the hash of its X-Experience-API-Hash header');
  return { sha2, contentType: contentType as string, content: part.body };
}

/** A statement's attachments, and its SubStatement's. */
function attachmentsOf(statement: Json): readonly Json[] {
  const own = Array.isArray(statement.attachments) ? (statement.attachments as unknown[]) : undefined;
  const object = statement.object as Json | undefined;
  const sub = object?.objectType === 'SubStatement' && Array.isArray(object.attachments) ? (object.attachments as unknown[]) : undefined;
  // a statement without attachments (every one of Moodle's) allocates nothing
  if (!own && !sub) return NONE;
  return [...(own ?? []), ...(sub ?? [])].filter((a): a is Json => a !== null && typeof a === 'object');
}
const NONE: readonly Json[] = [];

/**
 * The rules between a request's statements (already valid xAPI) and its attachment parts (none for a JSON request):
 * an attachment without `fileUrl` has its part (same hash), every part is the content of an attachment, and a
 * signature attachment is `application/octet-stream`, has its part and is a valid signature of its statement.
 * Throws a 400 naming the first faults. A JSON request whose statements have no attachment costs one property read
 * per statement. The declared `length` is not compared with the content's: the hash already binds the content, and
 * the ADL suite itself sends a content (hex text) twice its declared length and expects it accepted.
 */
export async function checkAttachments(statements: readonly Json[], parts: readonly AttachmentContent[], prefix: (index: number) => string): Promise<void> {
  const byHash = new Map(parts.map((p) => [p.sha2, p]));
  const used = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const [index, statement] of statements.entries()) {
    const attachments = attachmentsOf(statement);
    for (const [n, attachment] of attachments.entries()) {
      const path = `${prefix(index)}.attachments[${n}]`;
      const sha2 = String(attachment.sha2).toLowerCase();
      const part = byHash.get(sha2);
      if (part) used.add(sha2);
      const signature = attachment.usageType === SIGNATURE_USAGE;
      if (signature && attachment.contentType !== 'application/octet-stream') {
        details.push({ path: `${path}.contentType`, message: 'a signature attachment has contentType application/octet-stream' });
      } else if (!part && (signature || attachment.fileUrl === undefined)) {
        details.push({ path, message: `no part of the request has its content (X-Experience-API-Hash: ${sha2})${parts.length ? '' : ': send it as multipart/mixed'}` });
      } else if (signature && part && n < (Array.isArray(statement.attachments) ? statement.attachments.length : 0)) {
        details.push(...(await signatureErrors(statement, part.content, path)));
      }
    }
  }
  for (const [i, part] of parts.entries()) {
    if (!used.has(part.sha2)) details.push({ path: `parts[${i + 1}]`, message: `no attachment of the statements has its hash (${part.sha2})` });
  }
  if (details.length) {
    const first = details[0] as ErrorDetail;
    throw invalid(`Statement rejected, nothing was stored: ${first.path}: ${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`, details.slice(0, XAPI_LIMITS.maxDetails));
  }
}

/** Stores the attachment contents `parts` under each owner of the statements referencing them (kept once per owner and hash). */
export async function storeAttachments(ex: Executor, rows: readonly (AttachmentContent & AttachmentOwner)[]): Promise<void> {
  if (rows.length === 0) return;
  await ex
    .insert(xapiAttachments)
    .values(rows.map((r) => ({ platformId: r.platformId, clientId: r.platformId === null ? r.clientId : null, sha2: r.sha2, contentType: r.contentType, content: r.content })))
    .onConflictDoNothing();
}

/** The stored contents of the attachments (by `sha2`) of statements of `owner`, for the multipart answer of a GET. */
export async function attachmentContents(db: Database, wanted: readonly (AttachmentOwner & { sha2: string[] })[]): Promise<AttachmentContent[]> {
  const conditions: SQL[] = [];
  for (const w of wanted) {
    if (w.sha2.length === 0) continue;
    const owner = w.platformId !== null ? sql`${xapiAttachments.platformId} = ${w.platformId}` : and(isNull(xapiAttachments.platformId), sql`${xapiAttachments.clientId} = ${w.clientId}`);
    conditions.push(and(owner, inArray(xapiAttachments.sha2, w.sha2)) as SQL);
  }
  if (conditions.length === 0) return [];
  const rows = await db
    .select({ sha2: xapiAttachments.sha2, contentType: xapiAttachments.contentType, content: xapiAttachments.content })
    .from(xapiAttachments)
    .where(or(...conditions));
  return [...new Map(rows.map((r) => [r.sha2, r])).values()];
}

/** The lower-case `sha2` of a stored statement's attachments (and its SubStatement's). */
export function attachmentHashes(statement: unknown): string[] {
  if (statement === null || typeof statement !== 'object') return [];
  return attachmentsOf(statement as Json)
    .map((a) => (typeof a.sha2 === 'string' ? a.sha2.toLowerCase() : ''))
    .filter(Boolean);
}

/**
 * The rows to store for a batch: each content of `parts` under the owner of each statement referencing it (its
 * platform, or for a statement of no platform the client `clientId` that sent it), once per owner.
 */
export function attachmentRows(
  statements: readonly { statement: unknown; platform?: { id: number } | undefined }[],
  parts: readonly AttachmentContent[],
  clientId: number | null,
): (AttachmentContent & AttachmentOwner)[] {
  const byHash = new Map(parts.map((p) => [p.sha2, p]));
  const rows = new Map<string, AttachmentContent & AttachmentOwner>();
  for (const s of statements) {
    const platformId = s.platform?.id ?? null;
    for (const sha2 of attachmentHashes(s.statement)) {
      const part = byHash.get(sha2);
      if (part) rows.set(`${platformId ?? `c${clientId}`}:${sha2}`, { ...part, platformId, clientId: platformId === null ? clientId : null });
    }
  }
  return [...rows.values()];
}
