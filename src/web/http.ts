import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';

/** One problem with a request: where (a JSON path, a header, a line) and what was expected. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/**
 * Every 4xx/5xx body has this shape:
 * `{ "error": { "status": 400, "code": "invalid_request", "message": "...", "details": [...], "requestId": "..." } }`.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details: ErrorDetail[] = []) =>
  new HttpError(400, 'invalid_request', message, details);
export const unauthorized = (message: string, headers: Record<string, string> = {}) =>
  new HttpError(401, 'unauthorized', message, [], headers);
export const forbidden = (message = 'You are not allowed to do this.') => new HttpError(403, 'forbidden', message);
export const notFound = (message = 'Not found.') => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

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

/** Parses `value` with `schema` or throws a 400 naming every wrong field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(`Invalid ${where}.`, zodDetails(result.error, where));
  return result.data;
}

/** Express 4 does not catch rejected promises: route handlers go through this. */
export function asyncHandler(handler: (req: Request, res: Response, next: NextFunction) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    handler(req, res, next).catch(next);
  };
}

export function errorBody(error: HttpError, requestId: string | undefined) {
  return {
    error: {
      status: error.status,
      code: error.code,
      message: error.message,
      ...(error.details.length ? { details: error.details } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No route for ${req.method} ${req.path}.`));
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const requestId = typeof req.id === 'string' ? req.id : undefined;
  let error: HttpError;
  if (err instanceof HttpError) {
    error = err;
  } else if (err?.type === 'entity.parse.failed') {
    error = badRequest(`The body is not valid JSON: ${err.message}`, [{ path: 'body', message: 'invalid JSON' }]);
  } else if (err?.type === 'entity.too.large') {
    error = new HttpError(413, 'payload_too_large', `The body is larger than the ${err.limit}-byte limit.`);
  } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
    error = new HttpError(err.status, 'invalid_request', err.message ?? 'Invalid request.');
  } else {
    req.log?.error({ err }, 'unhandled error');
    error = new HttpError(500, 'internal_error', 'Internal error. The request id identifies it in the logs.');
  }
  if (res.headersSent) return;
  res.status(error.status).set(error.headers).json(errorBody(error, requestId));
};
