/**
 * Which errors mean "the database is not there right now" (a lost or refused connection, a server shutting down or
 * starting, a closed or failed PGlite) rather than a fault of the request or of Socle. The entry points present them
 * as `unavailable` (HTTP 503 with Retry-After) and the worker loop as a warning: the caller may try again in a few
 * seconds. PostgreSQL rolls back the transaction a lost connection held; only a connection lost during COMMIT leaves
 * it unknown whether it was kept, which the retry settles (a batch is recognised by its statement ids).
 */
import { SocleError } from '../domain/errors';

/** SQLSTATEs of a server that went away or does not take connections now (class 08: connection exception). */
const LOST_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of node (a reset, refused, unreachable or timed-out connection). */
const LOST_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Messages of node-postgres, pg-pool and PGlite for a connection that is gone or could not be had in time. */
const LOST_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^PGlite is clos(ed|ing)/,
  // 55000 at connection time: the database is closed to connections for now (ALLOW_CONNECTIONS false, maintenance)
  /^database ".*" is not currently accepting connections$/,
];

/** A short name of what was lost (a SQLSTATE, an errno or the kind of message), or undefined. */
function lostReason(error: unknown, depth = 0): string | undefined {
  // read by shape, not `instanceof`: node's socket errors may come from another realm (a vm context, jest)
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const { code, message, name, cause, errors } = error as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (LOST_SQLSTATES.has(code) || code.startsWith('08') || LOST_ERRNOS.has(code))) return code;
  if (typeof message === 'string' && LOST_MESSAGES.some((m) => m.test(message))) return 'connection lost';
  // a WebAssembly trap (WebAssembly.RuntimeError: an abort, memory out of bounds) leaves PGlite unusable
  if (name === 'RuntimeError') return 'embedded database failed';
  const inner: unknown[] = [cause, ...(Array.isArray(errors) ? errors : [])];
  for (const e of inner) {
    const reason = lostReason(e, depth + 1);
    if (reason) return reason;
  }
  return undefined;
}

/**
 * The `unavailable` error `error` stands for when it is a lost database (its cause chain is followed: drizzle wraps
 * the driver's error), else undefined. The message names the kind of fault only, never the failed query.
 */
export function databaseFault(error: unknown): SocleError | undefined {
  if (SocleError.is(error, 'unavailable')) return error;
  const reason = lostReason(error);
  return reason === undefined ? undefined : new SocleError('unavailable', `The database is unavailable (${reason}). Try again in a few seconds.`);
}

/** The SQLSTATE of a database error, on either driver (drizzle wraps the driver's error in `cause`). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
