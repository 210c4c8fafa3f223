import { z } from 'zod';

/**
 * The one error model. Whatever Socle refuses or fails to do for a caller is a `SocleError` with one of these codes;
 * it carries no HTTP status. Each entry point turns the code into its own terms, from one table each:
 * src/web/http.ts (status and headers of the JSON body `{error:{status,code,message,details,requestId}}`),
 * src/web/texts/errors.ts (what an HTML page says, in French and English) and src/cli/command.ts (exit code).
 * The codes are the `code` of the JSON error body: they are a public contract.
 */
export const errorCode = z.enum([
  /** The request (or command line, or file) is not valid: `details` name each wrong field. */
  'invalid_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  /** A conditional request (`If-Match`, `If-None-Match`) whose condition does not hold: nothing was changed. */
  'precondition_failed',
  /** The course has no référentiel chosen yet. */
  'no_referential',
  /** The export is not finished (or expired). */
  'not_ready',
  'payload_too_large',
  /** Too many requests from one client (xAPI key, API token, address) in the window: retry after `retryAfterSeconds`. */
  'rate_limited',
  /** The LMS (Names and Roles, AGS, Moodle web services) failed or refused. */
  'platform_error',
  'registration_failed',
  'invalid_launch',
  'session_expired',
  'unregistered_platform',
  'platform_inactive',
  /** The configuration (environment, DATA_DIR) is invalid. */
  'invalid_config',
  /** The database cannot be opened, or is unreachable for now (a lost connection): try again in a few seconds. */
  'unavailable',
  'internal_error',
]);
export type ErrorCode = z.infer<typeof errorCode>;
export const ERROR_CODES: readonly ErrorCode[] = errorCode.options;

/** One problem with a request: where (a JSON path, a header, a line, an option) and what was expected. */
export const errorDetail = z.object({ path: z.string(), message: z.string() });
export type ErrorDetail = z.infer<typeof errorDetail>;

/** What some codes carry for the caller beyond the message: how to authenticate, when to try again. */
export interface SocleErrorOptions {
  challenge?: string;
  retryAfterSeconds?: number;
}

export class SocleError extends Error {
  override name = 'SocleError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    options: SocleErrorOptions = {},
  ) {
    super(message);
    this.challenge = options.challenge;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** For `unauthorized`: how to authenticate (`Bearer realm="socle"`), sent as WWW-Authenticate. */
  readonly challenge: string | undefined;
  /** For `rate_limited`: seconds after which the request may be sent again, sent as Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  /** Whether `error` is a SocleError with one of `codes`. */
  static is(error: unknown, ...codes: ErrorCode[]): error is SocleError {
    return error instanceof SocleError && codes.includes(error.code);
  }
}

export const invalid = (message: string, details: ErrorDetail[] = []) => new SocleError('invalid_request', message, details);
export const unauthorized = (message: string, challenge?: string) => new SocleError('unauthorized', message, [], challenge === undefined ? {} : { challenge });
export const forbidden = (message = 'You are not allowed to do this.', details: ErrorDetail[] = []) => new SocleError('forbidden', message, details);
export const notFound = (message = 'Not found.', details: ErrorDetail[] = []) => new SocleError('not_found', message, details);
export const conflict = (message: string, details: ErrorDetail[] = []) => new SocleError('conflict', message, details);
export const preconditionFailed = (message: string, details: ErrorDetail[] = []) => new SocleError('precondition_failed', message, details);
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new SocleError('rate_limited', message, [], { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
export const platformError = (message: string, details: ErrorDetail[] = []) => new SocleError('platform_error', message, details);

/** Turns zod issues into details with a readable path (`body.items[2].hours`). */
export function zodDetails(error: z.ZodError, prefix = ''): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: formatPath(prefix, issue.path),
    message: issue.message,
  }));
}

export function formatPath(prefix: string, segments: readonly PropertyKey[]): string {
  let out = prefix;
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out || '(root)';
}
