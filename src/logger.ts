import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stdout. Secrets never reach a log: the redact list is the last safety net. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'socle' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'ltiKey', '*.ltiKey', '*.secret', '*.token'],
      censor: '[redacted]',
    },
  });
}
