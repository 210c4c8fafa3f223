import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { databaseFault } from '../db/faults';
import { type ErrorCode, invalid, notFound, SocleError, zodDetails } from '../domain/errors';
import { storableIssues } from '../domain/storable';
import { requestLocale, translator } from './i18n';
import { render, renderFragment } from './render';
import { pageError } from './texts/errors';

/** The HTTP status of each error code (the JSON body repeats it as `error.status`). */
export const httpStatus: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  no_referential: 409,
  not_ready: 409,
  payload_too_large: 413,
  rate_limited: 429,
  platform_error: 502,
  registration_failed: 502,
  invalid_launch: 401,
  session_expired: 401,
  unregistered_platform: 400,
  platform_inactive: 401,
  invalid_config: 500,
  unavailable: 503,
  internal_error: 500,
};

/** Seconds a client should wait before trying again after `unavailable` (the database is back within seconds, or not). */
export const RETRY_AFTER_SECONDS = 5;

/** Headers of an error answer: the authentication challenge of a 401, when to try again after a 429 or a 503. */
export function errorHeaders(error: SocleError): Record<string, string> {
  const retryAfter = error.retryAfterSeconds ?? (error.code === 'unavailable' ? RETRY_AFTER_SECONDS : undefined);
  return {
    ...(error.challenge ? { 'WWW-Authenticate': error.challenge } : {}),
    ...(retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {}),
  };
}

/**
 * Parses `value` with `schema` or throws a 400 naming every wrong field, including what the store could not
 * hold (a NUL or a lone surrogate in a string, nesting beyond `STORABLE.maxDepth`).
 */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(`Invalid ${where}.`, zodDetails(result.error, where));
  const unstorable = storableIssues(result.data, where);
  if (unstorable.length) throw invalid(`Invalid ${where}.`, unstorable);
  return result.data;
}

/** Express 4 does not catch rejected promises: route handlers go through this. */
export function asyncHandler(handler: (req: Request, res: Response, next: NextFunction) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    handler(req, res, next).catch(next);
  };
}

/**
 * Every 4xx/5xx body has this shape:
 * `{ "error": { "status": 400, "code": "invalid_request", "message": "...", "details": [...], "requestId": "..." } }`.
 */
export function errorBody(error: SocleError, requestId: string | undefined, status = httpStatus[error.code]) {
  return {
    error: {
      status,
      code: error.code,
      message: error.message,
      ...(error.details.length ? { details: error.details } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}

/** Paths of the JSON APIs: their errors are JSON whatever the client accepts. */
const API_PATH = /^\/(api|xapi|lti\/api)(\/|$)/;

/** Whether the error is answered as an HTML page: a browser (text/html preferred over JSON) or htmx, outside the APIs. */
function wantsPage(req: Request): boolean {
  if (API_PATH.test(req.originalUrl.split('?')[0] ?? '')) return false;
  return Boolean(req.get('HX-Request')) || req.accepts(['json', 'html']) === 'html';
}

export interface SendErrorOptions {
  /** The HTTP status, when not the code's own (express' 415…). */
  status?: number;
  /** Values for the page's texts (`{{issuer}}`, `{{clientId}}`). */
  values?: Record<string, string>;
}

/**
 * Answers `error`, the one way every error is answered: a French or English HTML page (inside Moodle's iframe, with
 * what to do next and the request id) to browsers, else the JSON body `{error:{status,code,message,details,requestId}}`.
 */
export function sendError(req: Request, res: Response, error: SocleError, options: SendErrorOptions = {}): void {
  const status = options.status ?? httpStatus[error.code];
  const requestId = typeof req.id === 'string' ? req.id : undefined;
  res.status(status).set(errorHeaders(error)).vary('Accept');
  if (!wantsPage(req)) {
    res.json(errorBody(error, requestId, status));
    return;
  }
  const locale = requestLocale(req);
  const text = pageError(error, locale, options.values);
  const data = {
    ...text,
    status,
    code: error.code,
    requestId,
    statusLabel: translator(locale)('error.status', { status }),
    // the error's own message (English, for the administrator), except an internal fault's
    detail: error.code === 'internal_error' ? undefined : error.message,
    details: error.details,
    home: error.code === 'not_found',
  };
  if (req.get('HX-Request')) renderFragment(res, 'error', data, locale, status);
  else render(res, 'error', data, locale, status);
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No route for ${req.method} ${req.path}.`));
};

const INTERNAL_MESSAGE = 'Internal error. The request id identifies it in the logs.';

export const errorHandler: ErrorRequestHandler = (thrown, req, res, _next) => {
  // a lost database connection is `unavailable`: the client tries again in a few seconds
  const err = databaseFault(thrown) ?? thrown;
  let error: SocleError;
  let status: number | undefined;
  if (err instanceof SocleError && err.code === 'internal_error') {
    // An internal fault is logged with what it says and answered without it (it may name records).
    req.log?.error({ err }, 'internal error');
    error = new SocleError('internal_error', INTERNAL_MESSAGE);
  } else if (err instanceof SocleError) {
    if (err.code === 'unavailable') req.log?.warn({ code: err.code, message: err.message }, 'request failed: unavailable');
    else if (httpStatus[err.code] >= 500) req.log?.error({ code: err.code, message: err.message }, 'request failed');
    error = err;
  } else if (err?.type === 'entity.parse.failed') {
    error = invalid(`The body is not valid JSON: ${err.message}`, [{ path: 'body', message: 'invalid JSON' }]);
  } else if (err?.type === 'entity.too.large') {
    error = new SocleError('payload_too_large', `The body is larger than the ${err.limit}-byte limit.`);
  } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
    // Express' own 4xx (a body parser's 415, …) keep their status.
    error = invalid(err.message ?? 'Invalid request.');
    status = err.status;
  } else {
    req.log?.error({ err }, 'unhandled error');
    error = new SocleError('internal_error', INTERNAL_MESSAGE);
  }
  if (res.headersSent) return;
  sendError(req, res, error, status === undefined ? {} : { status });
};
