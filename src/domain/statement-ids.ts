import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level: the same statement always gives the same text. Built by string
 * concatenation (no intermediate arrays): it runs on every inbound statement.
 */
export function canonicalJson(value: unknown): string {
  return canonicalValue(value, undefined);
}

/** A string JSON writes as it is between quotes: nothing to escape (quote, backslash, control characters, surrogates). */
// eslint-disable-next-line no-control-regex
const VERBATIM = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** `JSON.stringify` of a string, without its escaping pass for the strings that need none (almost every key and value). */
function quoted(text: string): string {
  return VERBATIM.test(text) ? `"${text}"` : JSON.stringify(text);
}

function canonicalValue(value: unknown, skip: ReadonlySet<string> | undefined): string {
  if (typeof value === 'string') return quoted(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalValue(value[i], undefined);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  // sorted already (a statement Socle wrote, or sent again as it was read back): no sort
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = object[k];
    if (v === undefined || skip?.has(k)) continue;
    out += (first ? '' : ',') + quoted(k) + ':' + canonicalValue(v, undefined);
    first = false;
  }
  return `${out}}`;
}

/** Namespace of the UUIDs Socle derives from statement content (a fixed, random UUID). */
export const STATEMENT_NAMESPACE = '4b8f2d36-0c3e-4a57-9f21-6d8e5a1c7b90';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** RFC 4122 version-5 UUID (SHA-1 of namespace + name). */
export function uuidV5(name: string, namespace = STATEMENT_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Properties an LRS sets or may change: they do not take part in "same statement" comparisons. */
const LRS_PROPERTIES = new Set(['id', 'stored', 'authority', 'version']);

export function statementContent(statement: Record<string, unknown>): string {
  return canonicalValue(statement, LRS_PROPERTIES);
}

/** The largest instant a time-ordered id can carry: 48 bits of milliseconds (the year 10889). */
const MAX_TIME_MS = 2 ** 48 - 1;

/**
 * RFC 9562 version-8 UUID ordered by `timeMs`: its first 48 bits are that instant in Unix milliseconds (the layout of
 * UUIDv7), the other 74 from `digest` (the SHA-256 of the statement's content, not random: the same statement
 * always gets the same id). Ids of statements sent in time order sort in that order, so a store's unique indexes on
 * them grow at their right edge instead of taking every new id on a random page.
 */
export function timeOrderedUuid(digest: Uint8Array, timeMs: number): string {
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes.writeUIntBE(timeMs, 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The id Socle gives a statement sent without one, from its canonical `content`: ordered by the statement's own
 * `timestamp` (`timeOrderedUuid`) when it has one at or after `timeOrderedSince` (Unix ms: when the store began
 * deriving such ids, so that a statement stored before under its version-5 id keeps it when it is sent again);
 * else the version-5 UUID of the content, as before. Without a timestamp the id cannot be ordered: the stored
 * instant the LRS would give it differs at each sending.
 */
export function derivedStatementId(content: string, timestamp: unknown, timeOrderedSince: number, digest = createHash('sha256').update(content).digest()): string {
  const timeMs = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  return timeMs >= 0 && timeMs <= MAX_TIME_MS && timeMs >= timeOrderedSince ? timeOrderedUuid(digest, timeMs) : uuidV5(content);
}

/**
 * Id (when none is given) and content hash from one canonical serialisation, and that serialisation (`content`: the
 * statement's JSON without id, stored, authority and version), which the inbound endpoint completes into the stored
 * JSON instead of serialising the statement again: the hot path of the inbound endpoint. `timeOrderedSince`: see
 * `derivedStatementId` (0: every statement with a timestamp since 1970 gets a time-ordered id).
 */
export function statementIdentity(statement: Record<string, unknown>, timeOrderedSince = 0): { derivedId: string; hash: string; content: string } {
  const content = statementContent(statement);
  const digest = createHash('sha256').update(content).digest();
  return { derivedId: derivedStatementId(content, statement.timestamp, timeOrderedSince, digest), hash: digest.toString('base64url'), content };
}

/** Hash of a statement's content (without id, stored, authority, version). */
export function contentHash(statement: Record<string, unknown>): string {
  return createHash('sha256').update(statementContent(statement)).digest('base64url');
}

/** The version-5 id of a statement's content: the id of the statements Socle makes itself (the same content, the same id). */
export function deterministicStatementId(statement: Record<string, unknown>): string {
  return uuidV5(statementContent(statement));
}
