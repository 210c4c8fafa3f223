import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { invalid } from '../domain/errors';

/** The request headers xAPI's alternate request syntax carries as form fields (matched case-insensitively). */
const FORM_HEADERS = ['authorization', 'x-experience-api-version', 'content-type', 'content-length', 'if-match', 'if-none-match'];

const method = z.enum(['GET', 'PUT', 'POST', 'DELETE']);
const form = urlencodedForm();

function urlencodedForm(): RequestHandler {
  return express.urlencoded({ extended: false, limit: '10mb', type: 'application/x-www-form-urlencoded' });
}

/**
 * xAPI 1.0.3's alternate request syntax (Communication 1.3): a POST with `?method=GET|PUT|POST|DELETE` and nothing
 * else in its query, whose form-encoded body carries the headers, the parameters and the `content`. It is turned
 * into the request it stands for: the method, the headers and the query from the form, and the content as the raw
 * body (the resources parse it as they parse a body: a Buffer is what a parser left unread). xAPI 2.0.0 dropped
 * it: a request whose form says 2.0.0 is refused.
 */
export const alternateRequestSyntax: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
  if (req.method !== 'POST' || !('method' in req.query)) {
    next();
    return;
  }
  const wanted = method.safeParse(typeof req.query.method === 'string' ? req.query.method.toUpperCase() : undefined);
  if (!wanted.success) {
    next(invalid('The alternate request syntax takes method=GET, PUT, POST or DELETE.', [{ path: 'query.method', message: 'expected GET, PUT, POST or DELETE' }]));
    return;
  }
  if (Object.keys(req.query).length > 1) {
    next(invalid('With the alternate request syntax, the query holds only `method`: the parameters go in the form.', [{ path: 'query', message: 'only method' }]));
    return;
  }
  if (!req.is('application/x-www-form-urlencoded')) {
    next(invalid('The alternate request syntax needs a form-encoded body (Content-Type: application/x-www-form-urlencoded).', [{ path: 'headers.content-type', message: 'expected application/x-www-form-urlencoded' }]));
    return;
  }
  form(req, res, (error?: unknown) => {
    if (error) {
      next(error);
      return;
    }
    const fields = (req.body ?? {}) as Record<string, unknown>;
    const query: Record<string, string> = {};
    let content: string | undefined;
    // the request's own Content-Type and Content-Length are the form's, not the content's
    delete req.headers['content-type'];
    delete req.headers['content-length'];
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value !== 'string') continue;
      const lower = name.toLowerCase();
      if (FORM_HEADERS.includes(lower)) req.headers[lower] = value;
      else if (name === 'content') content = value;
      else query[name] = value;
    }
    if (req.header('x-experience-api-version')?.trim() === '2.0.0') {
      next(invalid('xAPI 2.0.0 has no alternate request syntax: send the request itself.', [{ path: 'query.method', message: 'not in xAPI 2.0.0' }]));
      return;
    }
    const bytes = Buffer.from(content ?? '', 'utf8');
    if (content === undefined) {
      delete req.headers['content-type'];
      delete req.headers['content-length'];
    } else {
      req.headers['content-length'] = String(bytes.length);
      // statements are JSON: a form without Content-Type still sends one
      if (!req.headers['content-type']) req.headers['content-type'] = req.path.startsWith('/statements') ? 'application/json' : 'application/octet-stream';
    }
    req.method = wanted.data;
    req.query = query;
    req.body = content === undefined ? undefined : bytes;
    next();
  });
};
