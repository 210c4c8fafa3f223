import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stdout (or `destination`). Secrets never reach a log: the redact list is the last safety net. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'socle' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.query.ltik', 'res.headers["set-cookie"]', 'ltiKey', '*.ltiKey', '*.secret', '*.token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A URL (or path with a query) with the value of its `ltik` parameter, a bearer secret of LTI sessions, redacted. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]ltik=)[^&#]*/gi, '$1[redacted]');
}
