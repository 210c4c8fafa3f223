import pino from 'pino';

export type Logger = pino.Logger;

/** An error as logs show it: its type, code, message and stack, and the SQL of a failed query without its values. */
export interface LoggableError {
  type: string;
  code?: string;
  message: string;
  /** The SQL text of a failed query (its placeholders, never its parameters). */
  query?: string;
  /** The database's names for what refused a row (constraint, table, column): never a value. */
  constraint?: string;
  table?: string;
  column?: string;
  stack?: string;
  cause?: LoggableError;
}

const MAX_TEXT = 500;

/** A message without what a database error may quote of the data: drizzle's `params:` line, a data error's value. */
function safeMessage(message: string, code: string | undefined): string {
  let text = message.replace(/\nparams: [\s\S]*$/, '');
  // Data exceptions (SQLSTATE class 22) end with the offending value: `invalid input syntax for type integer: "…"`.
  if (code?.startsWith('22')) text = text.replace(/: ".*"$/s, ': "[redacted]"');
  return text.slice(0, MAX_TEXT);
}

/**
 * An error (or what pino's standard serializer made of one) reduced to what may be logged. Database errors carry
 * the data they failed on: drizzle's `DrizzleQueryError` its parameters (`Failed query: … params: …`), PGlite's
 * errors `params`, PostgreSQL's `detail` (`Key (sub)=(…)`, `Failing row contains (…)`) and `where`: only the
 * SQL text, the SQLSTATE code, the message and the names of the constraint, table and column are kept.
 */
export function loggableError(given: unknown, depth = 0): LoggableError {
  // pino's standard serializer keeps the error itself as `raw` (pino-http applies it before Socle's).
  const raw = given && typeof given === 'object' ? (given as { raw?: unknown }).raw : undefined;
  const error = raw instanceof Error ? raw : given;
  if (!error || typeof error !== 'object') return { type: typeof error, message: 'a non-error value was thrown' };
  const e = error as Record<string, unknown>;
  const type = error instanceof Error ? error.name : typeof e.type === 'string' ? e.type : 'Error';
  const text = (v: unknown) => (typeof v === 'string' && v ? v.slice(0, MAX_TEXT) : undefined);
  const query = text(e.query);
  const cause = depth < 3 && e.cause && typeof e.cause === 'object' ? loggableError(e.cause, depth + 1) : undefined;
  // drizzle's wrapper: what the database said is its cause.
  if (query !== undefined && 'params' in e && cause && (type === 'DrizzleQueryError' || /^Failed query/.test(String(e.message)))) {
    return { ...cause, query };
  }
  if (type === 'DrizzleQueryError') return { type, message: 'query failed', ...(query ? { query } : {}) };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = safeMessage(typeof e.message === 'string' ? e.message : '', code);
  const stackLines = typeof e.stack === 'string' ? e.stack.split('\n').filter((line) => /^\s+at /.test(line)) : [];
  const names = Object.fromEntries((['constraint', 'table', 'column'] as const).flatMap((k) => (text(e[k]) ? [[k, text(e[k])]] : [])));
  return {
    type,
    ...(code ? { code } : {}),
    message,
    ...(query ? { query } : {}),
    ...names,
    ...(stackLines.length ? { stack: [`${type}: ${message}`, ...stackLines].join('\n') } : {}),
    ...(cause ? { cause } : {}),
  };
}

/** Structured JSON logs on stdout (or `destination`). Secrets never reach a log: the redact list is the last safety net. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'socle' },
    // `{ err }` anywhere is logged without the data a database error carries.
    serializers: { err: (err: unknown) => loggableError(err) },
    hooks: {
      // `logger.error(err)` would take the error's own message (a failed query's parameters) as the log's.
      logMethod(args, method) {
        const [first, ...rest] = args as unknown[];
        if (!(first instanceof Error)) return method.apply(this, args);
        const message = typeof rest[0] === 'string' ? rest : [loggableError(first).message, ...rest];
        return method.apply(this, [{ err: first }, ...message] as Parameters<typeof method>);
      },
    },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.query.ltik', 'res.headers["set-cookie"]', 'ltiKey', '*.ltiKey', '*.secret', '*.token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A URL (or path with a query) with the values of its `ltik` (a bearer secret of LTI sessions) and `code` (a wallet's authorization code) parameters redacted. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:ltik|code)=)[^&#]*/gi, '$1[redacted]');
}
